import { join, relative, resolve, sep } from "node:path";
import { ModuleIndex } from "../code/modules.js";
import { Graph } from "../graph/graph.js";
import { initHasher } from "../hash/digest.js";
import { StatCache } from "../hash/stat-cache.js";
import { findRoot, loadWorkspace, type Workspace } from "../workspace/workspace.js";
import { STATE_DIR } from "../workspace/state.js";

export interface LoadedWorkspace {
  workspace: Workspace;
  graph: Graph;
  /** Where the command runs, relative to the workspace root (`/`-separated): folder targets are paths from here. */
  from: string;
  /** File facts remembered across runs in `.crystallize/stat-cache/`. */
  statCache: StatCache;
  /**
   * The code modules' analyses started while the configs loaded, handed out once: to the first
   * prepareBuild. A later one (the API may build an opened workspace again) starts afresh, as
   * files may have changed since. Undefined once taken, or when none were started.
   */
  takeAnalyses(): ModuleIndex | undefined;
}

export interface OpenOptions {
  /** The workspace's stat cache as this process already holds it (see openWorkspace). */
  statCache?: StatCache;
  /**
   * Whether to start analysing code while the configs load. Only where planning follows at
   * once: an analysis is of the code as it was when it ran. False for commands that never plan,
   * and for the API, which plans when its caller says.
   */
  analyze?: boolean;
}

/**
 * Finds the workspace above `cwd`, validates every config and builds the graph. A given
 * `statCache` (see OpenOptions) stats every file it answers for, like a fresh one: it saves
 * loading the cache again.
 */
export async function openWorkspace(cwd: string, options: OpenOptions = {}): Promise<LoadedWorkspace> {
  // The hasher's wasm compiles while the configs load: nothing before the keys needs it.
  const hasher = initHasher();
  hasher.catch(() => {});
  const root = findRoot(cwd);
  const statCache = options.statCache ?? StatCache.load(join(root, STATE_DIR, "stat-cache"));
  // Analysing code runs in esbuild's process: started folder by folder, it overlaps parsing
  // the configs on this thread instead of following it. (Errors surface where they are awaited.)
  const modules = options.analyze === false ? undefined : new ModuleIndex(root, statCache);
  const analyzeEarly = modules && ((files: string[]) => void hasher.then(() => files.forEach((f) => modules.analyze(f).catch(() => {})), () => {}));
  const workspace = await loadWorkspace(root, statCache, analyzeEarly);
  const graph = Graph.build(workspace.experiments);
  await hasher;
  let early = modules;
  const takeAnalyses = () => {
    const taken = early;
    early = undefined;
    return taken;
  };
  const from = relative(root, resolve(cwd)).split(sep).join("/");
  return { workspace, graph, from, statCache, takeAnalyses };
}
