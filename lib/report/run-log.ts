import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ExperimentResult, UnitLabel, UnitResult } from "../run/results.js";
import { cleanLogText, clockTime, stamp, stripEscapes, warnLine } from "./lines.js";
import { makePaint, seconds } from "./style.js";

/** Logs kept per workspace: older ones are removed when a new one starts. */
export const KEEP_LOGS = 20;

const plain = makePaint(false);

/**
 * `2025-05-01T10-03-04.123Z-build.log`: UTC, so that names sort in time order whatever the time
 * zone or daylight saving; no colons, which some file systems refuse.
 */
export function logFileName(at: Date, command: string): string {
  return `${at.toISOString().replace(/:/g, "-")}-${command}.log`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `2025-05-01 12:03:04 +02:00`: the day and offset that the entries' times of day belong to. */
export function localDateTime(at: Date): string {
  const offset = -at.getTimezoneOffset();
  const zone = `${offset < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${clockTime(at)} ${zone}`;
}

/** `10:03:04.123 text`, local time with milliseconds; continuation lines indented past it. */
export function logEntry(at: Date, text: string): string {
  return stamp(`${clockTime(at)}.${pad(at.getMilliseconds(), 3)}`, text) + "\n";
}

const unitName = (u: UnitLabel) => `${u.condition}/replicate_${u.replicate}`;

/** The final word on one experiment, for the log: every experiment gets one, fresh ones too. */
export function resultEntry(r: ExperimentResult): string {
  const units = `${r.units.length} unit${r.units.length === 1 ? "" : "s"}`;
  if (r.status === "built") return `✓ ${r.name} built v${r.version} in ${seconds(r.durationMs)}: ${units}, ${r.units.filter((u) => !u.cached).length} ran`;
  if (r.status === "cached") return `✓ ${r.name} up to date v${r.version}${r.view === "created" || r.view === "repaired" ? ` (${r.view === "created" ? "restored" : "repaired"} from the store)` : ""}`;
  if (r.status === "failed") return `✗ ${r.name} failed: ${r.units.filter((u) => u.outcome.status === "failed").length} of ${units}${r.skippedBecause ? `; ${r.skippedBecause}` : ""}`;
  return `- ${r.name} skipped${r.skippedBecause ? ` (${r.skippedBecause})` : ""}`;
}

/** Removes all but the newest `keep` logs (by name, which sorts by time). */
export function pruneLogs(dir: string, keep: number): void {
  const logs = readdirSync(dir).filter((f) => f.endsWith(".log")).sort();
  for (const f of logs.slice(0, Math.max(0, logs.length - keep))) rmSync(join(dir, f), { force: true });
}

/**
 * A command's log under `.crystallize/logs/`: every step output line with its experiment,
 * condition and replicate, warnings, failures with their stacks, and how each experiment
 * ended. Each entry is written straight to the file as it happens, so a crash keeps all that
 * came before it. Failing to write never fails the build: the log just stops.
 */
export class RunLog {
  private fd: number | undefined;
  private noteworthy = false;

  private constructor(readonly path: string, fd: number, private readonly now: () => Date) {
    this.fd = fd;
  }

  /** Creates the next log in `dir`, pruning old ones; undefined if the folder is not writable. */
  static open(dir: string, command: string, args: string[], now: () => Date = () => new Date()): RunLog | undefined {
    try {
      mkdirSync(dir, { recursive: true });
      const at = now();
      const base = logFileName(at, command);
      for (let n = 1; ; n++) {
        const path = join(dir, n === 1 ? base : base.replace(/\.log$/, `-${n}.log`));
        try {
          const log = new RunLog(path, openSync(path, "wx"), now);
          pruneLogs(dir, KEEP_LOGS);
          log.write(`crystallize ${args.join(" ")}, started ${localDateTime(at)}`);
          return log;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      }
    } catch {
      return undefined;
    }
  }

  /** Whether a step printed something or a unit failed since the last call: worth pointing at. */
  takeNoteworthy(): boolean {
    const was = this.noteworthy;
    this.noteworthy = false;
    return was;
  }

  write(text: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, logEntry(this.now(), stripEscapes(text)));
    } catch {
      this.close();
    }
  }

  experimentStarted(name: string, units: number): void {
    this.write(`▸ ${name}: ${units} unit${units === 1 ? "" : "s"}`);
  }

  unitStarted(): void {}

  unitFinished(name: string, unit: UnitResult): void {
    if (unit.outcome.status !== "failed") return;
    this.noteworthy = true;
    const e = unit.outcome.error;
    this.write(`✗ ${name} ${unitName(unit)} failed: ${e.name}: ${e.message}${e.stack ? "\n" + e.stack : ""}`);
  }

  experimentFinished(result: ExperimentResult): void {
    this.write(resultEntry(result));
  }

  log(experiment: string, line: string, unit?: UnitLabel): void {
    this.noteworthy = true;
    this.write(`[${experiment}${unit ? " " + unitName(unit) : ""}] ${cleanLogText(line, false)}`);
  }

  warn(experiment: string, message: string): void {
    this.write(warnLine(experiment, message, plain));
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Closing can only fail on a descriptor already gone: nothing left to save.
    }
  }
}
