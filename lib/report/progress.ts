import type { UnitLabel, UnitResult } from "../run/results.js";
import type { Timings } from "../store/timings.js";
import { remainingMs, unitEstimate } from "./eta.js";

/** One running experiment as progress shows it, at one moment. */
export interface ProgressRow {
  name: string;
  /** Units finished (run, failed or found in the store) of `total` (conditions × replicates). */
  done: number;
  total: number;
  failed: number;
  /** Units on a worker right now. */
  running: number;
  /** Since its first unit started running. */
  elapsedMs: number;
  /** Undefined while nothing is known: no earlier build, no unit finished yet. */
  etaMs?: number;
}

interface Tracked {
  total: number;
  done: number;
  failed: number;
  /** Undefined until a unit misses the store: only experiments that run are shown. */
  startedAt?: number;
  /** `condition/replicate` -> when it started. */
  running: Map<string, number>;
  /** Most units seen running at once: how many lanes the experiment gets. */
  lanes: number;
  ran: { count: number; totalMs: number };
}

const unitId = (u: UnitLabel) => `${u.condition}/${u.replicate}`;

/**
 * What is running and how far along it is, fed by execution events with the time they
 * happened. Holds no clock and writes nothing: both reporters draw from `rows(now)`.
 */
export class Progress {
  private readonly experiments = new Map<string, Tracked>();

  /** `history`: mean unit durations from earlier builds, for ETAs before a unit finishes. */
  constructor(private readonly history: Timings) {}

  private get(name: string, total = 0): Tracked {
    let t = this.experiments.get(name);
    if (!t) this.experiments.set(name, (t = { total, done: 0, failed: 0, running: new Map(), lanes: 0, ran: { count: 0, totalMs: 0 } }));
    return t;
  }

  started(name: string, units: number, now: number): void {
    const t = this.get(name, units);
    t.total = units;
    t.startedAt ??= now;
  }

  unitStarted(name: string, unit: UnitLabel, now: number): void {
    const t = this.get(name);
    t.startedAt ??= now;
    t.running.set(unitId(unit), now);
    t.lanes = Math.max(t.lanes, t.running.size);
  }

  unitFinished(name: string, unit: UnitResult, done: number, total: number): void {
    const t = this.get(name, total);
    t.done = done;
    t.total = total;
    t.running.delete(unitId(unit));
    if (unit.outcome.status === "failed") t.failed++;
    if (!unit.cached) {
      t.ran.count++;
      t.ran.totalMs += unit.outcome.status === "ok" ? unit.outcome.record.durationMs : unit.outcome.durationMs;
    }
  }

  finished(name: string): void {
    this.experiments.delete(name);
  }

  /** Running experiments, in the order they started. */
  rows(now: number): ProgressRow[] {
    const rows: ProgressRow[] = [];
    for (const [name, t] of this.experiments) {
      if (t.startedAt === undefined) continue;
      const running = [...t.running.values()].map((at) => now - at);
      // With every unit done, what is left is storing the result: no time worth estimating.
      const etaMs =
        t.done >= t.total
          ? undefined
          : remainingMs({ unitMs: unitEstimate(this.history[name], t.ran), queued: Math.max(0, t.total - t.done - running.length), running, lanes: t.lanes });
      rows.push({ name, done: t.done, total: t.total, failed: t.failed, running: running.length, elapsedMs: now - t.startedAt, etaMs });
    }
    return rows.sort((a, b) => b.elapsedMs - a.elapsedMs);
  }

  /** Whether anything is running: the live region and the heartbeat have something to show. */
  get active(): boolean {
    for (const t of this.experiments.values()) if (t.startedAt !== undefined) return true;
    return false;
  }
}
