import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { makePaint, useColor } from "../report/style.js";
import { watchWorkspace } from "../watch/watch.js";
import { findRoot } from "../workspace/workspace.js";
import { EXIT } from "./commands.js";
import { formatForTerminal } from "./errors.js";
import { startReporting } from "./reporting.js";

/**
 * `crystallize watch` / `build --watch`: build, then rebuild what changes make stale. One log
 * file for the session: a log per cycle would let a morning of saves prune every other log.
 */
export async function watchCommand(targets: string[], flags: { cwd: string; jobs?: number }, argv: string[]): Promise<number> {
  const paint = makePaint(useColor(process.stderr));
  const reporting = startReporting(findRoot(flags.cwd), "watch");
  const controller = new AbortController();
  const stop = () => {
    reporting.interrupt("stopping: finishing cleanly");
    controller.abort();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await watchWorkspace({
      cwd: flags.cwd,
      targets,
      jobs: flags.jobs,
      events: reporting.events,
      signal: controller.signal,
      onChange: (changed) => {
        const shown = changed.slice(0, 3).join(", ") + (changed.length > 3 ? ` (+${changed.length - 3} more)` : "");
        reporting.note(`${paint("cyan", "change")} ${shown}`);
      },
      onRestart: (stale) => reporting.note(`${paint("yellow", "restart")} ${stale.join(", ")}: inputs changed during the build`),
      onCycle: ({ outcome, error }) => {
        if (error) {
          if (error instanceof CrystallizeError || error instanceof AggregateConfigError) reporting.note(formatForTerminal(error, argv));
          else reporting.note(`crystallize: internal error (please report it): ${(error as Error)?.stack ?? String(error)}`);
        } else if (outcome && !outcome.interrupted) {
          const count = (s: string) => outcome.experiments.filter((e) => e.status === s).length;
          const parts = [`${count("built")} built`, `${count("cached")} up to date`];
          if (count("failed")) parts.push(`${count("failed")} failed`);
          if (count("skipped")) parts.push(`${count("skipped")} skipped`);
          const verdict = outcome.ok ? paint("green", "ok") : count("failed") ? paint("red", "failed") : paint("yellow", "restarting");
          reporting.note(`${verdict}: ${parts.join(", ")}`);
        }
        const log = reporting.logWorthShowing();
        if (log) reporting.note(paint("dim", `log: ${log}`));
        if (!controller.signal.aborted) reporting.note(paint("dim", "watching for changes (Ctrl-C to stop)"));
      },
    });
    return EXIT.interrupted;
  } finally {
    reporting.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
