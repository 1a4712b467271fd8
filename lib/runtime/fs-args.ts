/**
 * What the arguments of `fs` functions mean, for the two places that wrap them: the stamp's
 * tracer (lib/stamp/trace.ts), which records every path a command consults, and a worker's
 * read recorder (lib/runtime/reads.ts).
 */
import fs from "node:fs";
import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Whether `resolve(p)` would return `p` as it is: most paths the engine passes are joined already. */
function isResolved(p: string): boolean {
  return sep === "/" && p.charCodeAt(0) === 47 && !p.includes("//") && !p.includes("/./") && !p.includes("/../") && !/\/\.{0,2}$/.test(p);
}

/** The absolute path a path argument names (relative ones against the current folder); undefined for a descriptor. */
export function pathOf(arg: unknown): string | undefined {
  if (typeof arg === "string") return isResolved(arg) ? arg : resolve(arg);
  if (arg instanceof URL) return arg.protocol === "file:" ? fileURLToPath(arg) : undefined;
  if (Buffer.isBuffer(arg)) return resolve(arg.toString());
  return undefined;
}

/** Whether `open` with these flags may change the file (write, create, truncate or append). */
export function opensForWriting(flags: unknown): boolean {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === "number") return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND)) !== 0;
  return String(flags) !== "r" && String(flags) !== "rs" && String(flags) !== "sr";
}

/**
 * Replaces `target[name]` (a function, else nothing is done) by one that calls `before` with
 * the arguments first. What hangs off the function itself (`realpath.native`) is kept.
 */
export function wrapFunction(target: Record<string, unknown>, name: string, before: (args: unknown[]) => void): void {
  const original = target[name];
  if (typeof original !== "function") return;
  target[name] = Object.assign(function (this: unknown, ...args: unknown[]) {
    before(args);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  }, original);
}
