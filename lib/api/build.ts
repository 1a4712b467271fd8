import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { CrystallizeError } from "../errors/error.js";
import type { Digest } from "../hash/digest.js";
import { experimentKey } from "../hash/keys.js";
import { emptyLock, writeLock, type LockEntry, type LockFile } from "../lock/lockfile.js";
import { firstLikelyToRun } from "../plan/likely.js";
import type { BuildPlan } from "../plan/plan.js";
import { criticalPathPriority } from "../plan/priority.js";
import { Executor, type ExecuteOptions } from "../run/executor.js";
import type { ExecutionEvents, ExperimentResult } from "../run/results.js";
import type { WorkerPool } from "../run/pool.js";
import { startWorkersEarly } from "../run/workers.js";
import { acquireBuildLock } from "../store/build-lock.js";
import { readTimings, saveTimings, TIMINGS_FILE } from "../store/timings.js";
import { cleanupStale } from "../store/views.js";
import { STATE_DIR } from "../workspace/state.js";
import { openWorkspace, type LoadedWorkspace } from "./open.js";
import { prepareBuild, type PlanRequest, type PreparedBuild } from "./prepare.js";

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
  /** Set when git had left merge conflicts in the lock: it was read as absent (and rewritten, see lockWritten). */
  lockConflict?: CrystallizeError;
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
  p.store.claimEmpty();
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
    // With no pool started early, the store holds results: the workers start at the first unit
    // not found there, or as the build begins when one experiment will most likely run.
    likelyToRun: pool ? undefined : firstLikelyToRun({ plan: p.plan, lock: p.lock, configs: p.normalized, facts: p.facts, force: p.force }),
    codeOf: (name) => Object.keys(p.facts.get(name)!.code.files),
    inputsOf: (name) => Object.keys(p.facts.get(name)!.inputs),
    loaderCodeOf: (output) => p.loaderFiles.get(output) ?? [],
    compiledByAnalysis: (abs) => p.modules.takeCompiled(abs),
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
    return { root, plan: p.plan, experiments, ok, interrupted, jobs, lockWritten, lockConflict: p.lockConflict, schedulingMs };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** The lock entry for an experiment that was just built or found up to date. */
function lockEntry(p: PreparedBuild, result: ExperimentResult): LockEntry {
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
    params: p.normalized.get(result.name)!,
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
