import { join } from "node:path";
import type { Digest } from "../hash/digest.js";
import { settleHypotheses, type SettledHypotheses } from "../hypotheses/settle.js";
import { HYPOTHESES_FILE } from "../hypotheses/types.js";
import type { ExperimentPlan } from "../plan/plan.js";
import type { UnitRecord } from "../store/store.js";
import { settleVersion } from "../store/versions.js";
import type { ExecuteOptions } from "./executor.js";
import type { VerifyRequest } from "../runtime/protocol.js";
import type { VerifyOutcome } from "./pool.js";
import type { ExperimentResult, UnitResult } from "./results.js";
import { oneLine } from "./user-error.js";

/** An experiment whose units have all returned. */
export interface Finished {
  plan: ExperimentPlan;
  results: UnitResult[];
  /** When its units became ready (performance.now()). */
  started?: number;
}

/** Calls a custom verifier of an experiment's hypotheses in a worker (see Workers.verify). */
export type Verifier = (experiment: string, name: string, call: Pick<VerifyRequest, "baseline" | "treatment" | "params">) => Promise<VerifyOutcome>;

/** What an experiment comes to once its units are in. */
export interface Settled {
  result: ExperimentResult;
  /** Its units' records, which its dependents read; absent when a unit failed. */
  records?: UnitRecord[];
  /** Its hypotheses' verdicts, under way: they hold up the end of the build, not its dependents. */
  verdicts?: Promise<SettledHypotheses | undefined>;
}

/**
 * Gives a finished experiment its result: failed when a unit failed; otherwise its version
 * (found or new, see settleVersion) with its view written, and its hypotheses judged. A
 * verified experiment is only compared, never kept: its dependents read the locked version.
 * `upstreamVersion`: the version each settled upstream is in.
 */
export async function settleExperiment(o: ExecuteOptions, exp: Finished, upstreamVersion: (experiment: string) => number, verifier: Verifier, stopped: () => boolean): Promise<Settled> {
  const { plan } = exp;
  const durationMs = performance.now() - (exp.started ?? performance.now());
  if (exp.results.some((r) => r.outcome.status === "failed")) return { result: { name: plan.name, status: "failed", units: exp.results, durationMs } };
  const cfg = o.graph.node(plan.name).config;
  const units = [...exp.results].sort((a, b) => a.replicate - b.replicate || (a.condition < b.condition ? -1 : 1));
  const records = units.map((u) => (u.outcome as { record: UnitRecord }).record);
  if (o.verify?.experiments.has(plan.name)) {
    return { result: { name: plan.name, status: "built", version: o.verify.version(plan.name), units: exp.results, durationMs }, records };
  }
  const upstream: Record<string, number> = {};
  for (const edge of o.graph.node(plan.name).inputs) upstream[`${edge.experiment}#${edge.output}`] = upstreamVersion(edge.experiment);
  const { version, view } = await settleVersion(o.store, o.statCache, {
    experiment: plan.name,
    records,
    conditions: plan.conditions.map((c) => c.name),
    replicates: plan.replicates,
    seed: cfg.seed,
    outputs: Object.fromEntries(cfg.outputs.map((out) => [out.alias, out.fileName])),
    upstream,
    tag: o.tag,
  });
  const status = units.every((u) => u.cached) ? "cached" : "built";
  const digest = o.hypotheses?.get(plan.name);
  const verdicts = digest === undefined ? undefined : judge(o, plan, version, records, digest, verifier, stopped);
  return { result: { name: plan.name, status, version, view, units: exp.results, durationMs }, records, verdicts };
}

/**
 * Brings the version's hypotheses.json up to date. A verifier's failure is part of the
 * verdicts; only an I/O error of ours ends here, as a warning: the build still stands.
 */
async function judge(o: ExecuteOptions, plan: ExperimentPlan, version: number, records: UnitRecord[], digest: Digest, verifier: Verifier, stopped: () => boolean): Promise<SettledHypotheses | undefined> {
  try {
    return await settleHypotheses({
      path: join(o.store.dataDir, plan.name, `v${version}`, HYPOTHESES_FILE),
      digest,
      hypotheses: o.graph.node(plan.name).config.hypotheses,
      conditions: plan.conditions.map((c) => c.name),
      records,
      stopped,
      runCustom: async (name, baseline, treatment, params) => {
        const outcome = await verifier(plan.name, name, { baseline, treatment, params });
        if (outcome.status === "ok") return outcome.result;
        throw new Error(oneLine(outcome.error, o.root));
      },
    });
  } catch (err) {
    o.events.warn(plan.name, `hypotheses could not be evaluated: ${(err as Error).message}`);
    return undefined;
  }
}
