import type { WriteStream } from "node:tty";
import type { ExecutionEvents } from "../run/results.js";
import type { Timings } from "../store/timings.js";
import { LiveReporter } from "./live.js";
import { PlainReporter } from "./plain.js";
import { useColor } from "./style.js";

/** Build progress for a person or a CI log. */
export interface Reporter extends ExecutionEvents {
  /** A line of the tool's own (waiting for the workspace, interrupted, a watch cycle's end). */
  note(text: string): void;
  /**
   * Ctrl-C: `message` is printed and, in a terminal, the live region goes and the cursor comes
   * back now, not when the build has wound down: a second Ctrl-C kills the process outright.
   */
  interrupt(message: string): void;
  /** Prints what is pending and gives the terminal back as it was. Safe to call twice. */
  close(): void;
}

/**
 * Live redrawing where colour is allowed (see useColor): a terminal that reports its width,
 * no CI, no NO_COLOR. Redrawing at width 0 never ends, and CI logs want plain lines. Decided on
 * the stream progress goes to: with stdout redirected to a file, the terminal still shows stderr.
 */
export function wantsLive(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return useColor(stream, env);
}

export function createReporter(stream: NodeJS.WriteStream, history: Timings): Reporter {
  return wantsLive(stream) ? new LiveReporter(stream as WriteStream, history) : new PlainReporter(stream, { history });
}

/** Every event goes to each target in turn: the reporter and the run's log file. */
export function fanOut(...targets: ExecutionEvents[]): ExecutionEvents {
  return {
    experimentStarted: (name, units) => targets.forEach((t) => t.experimentStarted(name, units)),
    unitStarted: (name, unit) => targets.forEach((t) => t.unitStarted(name, unit)),
    unitFinished: (name, unit, done, total) => targets.forEach((t) => t.unitFinished(name, unit, done, total)),
    experimentFinished: (result) => targets.forEach((t) => t.experimentFinished(result)),
    log: (experiment, line, unit) => targets.forEach((t) => t.log(experiment, line, unit)),
    warn: (experiment, message) => targets.forEach((t) => t.warn(experiment, message)),
  };
}
