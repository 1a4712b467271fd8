import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { MODULE_ROLES, type ExperimentConfig, type ModuleRole } from "../config/types.js";
import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import type { StatCache } from "../hash/stat-cache.js";
import type { WorkspaceSettings } from "./settings.js";

/** A loaded workspace: the root, its settings and every experiment config, validated. */
export interface Workspace {
  /** Absolute path of the workspace root. */
  root: string;
  settings: WorkspaceSettings;
  /** Every experiment, sorted by name. */
  experiments: ExperimentConfig[];
}

export const MODULE_EXTENSIONS = [".ts", ".mts", ".js", ".mjs", ".py"];

/** Walks up from `start` to the first folder with crystallize.yaml, crystallize.lock or experiments/. */
export function findRoot(start: string): string {
  let dir = resolve(start);
  // Only `-C` (or the API's `cwd`) can name a folder that is not there.
  if (!isDir(dir)) {
    throw new CrystallizeError("USAGE", `${dir} ${existsSync(dir) ? "is not a folder" : "does not exist"}`, { hint: "check the folder given with -C/--cwd" });
  }
  for (;;) {
    if (existsSync(join(dir, "crystallize.yaml")) || existsSync(join(dir, "crystallize.lock")) || isDir(join(dir, "experiments"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new CrystallizeError("NO_WORKSPACE", `no crystallize workspace in ${resolve(start)} or any folder above it`, {
        hint: "run inside a folder that has an `experiments/` folder, or create one with `crystallize new <name>`",
      });
    }
    dir = parent;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

/**
 * Parsed YAML is remembered by file stat: a no-op build never loads the YAML parser. Only
 * valid files are remembered; a file with errors is parsed (and reported) every time.
 */
async function parsedYaml<T>(abs: string, kind: string, statCache: StatCache | undefined, parse: (text: string) => Promise<T>): Promise<T> {
  const compute = () => parse(readFileSync(abs, "utf8"));
  return statCache ? statCache.get(abs, kind, compute) : compute();
}

export async function loadSettings(root: string, statCache?: StatCache): Promise<WorkspaceSettings> {
  const file = join(root, "crystallize.yaml");
  if (!existsSync(file)) return { experiments: "experiments", data: "data" };
  return parsedYaml(file, "settings", statCache, async (text) => (await import("./settings.js")).parseSettings("crystallize.yaml", text));
}

/** The files, the folders and the other entries (symbolic links, say) in a folder. */
interface Listing {
  files: string[];
  dirs: string[];
  others: string[];
}

function list(dir: string): Listing {
  const files: string[] = [];
  const dirs: string[] = [];
  const others: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) files.push(e.name);
    else if (e.isDirectory()) dirs.push(e.name);
    else others.push(e.name);
  }
  return { files, dirs, others };
}

/**
 * A folder's listing, remembered by the folder's stat. One remembered by an earlier version
 * has no `others` (it kept no links): the folder is listed again, once.
 */
function listing(dir: string, statCache: StatCache | undefined): Listing {
  if (!statCache) return list(dir);
  const seen = statCache.getSync<Partial<Listing>>(dir, "listing", () => list(dir));
  if (seen.others) return seen as Listing;
  statCache.forget(dir, "listing");
  return statCache.getSync(dir, "listing", () => list(dir));
}

/**
 * Folders under `dir` (relative, "." for itself) holding a config.yaml, with the names of the
 * files beside it; never inside node_modules, dot-folders or `skip`. Listings are remembered by
 * the folder's stat: adding, removing or renaming an entry changes the folder's mtime, so an
 * unchanged workspace is walked with one stat per folder instead of one listing.
 */
function findConfigs(dir: string, skip: string, statCache: StatCache | undefined, prefix = ""): Array<{ folder: string; files: Set<string>; packageJson: boolean }> {
  const { files: names, dirs, others } = listing(dir, statCache);
  const files = new Set(names);
  const packageJson = files.has("package.json") || others.includes("package.json");
  const out = files.has("config.yaml") ? [{ folder: prefix || ".", files, packageJson }] : [];
  for (const name of dirs) {
    if (!name.startsWith(".") && name !== "node_modules") {
      const rel = prefix ? `${prefix}/${name}` : name;
      if (rel !== skip) out.push(...findConfigs(join(dir, name), skip, statCache, rel));
    }
  }
  return out;
}

/** Configs parsed between two turns of the event loop (see loadWorkspace). */
const PARSE_BATCH = 25;

/** An experiment folder whose config is to be parsed: its listing and its code modules. */
interface Folder {
  folderId: string;
  files: Set<string>;
  packageJson: boolean;
  /** Workspace-relative. */
  dir: string;
  modules: Partial<Record<ModuleRole, string>>;
}

/**
 * Finds `<experiments>/**\/config.yaml` (never inside node_modules, dot-folders or the data
 * folder), validates each, and reports every problem of every file at once. `onModules` is
 * told each experiment's code modules (workspace-relative) as soon as its folder is listed,
 * before its config is parsed.
 */
export async function loadWorkspace(root: string, statCache?: StatCache, onModules?: (files: string[]) => void): Promise<Workspace> {
  const settings = await loadSettings(root, statCache);
  const expRoot = join(root, settings.experiments);
  if (!isDir(expRoot)) {
    throw new CrystallizeError("NO_WORKSPACE", `the experiments folder ${settings.experiments}/ does not exist in ${root}`, {
      hint: "create it, or set `experiments:` in crystallize.yaml",
    });
  }
  const found = findConfigs(expRoot, toPosix(relative(expRoot, join(root, settings.data))), statCache).sort((a, b) => (a.folder < b.folder ? -1 : 1));
  const errors: CrystallizeError[] = [];
  const experiments: ExperimentConfig[] = [];
  // Folder ids are readdir names joined by "/": prefixing the experiments folder is all that
  // path.relative would do, once per experiment.
  const prefix = toPosix(relative(root, expRoot));
  const loading: Folder[] = [];
  for (const { folder: folderId, files, packageJson } of found) {
    const dir = folderId === "." ? prefix || "." : prefix ? `${prefix}/${folderId}` : folderId;
    try {
      const modules = findModules(dir, files);
      onModules?.(Object.values(modules));
      loading.push({ folderId, files, packageJson, dir, modules });
    } catch (err) {
      if (!(err instanceof CrystallizeError)) throw err;
      errors.push(err);
    }
  }
  const load = async ({ folderId, files, packageJson, dir, modules }: Folder) => {
    const configFile = dir === "." ? "config.yaml" : `${dir}/config.yaml`;
    try {
      const inactiveTreatments = files.has("config.state.json") ? readState(root, dir) : [];
      const parsed = await parsedYaml(join(root, configFile), "config", statCache, async (text) =>
        (await import("../config/load.js")).parseConfig(text, { configFile, dir, folderId, modules: {}, inactiveTreatments: [] }),
      );
      experiments.push({ ...parsed, modules, inactiveTreatments, packageJson });
    } catch (err) {
      if (err instanceof AggregateConfigError) errors.push(...err.errors);
      else if (err instanceof CrystallizeError) errors.push(err);
      else throw err;
    }
  };
  // Parsing is synchronous: in batches, with a turn of the event loop between them, so that the
  // replies of the analyses started above are read while the configs parse, not after.
  for (let i = 0; i < loading.length; i += PARSE_BATCH) {
    await Promise.all(loading.slice(i, i + PARSE_BATCH).map(load));
    if (onModules && i + PARSE_BATCH < loading.length) await new Promise((resolve) => setImmediate(resolve));
  }
  errors.sort((a, b) => (a.location?.file ?? "").localeCompare(b.location?.file ?? "") || (a.location?.line ?? 0) - (b.location?.line ?? 0));
  if (errors.length > 0) throw new AggregateConfigError(errors);
  // Files finish loading in any order; sort so that messages and order never vary between runs.
  // One collator for all comparisons: `localeCompare` sets one up per call (the same order).
  const { compare } = new Intl.Collator();
  experiments.sort((a, b) => compare(a.name, b.name) || compare(a.configFile, b.configFile));
  return { root, settings, experiments };
}

function findModules(dir: string, names: Set<string>): Partial<Record<ModuleRole, string>> {
  const modules: Partial<Record<ModuleRole, string>> = {};
  for (const role of MODULE_ROLES) {
    const found = MODULE_EXTENSIONS.map((ext) => role + ext).filter((n) => names.has(n));
    if (found.length > 1) {
      throw new CrystallizeError("CONFIG_MISSING_MODULE", `${dir}: both ${found.join(" and ")} exist; crystallize would not know which to use`, {
        location: { file: `${dir}/${found[1]}` },
        hint: `keep one ${role} module and delete the other`,
      });
    }
    if (found.length === 1) modules[role] = dir === "." ? found[0] : `${dir}/${found[0]}`;
  }
  const files = Object.values(modules);
  const python = files.filter((f) => f.endsWith(".py"));
  if (python.length > 0 && python.length < files.length) {
    throw new CrystallizeError("CONFIG_MIXED_LANGUAGES", `${dir}: ${python.join(", ")} and ${files.filter((f) => !f.endsWith(".py")).join(", ")} mix Python and JavaScript in one experiment`, {
      location: { file: python[0] },
      hint: "an experiment runs in one language; split it into two experiments connected by an output (producer#output)",
    });
  }
  return modules;
}

/** Python when the experiment's modules are `.py` files, else JavaScript/TypeScript. */
export function languageOf(cfg: Pick<ExperimentConfig, "modules">): "python" | "node" {
  return Object.values(cfg.modules).some((f) => f?.endsWith(".py")) ? "python" : "node";
}

/** Reads `config.state.json`; a malformed file is an error, never silently ignored. */
function readState(root: string, dir: string): string[] {
  const rel = dir === "." ? "config.state.json" : `${dir}/config.state.json`;
  let text: string;
  try {
    text = readFileSync(join(root, rel), "utf8");
  } catch {
    return [];
  }
  const hint = 'the file must be {"inactive_treatments": ["name", ...]}; fix it or delete it to re-enable every treatment';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CrystallizeError("STATE_FILE", `invalid JSON: ${(err as Error).message}`, { location: { file: rel }, hint });
  }
  const list = (parsed as { inactive_treatments?: unknown })?.inactive_treatments;
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(list) || list.some((x) => typeof x !== "string")) {
    throw new CrystallizeError("STATE_FILE", "unexpected content", { location: { file: rel }, hint });
  }
  return list as string[];
}
