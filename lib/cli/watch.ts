import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { makePaint, useColor } from "../report/style.js";
import { watchWorkspace } from "../watch/watch.js";
import { findRoot } from "../workspace/workspace.js";
import { EXIT } from "./commands.js";
import { formatForTerminal } from "./errors.js";
import { interruptible, startReporting, tally } from "./reporting.js";

/**
 * `crystallize watch` / `build --watch`: build, then rebuild what changes make stale. One log
 * file for the session: a log per cycle would let a morning of saves prune every other log.
 */
export async function watchCommand(targets: string[], flags: { cwd: string; jobs?: number }, argv: string[]): Promise<number> {
  const paint = makePaint(useColor(process.stderr));
  const reporting = startReporting(findRoot(flags.cwd), "watch");
  const interrupt = interruptible(reporting, "stopping: finishing cleanly");
  try {
    await watchWorkspace({
      cwd: flags.cwd,
      targets,
      jobs: flags.jobs,
      events: reporting.events,
      signal: interrupt.signal,
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
          const failed = outcome.experiments.some((e) => e.status === "failed");
          const verdict = outcome.ok ? paint("green", "ok") : failed ? paint("red", "failed") : paint("yellow", "restarting");
          reporting.note(`${verdict}: ${tally(outcome.experiments)}`);
        }
        const log = reporting.logWorthShowing();
        if (log) reporting.note(paint("dim", `log: ${log}`));
        if (!interrupt.signal.aborted) reporting.note(paint("dim", "watching for changes (Ctrl-C to stop)"));
      },
      // As after `crystallize build`: the commit that follows a build runs check in its hook.
      afterBuild: async (outcome, statCache) => {
        if (outcome.ok && outcome.lockWritten) await (await import("./prestamp.js")).prestampCheck(outcome.root, statCache);
      },
    });
    return EXIT.interrupted;
  } finally {
    reporting.close();
    interrupt.dispose();
  }
}
