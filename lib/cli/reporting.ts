import { join, relative } from "node:path";
import { STATE_DIR } from "../workspace/state.js";
import { createReporter, fanOut, type Reporter } from "../report/reporter.js";
import { RunLog } from "../report/run-log.js";
import { readTimings, TIMINGS_FILE } from "../store/timings.js";
import type { ExecutionEvents } from "../run/results.js";

/** Progress on stderr and the command's log file, fed by one set of events. */
export interface Reporting {
  events: ExecutionEvents;
  /** A line of the tool's own: shown like progress and kept in the log. */
  note(text: string): void;
  /** Ctrl-C: see Reporter.interrupt. */
  interrupt(message: string): void;
  /** The log's path, relative to the current folder, when a step printed or a unit failed since the last call. */
  logWorthShowing(): string | undefined;
  /** The log's path relative to the workspace root, as `--json` reports paths. */
  logPath(): string | undefined;
  /** Ends the live region and the log; `final` is the log's last line. */
  close(final?: string): void;
}

export function startReporting(root: string, command: string): Reporting {
  const state = join(root, STATE_DIR);
  const reporter: Reporter = createReporter(process.stderr, readTimings(join(state, TIMINGS_FILE)));
  const log = RunLog.open(join(state, "logs"), command, process.argv.slice(2));
  return {
    events: log ? fanOut(reporter, log) : reporter,
    note: (text) => {
      reporter.note(text);
      log?.write(text);
    },
    interrupt: (message) => {
      reporter.interrupt(message);
      log?.write(message);
    },
    logWorthShowing: () => (log?.takeNoteworthy() ? relative(process.cwd(), log.path) || log.path : undefined),
    logPath: () => log && relative(root, log.path),
    close: (final) => {
      reporter.close();
      if (final) log?.write(final);
      log?.close();
    },
  };
}

/**
 * Ctrl-C and SIGTERM for a command that runs work: say `message` (the live region would
 * otherwise hide why the output stops), then abort. `dispose` removes the handlers.
 */
export function interruptible(reporting: Reporting, message: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    reporting.interrupt(message);
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** `3 built, 2 up to date, 1 failed`: the counts a build ends with, zeros left out after `built`. */
export function tally(experiments: ReadonlyArray<{ status: string }>): string {
  const count = (s: string) => experiments.filter((e) => e.status === s).length;
  const parts = [`${count("built")} built`];
  if (count("cached")) parts.push(`${count("cached")} up to date`);
  if (count("failed")) parts.push(`${count("failed")} failed`);
  if (count("skipped")) parts.push(`${count("skipped")} skipped`);
  return parts.join(", ");
}
