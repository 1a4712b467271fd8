import { basename, isAbsolute, join, normalize, relative } from "node:path";
import type { Unit } from "../plan/plan.js";
import { toPosix } from "../workspace/workspace.js";

/** Files whose part in a result the key records otherwise (the runtime's module system, tsconfig). */
const KEYED_ELSEWHERE = new Set(["package.json", "tsconfig.json"]);

/**
 * The files a unit read (absolute paths, see lib/runtime/reads.ts) that its key does not
 * cover, workspace-relative and sorted: inside the workspace, not in `keyed` (its code and
 * declared inputs), not under the data folder (upstream outputs are keyed by digest), and not
 * under node_modules or a dot-folder (packages, tool state, git). Editing one of these leaves
 * the experiment "up to date". Pure.
 */
export function undeclaredReads(root: string, dataDir: string, read: Iterable<string>, keyed: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const path of read) {
    const rel = userPath(root, dataDir, path, "folders");
    if (rel !== undefined && !keyed.has(rel) && !KEYED_ELSEWHERE.has(basename(rel))) out.add(rel);
  }
  return [...out].sort();
}

/**
 * `path` relative to the workspace root, when it is the user's: inside the workspace and not
 * the root itself, not under the data folder, and not under node_modules or a dot-folder (of
 * its `folders`, or of `all` its segments, itself included). Undefined otherwise.
 */
function userPath(root: string, dataDir: string, path: string, hidden: "folders" | "all"): string | undefined {
  const rel = toPosix(relative(root, path));
  const data = toPosix(relative(root, dataDir));
  if (rel === "" || rel.startsWith("../") || isAbsolute(rel) || rel === data || rel.startsWith(`${data}/`)) return undefined;
  const segments = rel.split("/");
  return (hidden === "all" ? segments : segments.slice(0, -1)).some((f) => f === "node_modules" || f.startsWith(".")) ? undefined : rel;
}

/**
 * The folders a unit listed (absolute paths) whose new files its key would not see,
 * workspace-relative and sorted: inside the workspace (the root itself excepted), not under the
 * data folder, node_modules or a dot-folder, and not within the reach of a glob among its
 * declared `inputs:` (`globBases`). A file added to one leaves the experiment "up to date".
 * Pure.
 */
export function unwatchedListings(root: string, dataDir: string, listed: Iterable<string>, globBases: readonly string[]): string[] {
  const out = new Set<string>();
  for (const path of listed) {
    const rel = userPath(root, dataDir, path, "all");
    if (rel !== undefined && !globBases.some((base) => base === "" || rel === base || rel.startsWith(`${base}/`))) out.add(rel);
  }
  return [...out].sort();
}

/** Characters that make an `inputs:` entry a pattern rather than a path (fast-glob's syntax). */
const GLOB_CHARS = /[*?[\]{}()!+@]/;

/**
 * Where each glob among `inputs` (relative to the experiment's folder `dir`) starts matching,
 * workspace-relative ("" for the root): its leading segments without pattern characters. A file
 * added under one is matched, or left out, by the user's own pattern.
 */
export function globBases(dir: string, inputs: readonly string[]): string[] {
  const bases: string[] = [];
  for (const pattern of inputs) {
    if (pattern.startsWith("!") || !GLOB_CHARS.test(pattern)) continue;
    const segments = pattern.split("/");
    const fixed = segments.slice(0, segments.findIndex((s) => GLOB_CHARS.test(s)));
    const base = toPosix(normalize(join(dir, ...fixed)));
    bases.push(base === "." ? "" : base);
  }
  return bases;
}

/** What a build's keys cover, per experiment (workspace-relative paths). */
export interface Coverage {
  root: string;
  dataDir: string;
  /** The experiment's code closure. */
  codeOf(experiment: string): Iterable<string>;
  /** The files its `inputs:` match. */
  inputsOf(experiment: string): Iterable<string>;
  /** The code closure of an output's loader (`experiment#output`), which its readers' keys cover. */
  loaderCodeOf(output: string): Iterable<string>;
  /** The config that names the experiment's inputs: its folder, file, and `inputs:` and `env:` as written. */
  configOf(experiment: string): { dir: string; configFile: string; inputs: string[]; env: string[] };
}

/** What a unit touched, as its worker saw it (see lib/runtime/reads.ts). */
export interface Touched {
  read?: string[];
  loaded?: string[];
  listed?: string[];
  /** Environment variables its own code read. */
  env?: string[];
}

/**
 * Warnings about what units touched beyond their keys, each file said once per experiment:
 * data files read but not declared under `inputs:`, folders listed that no `inputs:` glob
 * reaches, modules loaded that the analysis did not follow (a computed `require(name)`), and
 * environment variables read but not declared under `env:`. Each can change while the
 * experiment stays "up to date".
 */
export class CoverageWarnings {
  private readonly said = new Map<string, Set<string>>();
  private readonly keyed = new Map<string, ReadonlySet<string>>();

  constructor(private readonly c: Coverage) {}

  /** The warnings (without the experiment's name) for what `unit` touched. */
  afterUnit(unit: Unit, touched: Touched): string[] {
    const e = unit.experiment;
    const out: string[] = [];
    const reads = this.fresh(e, touched.read, this.keyedOf(e));
    if (reads.length) {
      const { it, names } = listed(reads);
      const cfg = this.c.configOf(e);
      const asInputs = reads.slice(0, 3).map((f) => toPosix(relative(cfg.dir, f))).join(", ");
      out.push(`read ${names}, which its key does not cover: editing ${it} will not make ${e} stale; list ${it} under inputs: in ${cfg.configFile} (${asInputs})`);
    }
    if (touched.listed?.length) {
      const cfg = this.c.configOf(e);
      const folders = unwatchedListings(this.c.root, this.c.dataDir, touched.listed, globBases(cfg.dir, cfg.inputs)).filter((f) => this.firstTime(e, `${f}/`));
      if (folders.length) {
        const { it, names } = listed(folders);
        const asGlobs = folders.slice(0, 3).map((f) => `${toPosix(relative(cfg.dir, f)) || "."}/**`).join(", ");
        out.push(`listed ${names}, which its key does not cover: a file added to ${it} will not make ${e} stale; list ${it} under inputs: in ${cfg.configFile} as a glob (${asGlobs})`);
      }
    }
    if (touched.loaded?.length) {
      const covered = new Set(this.keyedOf(e));
      for (const r of unit.reads) for (const f of this.c.loaderCodeOf(`${r.experiment}#${r.output}`)) covered.add(f);
      const modules = this.fresh(e, touched.loaded, covered);
      if (modules.length) {
        const { it, names } = listed(modules);
        out.push(`loaded ${names}, which its key does not follow (a require() or import() of a computed name?): editing ${it} will not make ${e} stale; require or import ${it} by a literal relative path, which crystallize follows`);
      }
    }
    if (touched.env?.length) {
      const cfg = this.c.configOf(e);
      const declared = new Set(cfg.env);
      const names = touched.env.filter((name) => !declared.has(name) && this.firstTime(e, `$${name}`));
      if (names.length) {
        // Every name, unlike paths: short, and what goes into env: as it stands.
        const it = names.length === 1 ? "it" : "them";
        out.push(`read the environment variable${names.length === 1 ? "" : "s"} ${names.join(", ")}, which its key does not cover: a change to ${it} will not make ${e} stale; list ${it} under env: in ${cfg.configFile}`);
      }
    }
    return out;
  }

  /** The experiment's code and declared inputs. */
  private keyedOf(experiment: string): ReadonlySet<string> {
    let keyed = this.keyed.get(experiment);
    if (!keyed) this.keyed.set(experiment, (keyed = new Set([...this.c.codeOf(experiment), ...this.c.inputsOf(experiment)])));
    return keyed;
  }

  private fresh(experiment: string, paths: string[] | undefined, keyed: ReadonlySet<string>): string[] {
    if (!paths?.length) return [];
    return undeclaredReads(this.c.root, this.c.dataDir, paths, keyed).filter((f) => this.firstTime(experiment, f));
  }

  /** Whether `what` is said about the experiment for the first time (and notes that it is). */
  private firstTime(experiment: string, what: string): boolean {
    let said = this.said.get(experiment);
    if (!said) this.said.set(experiment, (said = new Set()));
    if (said.has(what)) return false;
    said.add(what);
    return true;
  }
}

function listed(files: string[]): { it: string; names: string } {
  const names = files.length <= 3 ? files.join(", ") : `${files.slice(0, 3).join(", ")} and ${files.length - 3} more`;
  return { it: files.length === 1 ? "it" : "them", names };
}
