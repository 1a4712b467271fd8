import type { ExperimentResult, UnitLabel, UnitResult } from "../run/results.js";
import type { Timings } from "../store/timings.js";
import { cleanLogText, clockTime, finishedLines, logLine, progressLine, stamp, startedLine, unitFailedLine, warnLine } from "./lines.js";
import { Progress } from "./progress.js";
import type { Reporter } from "./reporter.js";
import { makePaint } from "./style.js";

export interface PlainOptions {
  /** Mean unit durations from earlier builds, for the ETA of progress lines. */
  history: Timings;
  /** Milliseconds since the epoch; tests pass their own. */
  now?: () => number;
  /**
   * After this long with no line while something runs, a progress line per running experiment:
   * a long unit still shows signs of life, and CI runners that kill silent jobs see output.
   */
  heartbeatMs?: number;
}

/**
 * Progress for logs: one timestamped line per event and not one escape code. An experiment of
 * four or more units also reports at each quarter of its units, which keeps the output the same
 * from run to run for a given build; the heartbeat is the only line that depends on speed.
 */
export class PlainReporter implements Reporter {
  private readonly paint = makePaint(false);
  private readonly progress: Progress;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private heartbeat?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly out: NodeJS.WritableStream, o: PlainOptions) {
    this.progress = new Progress(o.history);
    this.now = o.now ?? Date.now;
    this.heartbeatMs = o.heartbeatMs ?? 30_000;
  }

  private write(text: string): void {
    this.out.write(stamp(clockTime(new Date(this.now())), text) + "\n");
    this.armHeartbeat();
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeat);
    if (this.closed || !this.progress.active) return;
    this.heartbeat = setTimeout(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private beat(): void {
    const rows = this.progress.rows(this.now());
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const row of rows) this.write(`· ${progressLine(row, this.paint, width)}`);
  }

  experimentStarted(name: string, units: number): void {
    this.progress.started(name, units, this.now());
    this.write(startedLine(name, units, this.paint));
  }

  unitStarted(name: string, unit: UnitLabel): void {
    this.progress.unitStarted(name, unit, this.now());
  }

  unitFinished(name: string, unit: UnitResult, done: number, total: number): void {
    this.progress.unitFinished(name, unit, done, total);
    const failed = unitFailedLine(name, unit, done, total, this.paint);
    if (failed) this.write(failed);
    const quarter = (n: number) => Math.floor((n * 4) / total);
    if (total >= 4 && done < total && quarter(done) > quarter(done - 1)) {
      const row = this.progress.rows(this.now()).find((r) => r.name === name);
      if (row) this.write(`· ${progressLine(row, this.paint)}`);
    }
  }

  experimentFinished(result: ExperimentResult): void {
    this.progress.finished(result.name);
    const lines = finishedLines(result, this.paint);
    if (lines.length) this.write(lines.join("\n"));
  }

  log(experiment: string, line: string): void {
    this.write(logLine(experiment, cleanLogText(line, false), this.paint));
  }

  warn(experiment: string, message: string): void {
    this.write(warnLine(experiment, message, this.paint));
  }

  note(text: string): void {
    this.write(text);
  }

  interrupt(message: string): void {
    this.write(message);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.heartbeat);
  }
}
