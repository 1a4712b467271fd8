import type { Digest } from "../hash/digest.js";
import { CrystallizeError } from "../errors/error.js";
import { assess } from "../plan/assess.js";
import type { ExperimentResult } from "../run/results.js";
import { buildWorkspace, type BuildOptions } from "./build.js";
import type { LoadedWorkspace } from "./open.js";
import { assessBuild, prepareBuild } from "./prepare.js";

/** One output whose rebuilt bytes differ from the locked ones. */
export interface OutputMismatch {
  experiment: string;
  condition: string;
  replicate: number;
  file: string;
  locked: Digest | null;
  rebuilt: Digest;
}

export interface VerifyOutcome {
  /** True when every output of every verified experiment was reproduced exactly. */
  ok: boolean;
  /** Experiments re-executed. */
  verified: string[];
  mismatches: OutputMismatch[];
  experiments: ExperimentResult[];
  interrupted: boolean;
}

/**
 * The reproducibility check: re-executes the targets (all experiments by default) ignoring the
 * cache, reading their upstreams' locked outputs, and compares every output digest with
 * crystallize.lock. It stores nothing, so neither the lock nor any current version changes.
 */
export async function verifyWorkspace(loaded: LoadedWorkspace, options: Omit<BuildOptions, "verify" | "force" | "forceAll" | "replicates" | "treatments"> = {}): Promise<VerifyOutcome> {
  const p = await prepareBuild(loaded, { targets: options.targets });
  if (p.lockConflict) throw p.lockConflict;
  const lock = p.lock;
  const fromLock = await assess({ graph: loaded.graph, plan: p.plan, facts: p.facts, keyOf: p.keyOf, lock, force: new Set(), source: { kind: "lock" } });
  const fromStore = await assessBuild(p);
  const stale = p.plan.experiments.map((e) => e.name).filter((n) => fromLock.get(n)?.state !== "fresh" || fromStore.get(n)?.state !== "fresh");
  if (!lock || stale.length > 0) {
    throw new CrystallizeError("NOT_BUILT", `nothing to compare with: ${lock ? `${stale.join(", ")} ${stale.length === 1 ? "is" : "are"} not built as the lock says` : "there is no crystallize.lock"}`, {
      hint: "run `crystallize build` first; verify reruns a built, locked workspace and compares",
    });
  }
  // Everything is fresh: this runs nothing, it only makes sure the views to read from exist.
  await buildWorkspace(loaded, { targets: options.targets, jobs: options.jobs, onWait: options.onWait, evaluateHypotheses: false });
  const verified = p.plan.targets.length ? p.plan.targets : p.plan.experiments.map((e) => e.name);
  const outcome = await buildWorkspace(loaded, {
    ...options,
    verify: { experiments: new Set(verified), version: (name) => lock.experiments[name].version },
  });
  const mismatches: OutputMismatch[] = [];
  for (const result of outcome.experiments) {
    if (!verified.includes(result.name)) continue;
    const entry = lock.experiments[result.name];
    for (const u of result.units) {
      if (u.outcome.status !== "ok") continue;
      for (const out of Object.values(u.outcome.record.outputs)) {
        const locked = entry.outputs[`${u.condition}/replicate_${u.replicate}/${out.file}`] ?? null;
        if (locked !== out.digest) mismatches.push({ experiment: result.name, condition: u.condition, replicate: u.replicate, file: out.file, locked, rebuilt: out.digest });
      }
    }
  }
  mismatches.sort((a, b) => a.experiment.localeCompare(b.experiment) || a.condition.localeCompare(b.condition) || a.replicate - b.replicate || a.file.localeCompare(b.file));
  return { ok: outcome.ok && mismatches.length === 0, verified, mismatches, experiments: outcome.experiments, interrupted: outcome.interrupted };
}
