/**
 * The files a unit opens to read and the folders it lists, seen by wrapping the `fs` functions
 * that take a path. The CLI compares them with what the unit's key covers and warns about the
 * rest (see lib/run/undeclared.ts): a data file read but not declared under `inputs:` can
 * change without making the experiment stale, and so can a folder's list of files. Modules
 * loaded are told apart: the key follows code by analysis, and one it did not follow (a
 * computed `require(name)` or `import()`) is warned about too.
 */
import fs from "node:fs";
import Module, { syncBuiltinESMExports } from "node:module";
import { fileURLToPath } from "node:url";
import { opensForWriting, pathOf, wrapFunction } from "./fs-args.js";
import { esmLoadsDelivered, onEsmModuleLoad } from "./register.js";

/** This installation of the tool: the worker's own modules, loaded lazily, are no user code. */
export const TOOL = fileURLToPath(new URL("../../", import.meta.url));

/** What a unit read, by how it read it. Absolute paths. */
export interface UnitReads {
  /** Files opened to read. */
  read: string[];
  /** Modules loaded from disk, by `require` or as ES modules (the CLI's compiled code excepted: it is the key's). */
  loaded: string[];
  /** Folders listed (`readdir`, `opendir`). */
  listed: string[];
}

let reads: Set<string> | undefined;
/** Files loaded as ES modules, which the hooks thread reports (see hooks.ts). */
let esmLoaded: Set<string> | undefined;
/** Folders listed. */
let listed: Set<string> | undefined;

/** Wraps the fs functions once, at the worker's start; they record only while a unit runs. */
export function watchReads(): void {
  // Into the set a unit is recording, if one runs: `which` is read at each call.
  const into = (which: () => Set<string> | undefined) => (path: unknown) => {
    const set = which();
    const abs = set && pathOf(path);
    if (abs) set!.add(abs);
  };
  const note = into(() => reads);
  const noteListed = into(() => listed);
  const api = fs as unknown as Record<string, unknown>;
  const promises = fs.promises as unknown as Record<string, unknown>;
  // A copy reads its source as surely as readFile does (`cp` lists and copies through these).
  const readers = [[api, "readFileSync"], [api, "readFile"], [api, "createReadStream"], [promises, "readFile"], [api, "copyFileSync"], [api, "copyFile"], [promises, "copyFile"]] as const;
  for (const [target, name] of readers) wrapFunction(target, name, (a) => note(a[0]));
  for (const [target, name] of [[api, "openSync"], [api, "open"], [promises, "open"]] as const) wrapFunction(target, name, (a) => !opensForWriting(typeof a[1] === "function" ? undefined : a[1]) && note(a[0]));
  for (const [target, name] of [[api, "readdirSync"], [api, "readdir"], [promises, "readdir"], [api, "opendirSync"], [api, "opendir"], [promises, "opendir"]] as const) wrapFunction(target, name, (a) => noteListed(a[0]));
  // ES modules that import { readFileSync } from "node:fs" see the wrapped functions too.
  syncBuiltinESMExports();
  onEsmModuleLoad((file) => esmLoaded?.add(file));
}

export function startReads(): void {
  reads = new Set();
  esmLoaded = new Set();
  listed = new Set();
}

/** What the unit read since startReads; recording stops. */
export async function takeReads(): Promise<UnitReads> {
  await esmLoadsDelivered();
  const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache;
  const read: string[] = [];
  const loaded = new Set<string>();
  for (const path of reads ?? []) {
    if (!(path in cache)) read.push(path);
    else loaded.add(path);
  }
  for (const path of esmLoaded ?? []) loaded.add(path);
  const folders = [...(listed ?? [])];
  reads = esmLoaded = listed = undefined;
  const users = (paths: Iterable<string>) => [...paths].filter((path) => !path.startsWith(TOOL));
  return { read, loaded: users(loaded), listed: users(folders) };
}
