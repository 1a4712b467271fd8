/**
 * The environment variables a unit's own code reads, seen through a Proxy over `process.env`.
 * A variable's value is in an experiment's key only when the config declares it under `env:`;
 * one read but not declared can change while the experiment stays "up to date", so the CLI
 * warns about it (see CoverageWarnings). Only reads by the user's code count, a file in the
 * workspace outside node_modules and this installation: Node, packages and this runtime read
 * variables of their own (NODE_DEBUG, FORCE_COLOR, ...) that say nothing about the experiment.
 */
import { isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { TOOL } from "./reads.js";

/** Names read by the user's code in the unit running now; undefined between units. */
let names: Set<string> | undefined;
/**
 * The name whose descriptor was just asked for. A copy of the whole environment (`{ ...process.env
 * }`, `Object.assign`, `JSON.stringify`, to hand it to a child process) asks for each name's
 * descriptor, then reads it: such a read is of the copy, not of that particular variable.
 */
let described: string | symbol | undefined;
/**
 * How often each name was found read by code not the user's in this unit. Telling who reads
 * costs a stack capture (~5 µs); a package reading a variable in a loop stops being asked
 * about after a few times.
 */
let others: Map<string, number> | undefined;
const ASK_AT_MOST = 16;
/**
 * Names code asks of process.env as of any object, not as variables: its methods and
 * conversions (`process.env.hasOwnProperty(...)`, `${process.env}`), JSON's and await's probes.
 */
const NOT_VARIABLES = new Set([...Object.getOwnPropertyNames(Object.prototype), "toJSON", "then"]);

/** Replaces `process.env` once, at the worker's start; it records only while a unit runs. */
export function watchEnv(root: string): void {
  const env = process.env;
  const byUser = (name: string, trap: (...args: never[]) => unknown) => {
    if (NOT_VARIABLES.has(name)) return false;
    const times = others!.get(name) ?? 0;
    if (times >= ASK_AT_MOST) return false;
    const user = isUserFile(root, callerFile(trap));
    if (!user) others!.set(name, times + 1);
    return user;
  };
  const proxy: NodeJS.ProcessEnv = new Proxy(env, {
    get: function get(target, name) {
      const copying = name === described;
      described = undefined;
      if (names && !copying && typeof name === "string" && !names.has(name) && byUser(name, get)) names.add(name);
      return Reflect.get(target, name);
    },
    has: function has(target, name) {
      if (names && typeof name === "string" && !names.has(name) && byUser(name, has)) names.add(name);
      return Reflect.has(target, name);
    },
    getOwnPropertyDescriptor(target, name) {
      described = name;
      return Reflect.getOwnPropertyDescriptor(target, name);
    },
    // Writes go to Node's own object, which turns values into strings as it always does.
    set: (target, name, value) => Reflect.set(target, name, value),
    deleteProperty: (target, name) => Reflect.deleteProperty(target, name),
  });
  process.env = proxy;
}

export function startEnvReads(): void {
  names = new Set();
  others = new Map();
  described = undefined;
}

/** The names the unit's code read since startEnvReads, sorted; recording stops. */
export function takeEnvReads(): string[] {
  const read = [...(names ?? [])].sort();
  names = others = undefined;
  return read;
}

/** The file of the code that called `trap`, from V8's structured stack (no source maps applied). */
function callerFile(trap: (...args: never[]) => unknown): string | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.stackTraceLimit = 1;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, trap);
    return holder.stack?.[0]?.getFileName() ?? undefined;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function isUserFile(root: string, file: string | undefined): boolean {
  if (!file) return false;
  let path = file;
  if (path.startsWith("file:")) {
    try {
      path = fileURLToPath(path.replace(/\?.*$/, ""));
    } catch {
      return false;
    }
  }
  if (!isAbsolute(path) || path.startsWith(TOOL)) return false;
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) && !rel.split(sep).includes("node_modules");
}
