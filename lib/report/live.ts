import type { WriteStream } from "node:tty";
import type { ExperimentResult, UnitLabel, UnitResult } from "../run/results.js";
import type { Timings } from "../store/timings.js";
import { cleanLogText, finishedLines, logLine, unitFailedLine, warnLine } from "./lines.js";
import { renderRegion, visibleWidth } from "./live-view.js";
import { Progress } from "./progress.js";
import type { Reporter } from "./reporter.js";
import { makePaint } from "./style.js";

/** At most ten frames a second: smooth enough for a clock, cheap over ssh. */
const FRAME_MS = 100;
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
// Synchronized output: terminals that know it show each frame whole; others ignore it.
const FRAME_START = "\x1b[?2026h";
const FRAME_END = "\x1b[?2026l";

/**
 * Progress in a terminal: permanent lines (finished experiments, warnings, step output) scroll
 * above a region at the bottom that is redrawn in place, one line per running experiment.
 * Lines arriving between frames are held and written with the next frame, so a chatty step
 * costs one write per frame, not a redraw per line.
 */
export class LiveReporter implements Reporter {
  private readonly paint = makePaint(true);
  private readonly progress: Progress;
  private pending: string[] = [];
  /** The region on screen, and the columns each of its lines takes. */
  private drawn: string[] = [];
  private drawnWidths: number[] = [];
  private cursorHidden = false;
  private timer?: NodeJS.Timeout;
  private lastFrame = 0;
  /** False once interrupted or closed: lines are then written at once, without a region. */
  private live = true;

  constructor(private readonly out: WriteStream, history: Timings) {
    this.progress = new Progress(history);
    out.on("resize", this.onResize);
    process.on("exit", this.onExit);
  }

  experimentStarted(name: string, units: number): void {
    this.progress.started(name, units, Date.now());
    this.schedule();
  }

  unitStarted(name: string, unit: UnitLabel): void {
    this.progress.unitStarted(name, unit, Date.now());
    this.schedule();
  }

  unitFinished(name: string, unit: UnitResult, done: number, total: number): void {
    this.progress.unitFinished(name, unit, done, total);
    const failed = unitFailedLine(name, unit, done, total, this.paint);
    if (failed) this.print(failed);
    this.schedule();
  }

  experimentFinished(result: ExperimentResult): void {
    this.progress.finished(result.name);
    for (const line of finishedLines(result, this.paint)) this.print(line);
    this.schedule();
  }

  log(experiment: string, line: string): void {
    this.print(logLine(experiment, cleanLogText(line, true), this.paint));
  }

  warn(experiment: string, message: string): void {
    this.print(warnLine(experiment, message, this.paint));
  }

  note(text: string): void {
    this.print(text);
  }

  interrupt(message: string): void {
    this.pending.push(message);
    this.stop();
  }

  close(): void {
    this.stop();
    this.out.off("resize", this.onResize);
    process.off("exit", this.onExit);
  }

  private stop(): void {
    if (!this.live) return;
    this.live = false;
    clearTimeout(this.timer);
    this.draw([]);
  }

  private print(line: string): void {
    if (!this.live) {
      this.out.write(line + "\n");
      return;
    }
    this.pending.push(line);
    this.schedule();
  }

  private schedule(): void {
    if (!this.live || this.timer) return;
    this.timer = setTimeout(() => this.frame(), Math.max(0, this.lastFrame + FRAME_MS - Date.now()));
    this.timer.unref();
  }

  private frame(force = false): void {
    this.timer = undefined;
    const now = Date.now();
    this.lastFrame = now;
    const region = renderRegion(this.progress.rows(now), { columns: this.out.columns || 80, rows: this.out.rows || 24 }, this.paint);
    const same = region.length === this.drawn.length && region.every((l, i) => l === this.drawn[i]);
    if (force || this.pending.length > 0 || !same) this.draw(region);
    // The clock on each line moves on its own: keep ticking while anything runs.
    if (this.progress.active) this.schedule();
  }

  /** Erases the region, writes the pending lines and the new region, in one write. */
  private draw(region: string[]): void {
    let text = this.erase() + this.pending.map((l) => l + "\n").join("") + region.map((l) => l + "\n").join("");
    this.pending = [];
    if (region.length > 0 && !this.cursorHidden) {
      text = HIDE_CURSOR + text;
      this.cursorHidden = true;
    } else if (region.length === 0 && this.cursorHidden) {
      text += SHOW_CURSOR;
      this.cursorHidden = false;
    }
    if (text) this.out.write(FRAME_START + text + FRAME_END);
    this.drawn = region;
    this.drawnWidths = region.map(visibleWidth);
  }

  /**
   * Back to the region's first row and clear to the end of the screen. Rows are counted at the
   * current width: after a terminal narrows, it rewraps a line drawn wider into several rows.
   */
  private erase(): string {
    if (this.drawn.length === 0) return "";
    const columns = this.out.columns || 80;
    const rows = this.drawnWidths.reduce((n, w) => n + Math.max(1, Math.ceil(w / columns)), 0);
    return `\x1b[${rows}A\r\x1b[J`;
  }

  private readonly onResize = () => {
    if (!this.live) return;
    clearTimeout(this.timer);
    this.frame(true);
  };

  /**
   * process.exit() or a crash: the terminal gets its cursor back. The region stays: after an
   * uncaught exception Node has already printed the error below it, and erasing upwards from
   * there would take the error's last lines instead.
   */
  private readonly onExit = () => {
    if (!this.live) return;
    this.out.write(this.pending.map((l) => l + "\n").join("") + (this.cursorHidden ? SHOW_CURSOR : ""));
  };
}
