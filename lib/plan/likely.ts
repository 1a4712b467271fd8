import type { ExperimentFacts, NormalizedConfig } from "../hash/keys.js";
import type { LockFile } from "../lock/lockfile.js";
import type { BuildPlan } from "./plan.js";
import { definitionChanged } from "./reasons.js";

export interface LikelyInput {
  plan: BuildPlan;
  lock: LockFile | undefined;
  /** Per experiment of the plan: its normalised config. */
  configs: ReadonlyMap<string, NormalizedConfig>;
  facts: ReadonlyMap<string, ExperimentFacts>;
  force: ReadonlySet<string>;
}

/**
 * The first experiment of the plan that will most likely run: forced, missing from the lock,
 * or defined otherwise than in its locked build (config, code, packages, inputs, env, runtime),
 * so that its units' keys are new. A guess made before any key is looked up, so that a build
 * can start its workers while it settles what is up to date: an edited leaf of 500
 * experiments is reached ~250 ms into that. It decides nothing about what runs: a wrong guess
 * (a reverted edit, whose keys the store still holds) only starts a worker for nothing.
 * Undefined without a lock, when there is nothing to compare with.
 */
export function firstLikelyToRun(input: LikelyInput): string | undefined {
  if (!input.lock) return undefined;
  for (const { name } of input.plan.experiments) {
    const entry = input.lock.experiments[name];
    if (input.force.has(name) || !entry || definitionChanged(entry, input.configs.get(name)!, input.facts.get(name)!)) return name;
  }
  return undefined;
}
