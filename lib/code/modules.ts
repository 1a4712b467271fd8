import { existsSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import type { PathsMatcher } from "get-tsconfig";
import { dirname, join, relative } from "node:path";
import type { Digest } from "../hash/digest.js";
import { tsconfigOf } from "../hash/facts.js";
import type { Snapshot, StatCache } from "../hash/stat-cache.js";
import { toPosix } from "../workspace/workspace.js";
import { ANALYSIS_KIND, analyzeCompiled, analyzeModule, type ModuleInfo } from "./analyze.js";
import { compiledHere, compilesFor, type Compiled } from "./compile.js";
import { ModuleTypes } from "./module-type.js";
import { importsTypeScriptFirst, resolveImportPath, resolveRelative, resolveSelfReference, resolveSubpathImport } from "./resolve.js";
import { PackageVersions } from "./packages.js";
import type { PythonEnv } from "./python-env.js";

/** A module as its analysis compiled it (see ModuleIndex.takeCompiled), and the stat of the file it read. */
export interface AnalysedCompilation {
  compiled: Compiled;
  snapshot: Snapshot;
}

/** The code an experiment runs: its modules and every local module they import, transitively. */
export interface CodeClosure {
  /** Workspace-relative path -> normalised code digest. */
  files: Record<string, Digest>;
  /** Imported package -> installed version ("unresolved" when it cannot be found). */
  packages: Record<string, string>;
}

const BUILTINS = new Set(builtinModules);

/** Resolves a relative import the way a worker's loaders do (see resolveRelative); workspace-relative. */
export function resolveLocalImport(root: string, fromRel: string, specifier: string): string | undefined {
  const found = resolveRelative(join(root, fromRel), specifier);
  return found === undefined ? undefined : toPosix(relative(root, found));
}

/** `lodash/fp` -> `lodash`, `@scope/pkg/x` -> `@scope/pkg`; undefined for builtins and our own API. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith("node:") || BUILTINS.has(specifier.split("/")[0]) || specifier === "crystallize") return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/**
 * Static knowledge of a workspace's user modules, read once per file per build and remembered
 * across builds by stat.
 */
export class ModuleIndex {
  private readonly memo = new Map<string, Promise<ModuleInfo>>();
  private readonly packages: PackageVersions;

  /** The tsconfig's `paths` as tsx applies them (see aliasedImport); null without any. */
  private paths?: Promise<PathsMatcher | null>;

  /** Whether the CLI compiles this workspace's TypeScript for its workers (see compilesFor). */
  private readonly compiles: boolean;
  private readonly moduleTypes = new ModuleTypes();
  /** Modules analysed from their compilation in this process, by absolute path (see takeCompiled). */
  private readonly compiled = new Map<string, AnalysedCompilation>();
  /** Python modules analysed afresh in this process, not from the stat cache (see takeFreshPython). */
  private readonly freshPython = new Set<string>();

  constructor(private readonly root: string, private readonly statCache: StatCache) {
    this.packages = new PackageVersions(statCache);
    this.compiles = compilesFor(root);
  }

  /**
   * A bare import (`@lib/words`) that the tsconfig.json tsx applies maps to a local file through
   * its `paths`, resolved as tsx does: each mapped path in turn, with the same extensions as a
   * relative import. Undefined when it is a package. get-tsconfig is tsx's own reader.
   */
  private aliasedImport(paths: PathsMatcher | null, fromRel: string, specifier: string): string | undefined {
    if (!paths) return undefined;
    const fromTypeScript = importsTypeScriptFirst(fromRel);
    for (const mapped of paths(specifier)) {
      const found = resolveImportPath(mapped, fromTypeScript);
      if (found !== undefined) return toPosix(relative(this.root, found));
    }
    return undefined;
  }

  /**
   * An import the package scope's package.json maps (see resolveSubpathImport and
   * resolveSelfReference): its local files join the closure, its packages are imported, and a
   * subpath import that maps to nothing still marks the key. False when it is none of these: a
   * bare import is then a package.
   */
  private mappedImport(fromRel: string, spec: string, packages: Record<string, string>, imported: Array<{ name: string; from: string }>, queue: string[]): boolean {
    const from = join(this.root, fromRel);
    const scope = this.moduleTypes.scope(dirname(from));
    const subpath = spec.startsWith("#");
    // Builtins and our own API come first, as in a worker: a workspace named `crystallize` (this
    // repository) does not reference itself when its experiments import the API.
    if (!subpath && packageName(spec) === undefined) return false;
    const targets = subpath ? resolveSubpathImport(from, spec, scope) : resolveSelfReference(from, spec, scope);
    if (!subpath && !targets) return false;
    if (!targets || targets.files.length + targets.packages.length === 0) packages[`unresolved:${spec}`] = "missing";
    for (const file of targets?.files ?? []) queue.push(toPosix(relative(this.root, file)));
    for (const target of targets?.packages ?? []) {
      const name = packageName(target);
      if (name) imported.push({ name, from: dirname(from) });
    }
    return true;
  }

  /** Read once per build, for every closure. get-tsconfig only where there is a tsconfig: most workspaces have none. */
  private async tsconfigPaths(): Promise<PathsMatcher | null> {
    const file = tsconfigOf(this.root);
    if (file === undefined || !existsSync(file)) return null;
    const { createPathsMatcher, parseTsconfig } = await import("get-tsconfig");
    return createPathsMatcher({ path: file, config: parseTsconfig(file) });
  }

  analyze(rel: string): Promise<ModuleInfo> {
    let p = this.memo.get(rel);
    if (!p) {
      const abs = join(this.root, rel);
      // A module compiled for the workers is analysed from that compilation, a kind of its own:
      // a tsconfig.json added or removed changes how every module is read.
      if (this.compiles && compiledHere(abs, this.moduleTypes)) {
        p = this.statCache.get(abs, `${ANALYSIS_KIND}-compiled`, async (snapshot) => {
          const done = await analyzeCompiled(abs, rel);
          if (!done) return analyzeModule(abs, rel);
          this.compiled.set(abs, { compiled: done.compiled, snapshot });
          return done.info;
        });
      } else {
        p = this.statCache.get(abs, ANALYSIS_KIND, () => {
          if (rel.endsWith(".py")) this.freshPython.add(rel);
          return analyzeModule(abs, rel);
        });
      }
      this.memo.set(rel, p);
    }
    return p;
  }

  /**
   * The Python modules (workspace-relative) analysed afresh since the last call: those whose
   * syntax has not been checked with their analysis (see checkPythonSyntax).
   */
  takeFreshPython(): string[] {
    const fresh = [...this.freshPython].sort();
    this.freshPython.clear();
    return fresh;
  }

  /** Drops a module's remembered analysis: the next build reads it, and checks it, again. */
  forget(rel: string): void {
    this.statCache.forget(join(this.root, rel), ANALYSIS_KIND);
  }

  /**
   * A module (absolute path) as this index's analysis compiled it, handed out once (see
   * Compiler); undefined when its analysis came from the stat cache.
   */
  takeCompiled(abs: string): AnalysedCompilation | undefined {
    const compiled = this.compiled.get(abs);
    this.compiled.delete(abs);
    return compiled;
  }

  /** Exports of a module, following local `export * from` chains; null when not statically known. */
  async exportsOf(rel: string, seen = new Set<string>()): Promise<string[] | null> {
    if (seen.has(rel)) return [];
    seen.add(rel);
    const info = await this.analyze(rel);
    if (info.exports === null) return null;
    const names = [...info.exports];
    for (const spec of info.starExports) {
      const target = resolveLocalImport(this.root, rel, spec);
      if (!target) return null;
      const more = await this.exportsOf(target, seen);
      if (more === null) return null;
      names.push(...more.filter((n) => n !== "default"));
    }
    return names;
  }

  /**
   * The functions that could be a datasources module's single data source: Python's top-level
   * functions (those marked `@data_source` when any are), else the module's exports.
   */
  async sourceCandidates(rel: string): Promise<string[] | undefined> {
    const info = await this.analyze(rel);
    return info.sources ?? (await this.exportsOf(rel))?.filter((n) => n !== "default");
  }

  /**
   * The local import closure of `entries` (workspace-relative), with package versions. Python
   * modules need the interpreter's facts (`python`) to tell packages from the standard library.
   */
  async closure(entries: string[], python?: PythonEnv): Promise<CodeClosure> {
    const paths = await (this.paths ??= this.tsconfigPaths());
    const searchDirs = [...new Set(entries.map((e) => dirname(e)))];
    const files: Record<string, Digest> = {};
    const packages: Record<string, string> = {};
    const queue = [...entries];
    const imported: Array<{ name: string; from: string }> = [];
    while (queue.length > 0) {
      const batch = queue.splice(0).filter((rel) => !(rel in files));
      const infos = await Promise.all(batch.map((rel) => this.analyze(rel)));
      batch.forEach((rel, i) => {
        if (rel in files) return;
        files[rel] = infos[i].digest;
        for (const spec of infos[i].imports) {
          if (rel.endsWith(".py")) {
            const found = resolvePythonImport(this.root, rel, spec, searchDirs);
            if (found.file !== undefined) {
              if (!(found.file in files)) queue.push(found.file);
            } else if (found.package && !python?.stdlib.includes(found.package)) {
              packages[`py:${found.package}`] = python?.packages[found.package] ?? "unresolved";
            } else if (found.missing) packages[`unresolved:${spec}`] = "missing";
            continue;
          }
          if (spec.startsWith(".") || spec.startsWith("/")) {
            const target = resolveLocalImport(this.root, rel, spec);
            // An import that resolves nowhere fails at run time; it still marks the key.
            if (target === undefined) packages[`unresolved:${spec}`] = "missing";
            else if (!(target in files)) queue.push(target);
          } else {
            const aliased = this.aliasedImport(paths, rel, spec);
            if (aliased === undefined && this.mappedImport(rel, spec, packages, imported, queue)) continue;
            const name = aliased === undefined ? packageName(spec) : undefined;
            if (aliased !== undefined && !(aliased in files)) queue.push(aliased);
            else if (name) imported.push({ name, from: dirname(join(this.root, rel)) });
          }
        }
      });
    }
    for (const { name, from } of imported) packages[name] = await this.packages.of(from, name);
    return { files: sortRecord(files), packages: sortRecord(packages) };
  }
}

/**
 * Where a Python import leads, the way the worker sets up `sys.path` (the experiment folder
 * first): a local file, a package name, or nothing (an optional name that is not a module).
 */
export function resolvePythonImport(root: string, fromRel: string, spec: string, searchDirs: string[]): { file?: string; package?: string; missing?: boolean } {
  const optional = spec.endsWith("?");
  const name = optional ? spec.slice(0, -1) : spec;
  const level = /^\.*/.exec(name)![0].length;
  const parts = name.slice(level).split(".").filter(Boolean);
  let bases: string[];
  if (level > 0) {
    let base = dirname(fromRel);
    for (let l = 1; l < level; l++) base = dirname(base);
    bases = [base];
  } else bases = searchDirs;
  for (const base of bases) {
    const stem = join(base, ...parts);
    for (const candidate of parts.length ? [`${stem}.py`, join(stem, "__init__.py")] : [join(stem, "__init__.py")]) {
      try {
        if (statSync(join(root, candidate)).isFile()) return { file: toPosix(candidate) };
      } catch {
        /* try the next candidate */
      }
    }
  }
  if (optional) return {};
  if (level > 0) return { missing: true };
  return parts[0] === "crystallize" ? {} : { package: parts[0] };
}

function sortRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
