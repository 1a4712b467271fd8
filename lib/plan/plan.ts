import { BASELINE } from "../config/types.js";
import { CrystallizeError, didYouMean } from "../errors/error.js";
import type { Graph } from "../graph/graph.js";
import type { Digest } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import { computeConditions, type Condition } from "./conditions.js";

/** Where one unit reads one upstream output. */
export interface Read {
  alias: string;
  experiment: string;
  output: string;
  condition: string;
  replicate: number;
  /** True when the upstream has no such active condition and its baseline is read instead. */
  fallback: boolean;
}

/** One (experiment, condition, replicate): the smallest piece of work, run by one worker. */
export interface Unit {
  experiment: string;
  condition: Condition;
  replicate: number;
  seed: number;
  reads: Read[];
}

/** Computes a unit's key once the digests of what it reads are known. */
export type KeyFn = (unit: Unit, readDigest: (read: Read) => Digest) => UnitKey;

export interface ExperimentPlan {
  name: string;
  replicates: number;
  conditions: Condition[];
  units: Unit[];
}

/** What a build will do, computed before anything runs. Pure: no I/O. */
export interface BuildPlan {
  /** Experiments in topological order: the targets and their upstream closure. */
  experiments: ExperimentPlan[];
  targets: string[];
}

export interface PlanOptions {
  /** Override every experiment's replicate count. */
  replicates?: number;
  /** Run only these treatments (and the baseline). */
  treatments?: string[];
}

/** Seeds are shared across conditions of a replicate (common random numbers), as in 0.x. */
export function replicateSeed(seed: number, replicate: number): number {
  return (seed + replicate * 31337) % 2 ** 32;
}

export function planBuild(graph: Graph, targets: string[], options: PlanOptions = {}): BuildPlan {
  const names = graph.closure(targets);
  const allConditions = computeConditions(graph);
  if (options.treatments) checkTreatments(graph, names, allConditions, options.treatments);
  const only = options.treatments ? new Set([BASELINE, ...options.treatments]) : undefined;
  const conditionsOf = (name: string) => allConditions.get(name)!.filter((c) => !only || only.has(c.name));
  const replicatesOf = (name: string) => options.replicates ?? graph.node(name).config.replicates;

  const experiments: ExperimentPlan[] = names.map((name) => {
    const node = graph.node(name);
    const conditions = conditionsOf(name);
    const replicates = replicatesOf(name);
    const units: Unit[] = [];
    for (const condition of conditions) {
      for (let r = 0; r < replicates; r++) {
        const reads = node.inputs.map((edge): Read => {
          const has = conditionsOf(edge.experiment).some((c) => c.name === condition.name);
          return {
            alias: edge.alias,
            experiment: edge.experiment,
            output: edge.output,
            condition: has ? condition.name : BASELINE,
            replicate: r % replicatesOf(edge.experiment),
            fallback: !has,
          };
        });
        units.push({ experiment: name, condition, replicate: r, seed: replicateSeed(node.config.seed, r), reads });
      }
    }
    return { name, replicates, conditions, units };
  });
  return { experiments, targets };
}

/**
 * A `--treatment` that is no active condition of any experiment in the build would build the
 * baselines alone and say nothing: a typo, or a treatment switched off in config.state.json.
 */
function checkTreatments(graph: Graph, names: string[], conditions: Map<string, Condition[]>, wanted: string[]): void {
  const active = new Set(names.flatMap((name) => conditions.get(name)!.map((c) => c.name)));
  for (const treatment of wanted) {
    if (active.has(treatment)) continue;
    const switchedOff = names.find((name) => graph.node(name).config.inactiveTreatments.includes(treatment));
    const known = [...active].filter((t) => t !== BASELINE).sort();
    const guess = didYouMean(treatment, known);
    const hint = switchedOff
      ? `it is inactive in ${switchedOff}; \`crystallize treatments ${switchedOff} --enable ${treatment}\` turns it on`
      : guess
        ? `did you mean \`${guess}\`?`
        : `active treatments here: ${known.join(", ") || "none"}`;
    throw new CrystallizeError("USAGE", `no experiment in this build has an active treatment "${treatment}"`, { hint });
  }
}
