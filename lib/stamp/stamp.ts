import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { STATE_DIR } from "../workspace/state.js";
import { Mixer } from "./hash.js";
import { FOLLOW_MARK, isDirectory, mixCurrent, mixRecorded, newestTime, nodeBinding, racyWindowMs, signatureOf, type Signature } from "./signature.js";

/** The stamp format this build writes and reads (4: signatures hashed in parts, see PART). */
const FORMAT = 4;

/**
 * A stamp vouches for one command line's answer: "run exactly like this, in this folder, with
 * these environment variables and this build of the tool, while every path listed still has
 * the same signature, and it prints this and exits with this code". It is written only after a
 * run that changed nothing (see `stampFromTrace` in trace.ts), and answered from without
 * loading the engine.
 * Stored as `.crystallize/stamps/<command>`: this header as one JSON line, then one path a line
 * (marked `=` when its signature follows links, see Signature).
 */
export interface StampHeader {
  /** Format of the file; a stamp of another format is ignored. */
  format: typeof FORMAT;
  /** The command line after `crystallize`, exactly. */
  argv: string[];
  /** The folder the command ran in. */
  cwd: string;
  /**
   * The environment variables the run read, sorted; null when it listed them all. Variables it
   * did not read cannot have changed its answer: a git hook sets a new GIT_AUTHOR_DATE for
   * every commit, which voided every stamp while the whole environment counted.
   */
  envNames: string[] | null;
  /** A hash of those variables' values and of ALWAYS_COUNTED's (see environmentDigest). */
  env: string;
  /** The tool's build and the Node.js that ran it (see toolIdentity). */
  tool: string;
  /**
   * Whether stdout and stderr were terminals (see terminalState), which decides colour and live
   * progress; null when the run never asked, so its answer reads the same anywhere.
   */
  terminal: string | null;
  /**
   * Hashes of the listed paths' signatures as they were when first consulted, PART paths to a
   * hash, in order: a command after an edit stops looking at the first part that differs.
   */
  signatures: string[];
  /** What the command printed on stdout; NUL marks where its elapsed time goes. */
  stdout: string;
  /** Its exit code: 0, or 1 for a `check` that found the lock out of date. */
  exitCode: number;
}

/** What a stamp replays. */
export type Answer = Pick<StampHeader, "stdout" | "exitCode">;

/** A stamp's path: tool state, never committed. */
export function stampPath(root: string, command: string): string {
  return join(root, STATE_DIR, "stamps", command);
}

/**
 * The engine's own entries in its state folder: caches keyed by what they were computed from,
 * run logs, the workspace lock and the stamps. They are no input to any answer, so a stamp
 * neither lists what is read there nor refuses a run that wrote there. Anything else in the
 * folder (a data folder a user put there, say) counts like any other path, and an entry this
 * list lacks only ever costs a stamp, never a wrong answer.
 */
const TOOL_STATE = ["stat-cache", "stat-cache.json", "logs", "stamps", "build.lock", "timings.json", "python-env.json"];

/** Whether a path is the engine's state at `root` (TOOL_STATE); built once for the thousands of paths a run consults. */
export function toolStateTest(root: string): (path: string) => boolean {
  const state = join(root, STATE_DIR);
  const entries = TOOL_STATE.map((entry) => join(state, entry));
  // Atomic writes go through `.<name>.tmp-...` beside the file (lib/store/atomic.ts).
  const temporaries = TOOL_STATE.map((entry) => join(state, `.${entry}.tmp-`));
  return (path) => {
    if (!path.startsWith(state)) return false;
    if (path === state) return true;
    return entries.some((at) => path === at || (path.startsWith(at) && path[at.length] === sep)) || temporaries.some((t) => path.startsWith(t));
  };
}

/**
 * Variables that count whether or not the run read them through `process.env`: Node and the
 * system libraries read them natively (the home and temporary folders, locale, time zone,
 * Node's own options), and the tool's own settings, esbuild's included (a process that
 * started esbuild's service earlier, as a build before its check does, read them then).
 */
const ALWAYS_COUNTED = /^(NODE_|CRYSTALLIZE_|LC_|ESBUILD_)|^(HOME|USERPROFILE|TMPDIR|TMP|TEMP|TZ|LANG)$/;

/** Whether a variable counts in every stamp, read or not (see ALWAYS_COUNTED). */
export function alwaysCounted(name: string): boolean {
  return ALWAYS_COUNTED.test(name);
}

/** A hash of the named variables' values (all of them for null), with ALWAYS_COUNTED's. */
export function environmentDigest(names: string[] | null, env: NodeJS.ProcessEnv = process.env): string {
  const counted = new Set(names ?? Object.keys(env));
  for (const name of Object.keys(env)) if (ALWAYS_COUNTED.test(name)) counted.add(name);
  const m = new Mixer();
  for (const name of [...counted].sort()) (m.text(name), m.text(env[name] ?? "\0unset"));
  return m.digest();
}

/** The files of this build of the tool (a rebuild or reinstall rewrites them) and Node's version. */
export function toolIdentity(files: string[]): string {
  return [process.version, process.arch, ...files.map(signatureOf)].join(" ");
}

/**
 * Whether stdout and stderr are terminals and have a width: `true:true false:false`. A stream
 * that is no terminal is told by Node's tty binding, as Node itself tells it, without creating
 * `process.stdout`: that loads Node's net, stream and tty modules, ~7 ms of an answer from a
 * stamp. A terminal's stream is created for its width (the answer is written to it anyway).
 */
export function terminalState(): string {
  const tty = ttyBinding();
  const one = (fd: 1 | 2) => {
    if (tty?.isTTY(fd) === false) return "false:false";
    const s = fd === 1 ? process.stdout : process.stderr;
    return `${Boolean(s.isTTY)}:${(s.columns ?? 0) > 0}`;
  };
  return `${one(1)} ${one(2)}`;
}

let ttyWrap: { isTTY(fd: number): boolean } | null | undefined;

/** Node's tty binding (what decides `isTTY`); null where it cannot be had. */
function ttyBinding(): { isTTY(fd: number): boolean } | null {
  if (ttyWrap === undefined) {
    const binding = nodeBinding<{ isTTY?: unknown }>("tty_wrap");
    ttyWrap = typeof binding?.isTTY === "function" ? (binding as { isTTY(fd: number): boolean }) : null;
  }
  return ttyWrap;
}

/**
 * Paths to a hash in a stamp (see StampHeader.signatures). A run consults code and configs
 * before the outputs and objects that make up most of its list, so after an edit of code or
 * config the first differing part comes early: a failed check at 500 experiments looked at
 * every one of ~4,500 paths, 44-52 ms before the engine even loaded.
 */
const PART = 256;

/** Whether the listed paths' signatures now hash as recorded, part by part; false at the first part that differs or path that cannot be looked at. */
function signaturesMatch(lines: string[], recorded: string[]): boolean {
  if (!Array.isArray(recorded) || recorded.length !== Math.ceil(lines.length / PART)) return false;
  for (let part = 0; part < recorded.length; part++) {
    const m = new Mixer();
    for (const line of lines.slice(part * PART, (part + 1) * PART)) {
      const followed = line.startsWith(FOLLOW_MARK);
      if (!mixCurrent(m, followed ? line.slice(FOLLOW_MARK.length) : line, followed)) return false;
    }
    if (m.digest() !== recorded[part]) return false;
  }
  return true;
}

function recordedSignatures(sigs: Signature[]): string[] {
  const parts: string[] = [];
  for (let at = 0; at < sigs.length; at += PART) {
    const m = new Mixer();
    for (const sig of sigs.slice(at, at + PART)) mixRecorded(m, sig);
    parts.push(m.digest());
  }
  return parts;
}

/** The header fields that must match the current process for a stamp to apply. */
export type Context = Pick<StampHeader, "argv" | "cwd" | "tool">;

/**
 * The stamp's recorded answer when it applies to `context` and every listed path still has
 * its signature; undefined otherwise (missing, unreadable or of another format included).
 */
export function replayable(file: string, context: Context): Answer | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const newline = text.indexOf("\n");
  let header: StampHeader;
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch {
    return undefined;
  }
  if (header.format !== FORMAT || header.cwd !== context.cwd || header.tool !== context.tool) return undefined;
  if (header.terminal !== null && header.terminal !== terminalState()) return undefined;
  if (header.argv.length !== context.argv.length || header.argv.some((a, i) => a !== context.argv[i])) return undefined;
  if (environmentDigest(header.envNames) !== header.env) return undefined;
  const paths = text.slice(newline + 1).split("\n");
  paths.pop();
  return signaturesMatch(paths, header.signatures) ? { stdout: header.stdout, exitCode: header.exitCode } : undefined;
}

export interface Observed {
  /** Absolute path -> signature before the run first consulted it. */
  reads: Map<string, Signature>;
  /** When the run started, by this process's clock (Date.now()). */
  startedAt: number;
  /** The environment variables the run read; null when it listed them all. */
  env: Set<string> | null;
  /** Whether the run asked whether a standard stream is a terminal, or its size. */
  terminal: boolean;
}

/**
 * Writes the stamp, unless a consulted path changed so shortly before the run that a further
 * change could keep its signature (see racyWindowMs). The stamp file's own mtime tells the
 * filesystem's clock, which on a network filesystem need not be this machine's. A path that
 * changed while the run went on needs no check here: its signature was taken before the run
 * first looked, so it no longer matches and the stamp never applies. Returns whether a stamp
 * was written.
 */
export function writeStamp(file: string, context: Context, observed: Observed, answer: Answer): boolean {
  const paths = [...observed.reads.keys()];
  const before = [...observed.reads.values()];
  // A path that could not be looked at (permissions) cannot be vouched for.
  if (before.some((sig) => sig.startsWith("!"))) return false;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  let written = false;
  try {
    const skew = statSync(tmp).mtimeMs - Date.now();
    const start = observed.startedAt + skew;
    const racy = before.some((sig) => {
      const t = newestTime(sig);
      return t >= start - racyWindowMs(t);
    });
    if (racy) return false;
    // A path found absent in a folder whose own signature is kept needs no entry: creating it
    // would change the folder's mtime. (Ten per cent of a workspace's entries, each a stat.)
    const kept = paths.flatMap((p, i) => (before[i] === "-" && isDirectory(observed.reads.get(dirname(p)) ?? ("-" as Signature)) ? [] : [i]));
    const envNames = observed.env === null ? null : [...observed.env].sort();
    const terminal = observed.terminal ? terminalState() : null;
    const header: StampHeader = { format: FORMAT, ...context, envNames, env: environmentDigest(envNames), terminal, signatures: recordedSignatures(kept.map((i) => before[i])), ...answer };
    const lines = kept.map((i) => (before[i].startsWith(FOLLOW_MARK) ? FOLLOW_MARK : "") + paths[i] + "\n");
    writeSync(fd, JSON.stringify(header) + "\n" + lines.join(""));
    written = true;
  } finally {
    closeSync(fd);
    if (!written) unlinkSync(tmp);
  }
  renameSync(tmp, file);
  return true;
}
