import type { Context } from "../stamp/stamp.js";

/**
 * The CLI once no stamp answered (see fast.ts). A command that may be stamped (`context` and
 * `command` are set) runs traced, and is stamped when it turns out to have changed nothing.
 */
export async function run(argv: string[], context?: Context, command?: string): Promise<number> {
  if (!context) return (await import("./main.js")).main(argv);
  // Loaded only here: tracing needs child_process, which a replay does without.
  const { useContext, startTrace, stampFromTrace } = await import("../stamp/trace.js");
  useContext(context);
  // Watch mode (no command) is not traced as a whole: it never ends.
  if (!command) return (await import("./main.js")).main(argv);
  const trace = startTrace();
  const code = await (await import("./main.js")).main(argv);
  stampFromTrace(trace, context, command, code);
  return code;
}
