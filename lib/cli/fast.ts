import { writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { seconds } from "../report/style.js";
import { replayable, stampPath, toolIdentity, type Context } from "../stamp/stamp.js";

// Not performance.now(): its first use loads perf_hooks, ~3 ms of an answer's ~60.
const started = Date.now();

/** Commands whose up-to-date answer can be stamped: they change nothing when all is fresh. */
const STAMPED = new Set(["build", "check"]);

export interface FastAnswer {
  /** Set when the command was answered from a stamp. */
  exitCode?: number;
  /** With exitCode: whether the answer is written out, so that the process may exit at once. */
  flushed?: boolean;
  /**
   * Set when the command may be stamped: run it traced (see entry.ts) with this context. Set
   * without `command` for watch mode, which is not traced but may leave check's stamp.
   */
  context?: Context;
  /** The stampable command (`build` or `check`), with `context`. */
  command?: string;
}

/** Where the command word is: `-C <dir>` (or --cwd) is the one option that may come before it. */
function commandIndex(argv: string[]): number {
  return argv[0] === "-C" || argv[0] === "--cwd" ? 2 : argv[0]?.startsWith("--cwd=") ? 1 : 0;
}

/** The command word of a command line (`build`, `check`, ...), if any. */
export function commandName(argv: string[]): string | undefined {
  return argv[commandIndex(argv)];
}

/**
 * The first thing the CLI does, from a CommonJS bundle that loads nothing else: `build` and
 * `check` on a workspace that has not changed since the last identical command are answered
 * from that command's stamp, a few thousand stats instead of loading the engine and rehashing
 * the workspace. CRYSTALLIZE_NO_STAMP=1 turns stamps off.
 */
export function answerFromStamp(argv: string[]): FastAnswer {
  const answer = fromStamp(argv);
  if (answer.exitCode === undefined) ignoreClosedReaders();
  return answer;
}

function fromStamp(argv: string[]): FastAnswer {
  const at = commandIndex(argv);
  const start = at === 2 ? argv[1] : at === 1 ? argv[0].slice("--cwd=".length) : ".";
  const command = argv[at];
  const watching = command === "watch" || (command === "build" && argv.includes("--watch"));
  // --json prints durations and a log path: never stamped.
  if (!(STAMPED.has(command) || watching) || start === undefined || argv.includes("--json") || process.env.CRYSTALLIZE_NO_STAMP) return {};
  // This bundle is rewritten by every build of the tool: its signature stands for the build.
  const context: Context = { argv, cwd: process.cwd(), tool: toolIdentity([join(__dirname, "fast.cjs")]) };
  // Watch mode never ends, so it is never stamped; its builds may leave check's (prestamp.ts).
  if (watching) return { context };
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const answer = replayable(stampPath(dir, command), context);
    if (answer !== undefined) return { exitCode: answer.exitCode, flushed: writeAnswer(answer.stdout.replace("\0", seconds(Date.now() - started))) };
    if (dirname(dir) === dir) return { context, command };
  }
}

/**
 * Writes an answer to stdout as it is, without creating `process.stdout` (that loads Node's
 * net, stream and tty modules, ~7 ms of an answer). True when it is all written; false when
 * stdout would block and the rest went to the stream, which writes it before the process ends.
 * A reader that went away (`| head -c0`) or a closed stdout take nothing, as the engine's
 * output does (ignoreClosedReaders).
 */
function writeAnswer(text: string): boolean {
  const bytes = Buffer.from(text);
  let at = 0;
  try {
    while (at < bytes.length) at += writeSync(1, bytes, at);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EPIPE" || code === "EBADF") return true;
    if (code !== "EAGAIN") throw err;
    ignoreClosedReaders();
    process.stdout.write(bytes.subarray(at));
    return false;
  }
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
