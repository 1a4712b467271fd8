import { join } from "node:path";
import { checkExports } from "../code/check.js";
import { ModuleIndex } from "../code/modules.js";
import { checkPythonSyntax } from "../code/python-syntax.js";
import type { ExperimentConfig } from "../config/types.js";
import { CrystallizeError } from "../errors/error.js";
import { digestValue, type Digest } from "../hash/digest.js";
import { gatherFacts, loaderClosures, PythonEnvs, verifierDigests } from "../hash/facts.js";
import { normalizeConfig, unitKey, type ExperimentFacts, type NormalizedConfig } from "../hash/keys.js";
import type { StatCache } from "../hash/stat-cache.js";
import { hypothesesDigest } from "../hypotheses/settle.js";
import { readLock, type LockFile } from "../lock/lockfile.js";
import { assess, type Assessment } from "../plan/assess.js";
import { planBuild, type BuildPlan, type KeyFn, type PlanOptions } from "../plan/plan.js";
import { Store } from "../store/store.js";
import { STATE_DIR } from "../workspace/state.js";
import type { LoadedWorkspace } from "./open.js";

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
  /** Per experiment of the plan: its normalised config, as keyed and as locked. */
  normalized: ReadonlyMap<string, NormalizedConfig>;
  singles: Map<string, string | undefined>;
  keyOf: KeyFn;
  lock: LockFile | undefined;
  /** Why `lock` is undefined although the file exists: git left merge conflicts in it. A build writes it afresh. */
  lockConflict?: CrystallizeError;
  statCache: StatCache;
  store: Store;
  dataDir: string;
  /** Interpreter facts of Python experiments. */
  pythons: PythonEnvs;
  /** Per experiment with hypotheses: what its verdicts are computed from (see hypothesesDigest). */
  hypotheses: Map<string, Digest>;
  /** Per output (`experiment#alias`): its loader's code closure, workspace-relative. */
  loaderFiles: Map<string, string[]>;
  /** The build's analyses of code, and what they compiled for the workers (see ModuleIndex.takeCompiled). */
  modules: ModuleIndex;
}

/** Reads code, inputs and env (through the stat cache), and prepares key computation. */
export async function prepareBuild(loaded: LoadedWorkspace, request: PlanRequest = {}): Promise<PreparedBuild> {
  const { workspace, graph } = loaded;
  const root = workspace.root;
  const targets = graph.resolveTargets(request.targets ?? [], loaded.from);
  const plan = planBuild(graph, targets, request);
  const configs = plan.experiments.map((e) => graph.node(e.name).config);
  const statCache = loaded.statCache;
  const modules = loaded.takeAnalyses() ?? new ModuleIndex(root, statCache);
  const singles = await checkExports(configs, modules);
  const pythons = new PythonEnvs(root, join(root, STATE_DIR));
  const facts = await gatherFacts(root, configs, modules, statCache, pythons);
  const loaderCode = await loaderClosures(configs, modules, pythons);
  const loaders = new Map([...loaderCode].map(([id, closure]) => [id, closure && digestValue(closure)]));
  const verifiers = await verifierDigests(configs, modules, pythons);
  await checkPythonSyntax(root, byInterpreter(modules.takeFreshPython(), configs, pythons), (rel) => modules.forget(rel));
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
  const { lock, lockConflict } = await readLockOrConflict(root, statCache);
  const force = new Set(request.forceAll ? plan.experiments.map((e) => e.name) : request.force ? (targets.length ? targets : plan.experiments.map((e) => e.name)) : []);
  const dataDir = join(root, workspace.settings.data);
  const loaderFiles = new Map([...loaderCode].map(([id, closure]) => [id, closure ? Object.keys(closure.files) : []]));
  return { loaded, plan, force, facts, normalized, singles, keyOf, lock, lockConflict, statCache, store: new Store(dataDir, statCache), dataDir, pythons, hypotheses, loaderFiles, modules };
}

/**
 * Python modules by the interpreter that runs them: that of the experiment whose folder holds
 * the module, else (a module shared from elsewhere) that of the first Python experiment.
 */
function byInterpreter(modules: string[], configs: ExperimentConfig[], pythons: PythonEnvs): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const python = configs.filter((c) => pythons.of(c) !== undefined);
  for (const rel of modules) {
    const owner = python.find((c) => rel.startsWith(`${c.dir}/`)) ?? python[0];
    if (!owner) continue;
    const executable = pythons.of(owner)!.executable;
    if (!out.has(executable)) out.set(executable, []);
    out.get(executable)!.push(rel);
  }
  return out;
}

/** The lock, or the merge conflict that makes it unreadable: planning goes on without it. */
async function readLockOrConflict(root: string, statCache: StatCache): Promise<{ lock?: LockFile; lockConflict?: CrystallizeError }> {
  try {
    return { lock: await readLock(root, statCache) };
  } catch (err) {
    if (err instanceof CrystallizeError && err.code === "LOCK_CONFLICT") return { lockConflict: err };
    throw err;
  }
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
