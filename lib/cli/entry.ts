import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { seconds } from "../report/style.js";
import { environmentDigest, isInside, replayable, stampPath, terminalState, toolIdentity, writeStamp, type Context } from "../stamp/stamp.js";
import type { Trace } from "../stamp/trace.js";

const started = performance.now();

/** Commands whose up-to-date answer can be stamped: they change nothing when all is fresh. */
const STAMPED = new Set(["build", "check"]);

/**
 * The CLI's entry. `build` and `check` on a workspace that has not changed since the last
 * identical command are answered from that command's stamp: a few thousand stats instead of
 * loading the engine and rehashing the workspace. Any other run loads the engine; a stampable
 * one is traced on the way, and stamped when it turns out to have changed nothing.
 * CRYSTALLIZE_NO_STAMP=1 turns stamps off.
 */
export async function run(argv: string[]): Promise<number> {
  ignoreClosedReaders();
  const command = argv[0];
  // --json prints durations and a log path, and --watch never ends: neither is stamped.
  const stampable = STAMPED.has(command) && !argv.includes("--json") && !argv.includes("--watch") && !process.env.CRYSTALLIZE_NO_STAMP;
  if (!stampable) return (await import("./main.js")).main(argv);
  const context: Context = { argv, cwd: process.cwd(), env: environmentDigest(), tool: toolIdentity([fileURLToPath(import.meta.url)]), terminal: terminalState() };
  for (let dir = context.cwd; ; dir = dirname(dir)) {
    const stdout = replayable(stampPath(dir, command), context);
    if (stdout !== undefined) {
      process.stdout.write(stdout.replace("\0", seconds(performance.now() - started)));
      return 0;
    }
    if (dirname(dir) === dir) break;
  }
  // Loaded only here: tracing needs child_process, which costs a replay a tenth of its time.
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

/**
 * `crystallize status | head`: when the reader goes away, what is left to print is dropped and
 * the command finishes its work (a build still writes its lock), instead of dying on EPIPE.
 */
function ignoreClosedReaders(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    });
  }
}
