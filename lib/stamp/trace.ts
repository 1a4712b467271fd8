import childProcess from "node:child_process";
import fs, { type BigIntStats, type Stats } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { opensForWriting, pathOf, wrapFunction } from "../runtime/fs-args.js";
import { stampPath, toolStateTest, writeStamp, type Context } from "./stamp.js";
import { failedSignature, followedSignature, lstatSignature, signatureOf, type Signature } from "./signature.js";

/**
 * Everything a command consulted and did, seen from the outside: every path it read, listed or
 * looked for (with the path's signature from just before the first look), every path it
 * wrote, whether it started a process, and what it printed. Recorded by wrapping the `fs` and
 * `child_process` modules, so no read can be forgotten by a code path that never heard of
 * stamps: the record is complete by construction, which a stamp that answers "up to date"
 * without looking again needs.
 */
export interface Trace {
  /** Absolute path -> its signature before the command first consulted it. */
  reads: Map<string, Signature>;
  /** Absolute paths the command wrote, created, renamed or removed. */
  writes: Set<string>;
  /** Names of the environment variables the command read; null once it listed them all. */
  env: Set<string> | null;
  /** Whether the command asked whether stdout or stderr is a terminal (or its size). */
  terminal: boolean;
  /** Whether the command started a child process (whose reads are not traced). */
  spawned: boolean;
  stdout: string;
  stderr: string;
  /** When recording began, by this process's clock. */
  startedAt: number;
  /** Set by a command whose answer may be replayed (see offerReplay). */
  offer?: Offer;
}

/** A command's word that it changed nothing and its answer depends only on what it read. */
export interface Offer {
  /** The workspace root: its `.crystallize/` holds the engine's state (see toolStateTest). */
  root: string;
  /** The exit code that comes with the answer; any other code is not stamped. */
  exitCode: number;
  /** The elapsed time as printed, which a replay prints anew. */
  elapsed?: string;
}

/** fs functions whose first argument is a path they only look at. */
const READS = ["readFile", "stat", "lstat", "exists", "access", "readdir", "opendir", "realpath", "readlink", "statfs", "watch", "watchFile", "createReadStream"];
/** fs functions that change what is at their first argument. */
const WRITES = ["writeFile", "appendFile", "mkdtemp", "truncate", "utimes", "lutimes", "chmod", "lchmod", "chown", "lchown", "createWriteStream"];
/** fs functions that change what is at both their path arguments (or read one and write the other). */
const WRITES_TWO = ["rename", "cp", "copyFile", "symlink", "link"];
const SPAWNS = ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const;

/** The trace being recorded into, if any. The wrappers are installed once and stay. */
let active: Trace | undefined;
let installed = false;
/** The context of a command line that may leave stamps (see useContext). */
let commandContext: Context | undefined;

/**
 * Called by a command that changed nothing and whose answer depends only on what it read; the
 * trace then decides whether the run was clean enough to stamp (see stampFromTrace). Without
 * an active trace (the API, tests in-process, other commands) it does nothing.
 */
export function offerReplay(offer: Offer): void {
  if (active) active.offer = offer;
}

function newTrace(): Trace {
  return { reads: new Map(), writes: new Set(), env: new Set(), terminal: false, spawned: false, stdout: "", stderr: "", startedAt: Date.now() };
}

/**
 * The context of this command line, which may leave stamps: the whole run's, when it is traced
 * (startTrace), or those of the checks watch mode runs after its builds (see prestamp.ts).
 */
export function useContext(context: Context): void {
  commandContext = context;
}

/** Starts recording the command line; meant to be called once, before the command's code runs. */
export function startTrace(): Trace {
  install();
  active = newTrace();
  return active;
}

/** The context given to useContext, if any: where stamps may be left. */
export function tracedContext(): Context | undefined {
  return commandContext;
}

/**
 * Runs `fn` recorded into a trace of its own, then goes back to the trace before (if any):
 * how a build records a `check` it runs after itself (see prestamp.ts).
 */
export async function traced<T>(fn: () => Promise<T>): Promise<{ trace: Trace; value: T }> {
  install();
  const outer = active;
  const trace = (active = newTrace());
  try {
    return { trace, value: await fn() };
  } finally {
    active = outer;
  }
}

/**
 * Whether a spawn is of esbuild's service. The CLI only ever asks it to transform text it was
 * given (lib/code/analyze.ts, lib/run/compile.ts; a test keeps it so): it reads no file, so
 * a run that started it can still be stamped. Any other process may read anything.
 */
function isTransformService(args: unknown[]): boolean {
  const argv = args[1];
  return /esbuild/.test(String(args[0])) && Array.isArray(argv) && argv.some((arg) => typeof arg === "string" && arg.startsWith("--service="));
}

/** The trace to record into: none once a process was started, whose reads are not seen. */
function recording(): Trace | undefined {
  return active && !active.spawned ? active : undefined;
}

function install(): void {
  if (installed) return;
  installed = true;
  const read = (arg: unknown) => {
    const trace = recording();
    const path = trace && pathOf(arg);
    if (path !== undefined && !trace!.reads.has(path)) trace!.reads.set(path, signatureOf(path));
  };
  const write = (arg: unknown) => {
    const path = recording() && pathOf(arg);
    if (path !== undefined) active!.writes.add(path);
  };
  // Removing what is not there, or making a folder that is, changes nothing: a no-op build
  // clears its (never created) staging folder.
  const change = (arg: unknown, whenPresent: boolean) => {
    const path = recording() && pathOf(arg);
    if (path !== undefined && (signatureOf(path) !== "-") === whenPresent) active!.writes.add(path);
  };
  const modules = [fs as unknown as Record<string, unknown>, fs.promises as unknown as Record<string, unknown>];
  for (const target of modules) {
    for (const base of READS) for (const name of [base, `${base}Sync`]) if (name !== "statSync" && name !== "lstatSync") wrapFunction(target, name, (a) => read(a[0]));
    for (const base of WRITES) for (const name of [base, `${base}Sync`]) wrapFunction(target, name, (a) => write(a[0]));
    for (const base of ["rm", "rmdir", "unlink"]) for (const name of [base, `${base}Sync`]) wrapFunction(target, name, (a) => change(a[0], true));
    for (const name of ["mkdir", "mkdirSync"]) wrapFunction(target, name, (a) => change(a[0], false));
    for (const base of WRITES_TWO) for (const name of [base, `${base}Sync`]) wrapFunction(target, name, (a) => (write(a[0]), write(a[1])));
    for (const name of ["open", "openSync"]) wrapFunction(target, name, (a) => (opensForWriting(a[1]) ? write(a[0]) : read(a[0])));
  }
  // The synchronous stats are the command's commonest first look at a path: their own result
  // is the signature, taken at the same moment a look of ours would be, for no second stat.
  for (const [name, followed] of [["statSync", true], ["lstatSync", false]] as const) {
    const original = fs[name] as (...a: unknown[]) => Stats | BigIntStats | undefined;
    const observed = function (this: unknown, ...args: unknown[]) {
      const trace = recording();
      const path = trace && pathOf(args[0]);
      if (path === undefined || trace!.reads.has(path)) return original.apply(this, args);
      let result: Stats | BigIntStats | undefined;
      try {
        result = original.apply(this, args);
      } catch (err) {
        trace!.reads.set(path, failedSignature(err, followed));
        throw err;
      }
      trace!.reads.set(path, followed ? followedSignature(result) : result?.isSymbolicLink() ? signatureOf(path) : lstatSignature(result));
      return result;
    };
    (fs as unknown as Record<string, unknown>)[name] = observed;
  }
  const processes = childProcess as unknown as Record<string, unknown>;
  for (const name of SPAWNS) {
    const original = processes[name] as (...a: unknown[]) => unknown;
    processes[name] = Object.assign(function (this: unknown, ...args: unknown[]) {
      const trace = active;
      if (!trace || !isTransformService(args)) {
        if (trace) trace.spawned = true;
        return original.apply(this, args);
      }
      // Spawning lists the environment to pass it on; esbuild's service reads none of it.
      const env = trace.env && new Set(trace.env);
      try {
        return original.apply(this, args);
      } finally {
        trace.env = env;
      }
    }, original);
  }
  process.env = tracedEnvironment(process.env);
  traceTerminalQuestions();
  // After the replacements: `import { statSync } from "node:fs"` (or `env` from "node:process")
  // in a module loaded later sees them too.
  syncBuiltinESMExports();

  for (const [stream, key] of [[process.stdout, "stdout"], [process.stderr, "stderr"]] as const) {
    const original = stream.write;
    stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      const trace = recording();
      if (trace) trace[key] += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString();
      return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
  }
}

/**
 * `env` seen through a proxy that notes each variable read (or asked about) into the trace;
 * listing the variables (`{...process.env}`, `Object.keys`) counts as reading them all.
 */
function tracedEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const note = (name: string | symbol) => {
    if (typeof name === "string") active?.env?.add(name);
  };
  return new Proxy(env, {
    get: (target, name) => (note(name), Reflect.get(target, name)),
    has: (target, name) => (note(name), Reflect.has(target, name)),
    getOwnPropertyDescriptor: (target, name) => (note(name), Reflect.getOwnPropertyDescriptor(target, name)),
    ownKeys: (target) => (active && (active.env = null), Reflect.ownKeys(target)),
  });
}

/** The members of an output stream that tell whether, and how big, a terminal it is. */
const TERMINAL_MEMBERS = ["isTTY", "columns", "rows", "getColorDepth", "hasColors", "getWindowSize"];

/**
 * Notes into the trace when the command asks about the standard streams' terminals. Values
 * stay writable: Node updates `columns` and `rows` when a terminal is resized.
 */
function traceTerminalQuestions(): void {
  // Not stdin: its getter opens it. The stamped commands never prompt.
  for (const stream of [process.stdout, process.stderr] as unknown as Record<string, unknown>[]) {
    for (const name of TERMINAL_MEMBERS) {
      let value = stream[name];
      Object.defineProperty(stream, name, {
        configurable: true,
        enumerable: true,
        get: () => (active && (active.terminal = true), value),
        set: (v) => (value = v),
      });
    }
  }
}

/**
 * Writes the stamp of a traced run that ended with `exitCode`, when the command offered that
 * answer and the run did nothing a stamp could not vouch for: started a process, wrote
 * anything but the engine's own state (see toolStateTest), or printed to stderr. `printed`:
 * the answer's text, when the command returned it instead of printing it.
 */
export function stampFromTrace(trace: Trace, context: Context, command: string, exitCode: number, printed = trace.stdout): void {
  const offer = trace.offer;
  if (!offer || offer.exitCode !== exitCode || trace.spawned || trace.stderr !== "") return;
  const isToolState = toolStateTest(offer.root);
  for (const path of trace.writes) if (!isToolState(path)) return;
  const reads = new Map([...trace.reads].filter(([path]) => !isToolState(path)));
  let stdout = printed;
  if (offer.elapsed !== undefined) {
    const at = stdout.lastIndexOf(offer.elapsed);
    if (at < 0) return;
    stdout = stdout.slice(0, at) + "\0" + stdout.slice(at + offer.elapsed.length);
  }
  try {
    writeStamp(stampPath(offer.root, command), context, { reads, startedAt: trace.startedAt, env: trace.env, terminal: trace.terminal }, { stdout, exitCode });
  } catch {
    // A stamp is only ever a shortcut: failing to write one changes no answer.
  }
}
