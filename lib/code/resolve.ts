import { statSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import type { PackageScope } from "./module-type.js";

/**
 * Where a relative import of a user module leads, decided the way a worker's loaders (Node and
 * tsx) decide it. The CLI follows imports with it to build an experiment's key, and a worker
 * that has not loaded tsx resolves with it too (lib/runtime/register.ts): the module that runs
 * is the one the key covers.
 */

/** Modules whose relative imports tsx resolves TypeScript first (its own test of a TS file). */
const TYPESCRIPT_PARENT = /\.([cm]?ts|[tj]sx)$/;
/** From TypeScript, what tsx tries for an import written with a JavaScript extension, in order. */
const TYPESCRIPT_FIRST: Record<string, string[]> = {
  ".js": [".ts", ".tsx", ".js", ".jsx"],
  ".jsx": [".tsx", ".ts", ".jsx", ".js"],
  ".cjs": [".cts", ".cjs"],
  ".mjs": [".mts", ".mjs"],
};
/** From TypeScript, what tsx tries on any other import before Node's own search. */
const TYPESCRIPT_GUESSES = [".ts", ".tsx", ".jsx", ".js", ".json"];
/** Extensions tsx leaves to Node's own search. */
const AS_WRITTEN = new Set([".ts", ".tsx", ".mts", ".cts", ".json", ".node"]);
/** Node's own search in a worker: its extensions, then those tsx registers, for a file and a folder's index. */
const NODE_ORDER = [".js", ".json", ".node", ".ts", ".tsx", ".jsx"];

/**
 * The files a relative import may load, in the order a worker's loaders try them. It matters
 * when two candidates exist (a compiled x.js beside x.ts): the key must cover the one that
 * runs, so that editing it makes the experiment stale.
 */
function candidatesFor(base: string, fromTypeScript: boolean): string[] {
  const nodeSearch = [base, ...NODE_ORDER.map((e) => base + e), ...NODE_ORDER.map((e) => join(base, "index" + e))];
  if (!fromTypeScript) return nodeSearch;
  const ext = extname(base);
  if (TYPESCRIPT_FIRST[ext]) return TYPESCRIPT_FIRST[ext].map((e) => base.slice(0, -ext.length) + e);
  if (AS_WRITTEN.has(ext)) return nodeSearch;
  return [...TYPESCRIPT_GUESSES.map((e) => base + e), ...nodeSearch];
}

/** Whether a module's relative imports resolve TypeScript first (see TYPESCRIPT_PARENT). */
export function importsTypeScriptFirst(module: string): boolean {
  return TYPESCRIPT_PARENT.test(module);
}

/** The file an import naming `base` (absolute, its extension optional) loads; undefined when none. */
export function resolveImportPath(base: string, fromTypeScript: boolean): string | undefined {
  for (const candidate of candidatesFor(base, fromTypeScript)) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* try the next candidate */
    }
  }
  return undefined;
}

/** The file `specifier`, relative, leads to from the module `from` (both absolute); undefined when none. */
export function resolveRelative(from: string, specifier: string): string | undefined {
  return resolveImportPath(join(dirname(from), specifier), importsTypeScriptFirst(from));
}

/** The conditions a worker may load a subpath import's target under (as ES module or CommonJS). */
const CONDITIONS = new Set(["node", "import", "require", "module-sync", "default"]);

/** What a subpath import may load: files (absolute) and packages. */
export interface SubpathTargets {
  files: string[];
  packages: string[];
}

/**
 * Where a subpath import (`#lib/helper`, mapped by the `imports` of the package.json of the
 * module's package scope, see ModuleTypes.scope) may lead: see resolveMapped. Undefined when
 * the scope does not map the specifier.
 */
export function resolveSubpathImport(from: string, specifier: string, scope: PackageScope | null): SubpathTargets | undefined {
  const imports = scope?.manifest.imports;
  return scope && isMap(imports) ? resolveMapped(imports, specifier, scope.dir, from) : undefined;
}

/**
 * Where a self-reference leads (`lab/words` imported inside the package named `lab`, mapped by
 * its `exports`): Node loads the package's own files, not an installed copy. Undefined when the
 * specifier does not name the scope's package or the package has no `exports`.
 */
export function resolveSelfReference(from: string, specifier: string, scope: PackageScope | null): SubpathTargets | undefined {
  const name = scope?.manifest.name;
  const exports = scope?.manifest.exports;
  if (!scope || typeof name !== "string" || exports === undefined || exports === null) return undefined;
  if (specifier !== name && !specifier.startsWith(`${name}/`)) return undefined;
  // Either subpaths (`"./words": ...`) or what `"."` alone maps to.
  const map = isMap(exports) && Object.keys(exports).some((key) => key.startsWith(".")) ? exports : { ".": exports };
  return resolveMapped(map, `.${specifier.slice(name.length)}`, scope.dir, from);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * What `key` maps to in an `imports` or `exports` map, as Node matches it (an exact key, else the
 * pattern with the longest part before its `*`): the file of every target it names under a
 * condition a worker can load with, since the key must cover the one that runs; a target that
 * is not a path is a package. Undefined when nothing matches.
 */
function resolveMapped(map: Record<string, unknown>, key: string, dir: string, from: string): SubpathTargets | undefined {
  let target: unknown;
  let star: string | undefined;
  if (Object.hasOwn(map, key) && !key.includes("*")) target = map[key];
  else {
    const patterns = Object.keys(map)
      .filter((pattern) => pattern.split("*").length === 2)
      .sort((a, b) => b.indexOf("*") - a.indexOf("*") || b.length - a.length);
    for (const pattern of patterns) {
      const [prefix, suffix] = pattern.split("*");
      if (key.length < pattern.length || !key.startsWith(prefix) || !key.endsWith(suffix)) continue;
      target = map[pattern];
      star = key.slice(prefix.length, key.length - suffix.length);
      break;
    }
  }
  if (target === undefined) return undefined;
  const found: SubpathTargets = { files: [], packages: [] };
  const follow = (t: unknown): void => {
    if (typeof t === "string") {
      const path = star === undefined ? t : t.replaceAll("*", star);
      if (!path.startsWith("./")) found.packages.push(path);
      else {
        const file = resolveImportPath(join(dir, path), importsTypeScriptFirst(from));
        if (file !== undefined) found.files.push(file);
      }
    } else if (Array.isArray(t)) t.forEach(follow);
    else if (t && typeof t === "object") for (const [condition, value] of Object.entries(t)) if (CONDITIONS.has(condition)) follow(value);
  };
  follow(target);
  return found;
}
