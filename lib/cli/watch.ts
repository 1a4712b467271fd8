import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { ConsoleReporter } from "../report/console.js";
import { makePaint, useColor } from "../report/style.js";
import { watchWorkspace } from "../watch/watch.js";
import { EXIT } from "./commands.js";
import { formatForTerminal } from "./errors.js";

/** `crystallize watch` / `build --watch`: build, then rebuild what changes make stale. */
export async function watchCommand(targets: string[], flags: { cwd: string; jobs?: number }, argv: string[]): Promise<number> {
  const err = process.stderr;
  const paint = makePaint(useColor(err));
  const controller = new AbortController();
  const stop = () => {
    err.write("\nstopping: finishing cleanly\n");
    controller.abort();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await watchWorkspace({
      cwd: flags.cwd,
      targets,
      jobs: flags.jobs,
      events: new ConsoleReporter(err, paint),
      signal: controller.signal,
      onChange: (changed) => {
        const shown = changed.slice(0, 3).join(", ") + (changed.length > 3 ? ` (+${changed.length - 3} more)` : "");
        err.write(`${paint("cyan", "change")} ${shown}\n`);
      },
      onRestart: (stale) => err.write(`${paint("yellow", "restart")} ${stale.join(", ")}: inputs changed during the build\n`),
      onCycle: ({ outcome, error }) => {
        if (error) {
          if (error instanceof CrystallizeError || error instanceof AggregateConfigError) err.write(formatForTerminal(error, argv) + "\n");
          else err.write(`crystallize: internal error (please report it): ${(error as Error)?.stack ?? String(error)}\n`);
        } else if (outcome && !outcome.interrupted) {
          const count = (s: string) => outcome.experiments.filter((e) => e.status === s).length;
          const parts = [`${count("built")} built`, `${count("cached")} up to date`];
          if (count("failed")) parts.push(`${count("failed")} failed`);
          if (count("skipped")) parts.push(`${count("skipped")} skipped`);
          const verdict = outcome.ok ? paint("green", "ok") : count("failed") ? paint("red", "failed") : paint("yellow", "restarting");
          err.write(`${verdict}: ${parts.join(", ")}\n`);
        }
        if (!controller.signal.aborted) err.write(paint("dim", "watching for changes (Ctrl-C to stop)") + "\n");
      },
    });
    return EXIT.interrupted;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
