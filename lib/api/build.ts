import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { checkExports } from "../code/check.js";
import { ModuleIndex } from "../code/modules.js";
import { Graph } from "../graph/graph.js";
import { digestValue, initHasher, type Digest } from "../hash/digest.js";
import { gatherFacts, loaderClosures, PythonEnvs, verifierDigests } from "../hash/facts.js";
import { hypothesesDigest } from "../hypotheses/settle.js";
import { experimentKey, normalizeConfig, unitKey, type ExperimentFacts } from "../hash/keys.js";
import { StatCache } from "../hash/stat-cache.js";
import { emptyLock, readLock, writeLock, type LockEntry, type LockFile } from "../lock/lockfile.js";
import { assess, type Assessment } from "../plan/assess.js";
import { planBuild, type BuildPlan, type PlanOptions } from "../plan/plan.js";
import { criticalPathPriority } from "../plan/priority.js";
import { Executor, type ExecuteOptions } from "../run/executor.js";
import type { ExecutionEvents, ExperimentResult } from "../run/results.js";
import type { KeyFn } from "../plan/plan.js";
import type { WorkerPool } from "../run/pool.js";
import { startWorkersEarly } from "../run/workers.js";
import { acquireBuildLock } from "../store/build-lock.js";
import { Store } from "../store/store.js";
import { readTimings, saveTimings, TIMINGS_FILE } from "../store/timings.js";
import { cleanupStale } from "../store/views.js";
import { findRoot, loadWorkspace, type Workspace } from "../workspace/workspace.js";
import { STATE_DIR } from "../workspace/state.js";

export interface LoadedWorkspace {
  workspace: Workspace;
  graph: Graph;
  /** File facts remembered across runs in `.crystallize/stat-cache/`. */
  statCache: StatCache;
  /**
   * The code modules' analyses, started while the configs loaded: taken by the first
   * prepareBuild. A later one (the API may build an opened workspace again) starts afresh, as
   * files may have changed since.
   */
  modules?: ModuleIndex;
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
  return { workspace, graph, statCache, modules };
}

export interface PlanRequest extends PlanOptions {
  /** Experiment names (or folder paths); empty: every experiment. */
  targets?: string[];
  /** Rerun the targets even when their results are in the store. */
  force?: boolean;
  /** Rerun everything in the build. */
  forceAll?: boolean;
}

/** Everything known before running: the plan, keys, and what is stale and why. */
export interface PreparedBuild {
  loaded: LoadedWorkspace;
  plan: BuildPlan;
  force: Set<string>;
  facts: Map<string, ExperimentFacts>;
  singles: Map<string, string | undefined>;
  keyOf: KeyFn;
  lock: LockFile | undefined;
  statCache: StatCache;
  store: Store;
  dataDir: string;
  /** Interpreter facts of Python experiments. */
  pythons: PythonEnvs;
  /** Per experiment with hypotheses: what its verdicts are computed from (see hypothesesDigest). */
  hypotheses: Map<string, Digest>;
  /** Per output (`experiment#alias`): its loader's code closure, workspace-relative. */
  loaderFiles: Map<string, string[]>;
}

/** Reads code, inputs and env (through the stat cache), and prepares key computation. */
export async function prepareBuild(loaded: LoadedWorkspace, request: PlanRequest = {}): Promise<PreparedBuild> {
  const { workspace, graph } = loaded;
  const root = workspace.root;
  const targets = graph.resolveTargets(request.targets ?? []);
  const plan = planBuild(graph, targets, request);
  const configs = plan.experiments.map((e) => graph.node(e.name).config);
  const statCache = loaded.statCache;
  const modules = loaded.modules ?? new ModuleIndex(root, statCache);
  loaded.modules = undefined;
  const singles = await checkExports(configs, modules);
  const pythons = new PythonEnvs(root, join(root, STATE_DIR));
  const facts = await gatherFacts(root, configs, modules, statCache, pythons);
  const loaderCode = await loaderClosures(configs, modules, pythons);
  const loaders = new Map([...loaderCode].map(([id, closure]) => [id, closure && digestValue(closure)]));
  const verifiers = await verifierDigests(configs, modules, pythons);
  const hypotheses = new Map(configs.filter((c) => verifiers.has(c.name)).map((c) => [c.name, hypothesesDigest(c.hypotheses, verifiers.get(c.name)!)]));
  const normalized = new Map(configs.map((c) => [c.name, normalizeConfig(c)]));
  const keyOf: KeyFn = (unit, readDigest) =>
    unitKey({
      config: normalized.get(unit.experiment)!,
      facts: facts.get(unit.experiment)!,
      condition: unit.condition.name,
      values: unit.condition.values,
      replicate: unit.replicate,
      seed: unit.seed,
      reads: unit.reads.map((r) => ({ alias: r.alias, digest: readDigest(r), loader: loaders.get(`${r.experiment}#${r.output}`) ?? null })),
    });
  const lock = await readLock(root, statCache);
  const force = new Set(request.forceAll ? plan.experiments.map((e) => e.name) : request.force ? (targets.length ? targets : plan.experiments.map((e) => e.name)) : []);
  const dataDir = join(root, workspace.settings.data);
  const loaderFiles = new Map([...loaderCode].map(([id, closure]) => [id, closure ? Object.keys(closure.files) : []]));
  return { loaded, plan, force, facts, singles, keyOf, lock, statCache, store: new Store(dataDir, statCache), dataDir, pythons, hypotheses, loaderFiles };
}

/** `status` and `build --dry-run`: what would run and why, reading the store but running nothing. */
export async function assessBuild(p: PreparedBuild): Promise<Map<string, Assessment>> {
  return assess({
    graph: p.loaded.graph,
    plan: p.plan,
    facts: p.facts,
    keyOf: p.keyOf,
    lock: p.lock,
    force: p.force,
    source: { kind: "store", lookup: (k) => p.store.lookup(k), failure: (k) => p.store.failure(k) },
  });
}

export interface BuildOptions extends PlanRequest {
  /** Units run at once. Default: crystallize.yaml's `jobs`, else the number of cores. */
  jobs?: number;
  /** Stop starting new work after the first failure (default: independent work goes on). */
  failFast?: boolean;
  events?: Partial<ExecutionEvents>;
  /** Aborting stops the workers and removes staged files. */
  signal?: AbortSignal;
  /** Called when another build holds the workspace and this one waits. */
  onWait?: (message: string) => void;
  /** Receives a handle to stop experiments of the running build (watch mode). */
  onStart?: (control: { cancel(names: Iterable<string>): void }) => void;
  /** Used by `verify`: rerun these experiments without storing anything (see Executor). */
  verify?: ExecuteOptions["verify"];
  /** False: leave every hypotheses.json as it is (verify's preparatory build). Default true. */
  evaluateHypotheses?: boolean;
}

export interface BuildOutcome {
  root: string;
  plan: BuildPlan;
  experiments: ExperimentResult[];
  /** True when every experiment in the plan is built or was already up to date. */
  ok: boolean;
  interrupted: boolean;
  jobs: number;
  /** Whether crystallize.lock was rewritten. */
  lockWritten: boolean;
  /** From the first unit reaching a worker to the end of execution; undefined when nothing ran. */
  schedulingMs?: number;
}

const NO_EVENTS: ExecutionEvents = {
  experimentStarted() {},
  unitStarted() {},
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

/** Holds the workspace lock around `fn`: builds and gc never overlap in one workspace. */
export async function withWorkspaceLock<T>(root: string, command: string, onWait: ((m: string) => void) | undefined, fn: () => Promise<T>): Promise<T> {
  const release = await acquireBuildLock(join(root, STATE_DIR, "build.lock"), command, (h) =>
    onWait?.(`waiting for another crystallize ${h.command} (pid ${h.pid}) in this workspace to finish`),
  );
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Plans and runs a build in an opened workspace, then records it in crystallize.lock. */
export async function buildWorkspace(loaded: LoadedWorkspace, options: BuildOptions = {}, prepared?: PreparedBuild): Promise<BuildOutcome> {
  const root = loaded.workspace.root;
  return withWorkspaceLock(root, "build", options.onWait, async () => {
    const jobs = Math.max(1, options.jobs ?? loaded.workspace.settings.jobs ?? availableParallelism());
    const { settings } = loaded.workspace;
    const configs = [...loaded.graph.nodes.values()].map((n) => n.config);
    const pool = prepared ? undefined : startWorkersEarly({ root, dataDir: join(root, settings.data), jobs, workerMemoryMb: settings.workerMemoryMb, configs });
    try {
      // Prepared after taking the lock, so that it sees what a build we waited for stored.
      const p = prepared ?? (await prepareBuild(loaded, options));
      return await execute(loaded, options, p, jobs, pool);
    } finally {
      // Ended by the executor once it ran; here when planning failed first.
      await pool?.close();
    }
  });
}

/** Runs a prepared build and records it (the lock, timings and stat cache). */
async function execute(loaded: LoadedWorkspace, options: BuildOptions, p: PreparedBuild, jobs: number, pool: WorkerPool | undefined): Promise<BuildOutcome> {
  const root = loaded.workspace.root;
  await cleanupStale(p.dataDir);
  const timingsPath = join(root, STATE_DIR, TIMINGS_FILE);
  const timings = readTimings(timingsPath);
  const executor = new Executor({
    root,
    graph: loaded.graph,
    plan: p.plan,
    store: p.store,
    statCache: p.statCache,
    keyOf: p.keyOf,
    force: p.force,
    verify: options.verify,
    singles: p.singles,
    // CRYSTALLIZE_SCHEDULER=fifo is the benchmarks' baseline: a plain first-in first-out queue.
    priority: process.env.CRYSTALLIZE_SCHEDULER === "fifo" ? new Map() : criticalPathPriority(loaded.graph, p.plan, timings),
    jobs,
    failFast: options.failFast ?? false,
    workerMemoryMb: loaded.workspace.settings.workerMemoryMb,
    pool,
    codeOf: (name) => Object.keys(p.facts.get(name)!.code.files),
    inputsOf: (name) => Object.keys(p.facts.get(name)!.inputs),
    loaderCodeOf: (output) => p.loaderFiles.get(output) ?? [],
    interpreterOf: (name) => p.pythons.command(loaded.graph.node(name).config),
    events: withDefaults(options.events),
    tag: `${process.pid}-${randomBytes(3).toString("hex")}`,
    // `verify` compares outputs; verdicts stay as the last build left them.
    hypotheses: options.verify || options.evaluateHypotheses === false ? undefined : p.hypotheses,
  });
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    void executor.abort();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  options.onStart?.({ cancel: (names) => executor.cancel(names) });
  try {
    const experiments = await executor.run();
    const { firstUnitAt, lastFinishedAt } = executor;
    const schedulingMs = firstUnitAt === undefined ? undefined : (lastFinishedAt ?? performance.now()) - firstUnitAt;
    let lockWritten = false;
    if (!interrupted && !options.verify) {
      // A build with overrides did not build what the configs say: the lock stays as it was.
      if (options.replicates === undefined && options.treatments === undefined) lockWritten = await recordLock(p, experiments);
      await saveTimings(timingsPath, timings, experiments);
      await p.statCache.save();
    }
    const ok = !interrupted && experiments.every((e) => e.status === "built" || e.status === "cached");
    return { root, plan: p.plan, experiments, ok, interrupted, jobs, lockWritten, schedulingMs };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** The lock entry for an experiment that was just built or found up to date. */
function lockEntry(p: PreparedBuild, result: ExperimentResult): LockEntry {
  const cfg = p.loaded.graph.node(result.name).config;
  const facts = p.facts.get(result.name)!;
  const outputs: Record<string, Digest> = {};
  const upstream: Record<string, Record<string, Digest>> = {};
  for (const u of result.units) {
    if (u.outcome.status !== "ok") continue;
    const unitId = `${u.condition}/replicate_${u.replicate}`;
    for (const o of Object.values(u.outcome.record.outputs)) outputs[`${unitId}/${o.file}`] = o.digest;
    for (const [output, digest] of Object.entries(u.reads)) (upstream[output] ??= {})[unitId] = digest;
  }
  return {
    key: experimentKey(result.units.map((u) => u.key)),
    version: result.version!,
    params: normalizeConfig(cfg),
    code: facts.code.files,
    packages: facts.code.packages,
    inputs: facts.inputs,
    env: facts.env,
    runtime: facts.runtime,
    upstream,
    outputs,
  };
}

/** Updates the entries of what this build built; drops experiments that no longer exist. */
async function recordLock(p: PreparedBuild, experiments: ExperimentResult[]): Promise<boolean> {
  const lock: LockFile = p.lock ? { ...p.lock, experiments: { ...p.lock.experiments } } : emptyLock();
  for (const result of experiments) {
    if (result.status === "built" || result.status === "cached") lock.experiments[result.name] = lockEntry(p, result);
  }
  const names = new Set(p.loaded.graph.nodes.keys());
  for (const name of Object.keys(lock.experiments)) if (!names.has(name)) delete lock.experiments[name];
  return writeLock(p.loaded.workspace.root, lock, p.lock, p.statCache);
}

/** `build()` of the programmatic API: open the workspace above `cwd`, then build. */
export async function build(options: BuildOptions & { cwd?: string } = {}): Promise<BuildOutcome> {
  return buildWorkspace(await openWorkspace(options.cwd ?? process.cwd()), options);
}

/**
 * A digest per experiment of everything it is defined by (config, code, inputs, env, runtime,
 * conditions), without upstream outputs: what watch mode compares to find the experiments an
 * edit made stale while a build runs.
 */
export function definitions(p: PreparedBuild): Map<string, Digest> {
  return new Map(
    p.plan.experiments.map((e) => [
      e.name,
      digestValue({ config: normalizeConfig(p.loaded.graph.node(e.name).config), facts: p.facts.get(e.name), conditions: e.conditions }),
    ]),
  );
}
