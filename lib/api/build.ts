import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { checkExports, type ModuleCache } from "../code/check.js";
import { Graph } from "../graph/graph.js";
import { initHasher } from "../hash/digest.js";
import { planBuild, type BuildPlan, type PlanOptions } from "../plan/plan.js";
import { cleanupStale } from "../store/views.js";
import { Executor, type ExecutionEvents, type ExperimentResult } from "../run/executor.js";
import { findRoot, loadWorkspace, type Workspace } from "../workspace/workspace.js";

export interface LoadedWorkspace {
  workspace: Workspace;
  graph: Graph;
}

/** Finds the workspace above `cwd`, validates every config and builds the graph. */
export async function openWorkspace(cwd: string): Promise<LoadedWorkspace> {
  await initHasher();
  const workspace = await loadWorkspace(findRoot(cwd));
  return { workspace, graph: Graph.build(workspace.experiments) };
}

export interface BuildOptions extends PlanOptions {
  /** Experiment names (or folder paths); empty: every experiment. */
  targets?: string[];
  /** Units run at once. Default: crystallize.yaml's `jobs`, else the number of cores. */
  jobs?: number;
  /** Stop starting new work after the first failure (default: independent work goes on). */
  failFast?: boolean;
  events?: Partial<ExecutionEvents>;
  /** Aborting stops the workers and removes staged files. */
  signal?: AbortSignal;
}

export interface BuildOutcome {
  root: string;
  plan: BuildPlan;
  experiments: ExperimentResult[];
  /** True when every experiment in the plan was built. */
  ok: boolean;
  interrupted: boolean;
  jobs: number;
}

const NO_EVENTS: ExecutionEvents = {
  experimentStarted() {},
  unitFinished() {},
  experimentFinished() {},
  log() {},
  warn() {},
};

/** Fills in missing handlers; binds methods so that a class instance works as `events`. */
function withDefaults(events: Partial<ExecutionEvents> | undefined): ExecutionEvents {
  const out = { ...NO_EVENTS };
  for (const key of Object.keys(NO_EVENTS) as Array<keyof ExecutionEvents>) {
    const fn = events?.[key];
    if (typeof fn === "function") (out as Record<string, unknown>)[key] = fn.bind(events);
  }
  return out;
}

/** Plans and runs a build in an opened workspace. */
export async function buildWorkspace(loaded: LoadedWorkspace, options: BuildOptions = {}): Promise<BuildOutcome> {
  const { workspace, graph } = loaded;
  const targets = graph.resolveTargets(options.targets ?? []);
  const plan = planBuild(graph, targets, options);
  const cache: ModuleCache = new Map();
  const singles = await checkExports(workspace.root, plan.experiments.map((e) => graph.node(e.name).config), cache);
  const dataDir = join(workspace.root, workspace.settings.data);
  await cleanupStale(dataDir);
  const jobs = Math.max(1, options.jobs ?? workspace.settings.jobs ?? availableParallelism());
  const executor = new Executor({
    root: workspace.root,
    dataDir,
    graph,
    plan,
    singles,
    jobs,
    failFast: options.failFast ?? false,
    workerMemoryMb: workspace.settings.workerMemoryMb,
    events: withDefaults(options.events),
    tag: `${process.pid}-${randomBytes(3).toString("hex")}`,
  });
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    void executor.abort();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const experiments = await executor.run();
    return { root: workspace.root, plan, experiments, ok: !interrupted && experiments.every((e) => e.status === "built"), interrupted, jobs };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** `build()` of the programmatic API: open the workspace above `cwd`, then build. */
export async function build(options: BuildOptions & { cwd?: string } = {}): Promise<BuildOutcome> {
  return buildWorkspace(await openWorkspace(options.cwd ?? process.cwd()), options);
}
