import { join } from "node:path";
import { isInside, stampPath, writeStamp, type Context } from "../stamp/stamp.js";
import type { Trace } from "../stamp/trace.js";

/**
 * The CLI once no stamp answered (see fast.ts). A command that may be stamped (`context` and
 * `command` are set) runs traced, and is stamped when it turns out to have changed nothing.
 */
export async function run(argv: string[], context?: Context, command?: string): Promise<number> {
  if (!context || !command) return (await import("./main.js")).main(argv);
  // Loaded only here: tracing needs child_process, which a replay does without.
  const trace = (await import("../stamp/trace.js")).startTrace();
  const code = await (await import("./main.js")).main(argv);
  if (code === 0) {
    try {
      stamp(trace, context, command);
    } catch {
      // A stamp is only ever a shortcut: failing to write one changes no answer.
    }
  }
  return code;
}

function stamp(trace: Trace, context: Context, command: string): void {
  const offer = trace.offer;
  if (!offer || trace.spawned || trace.stderr !== "") return;
  const state = join(offer.root, ".crystallize");
  for (const path of trace.writes) if (!isInside(path, state)) return;
  const reads = new Map([...trace.reads].filter(([path]) => !isInside(path, state)));
  let stdout = trace.stdout;
  if (offer.elapsed !== undefined) {
    const at = stdout.lastIndexOf(offer.elapsed);
    if (at < 0) return;
    stdout = stdout.slice(0, at) + "\0" + stdout.slice(at + offer.elapsed.length);
  }
  writeStamp(stampPath(offer.root, command), context, { reads, startedAt: trace.startedAt }, stdout);
}
