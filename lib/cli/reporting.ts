import { join, relative } from "node:path";
import { STATE_DIR } from "../api/build.js";
import { createReporter, fanOut, type Reporter } from "../report/reporter.js";
import { RunLog } from "../report/run-log.js";
import { readTimings, TIMINGS_FILE } from "../store/timings.js";
import type { ExecutionEvents } from "../run/executor.js";

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
