/**
 * Turns an experiment's recorded metrics into hypothesis verdicts. Pure apart from the custom
 * verifier runner it is given: user code runs in worker processes, never here.
 */
import { BASELINE, type HypothesisSpec } from "../config/types.js";
import { isBuiltin, runBuiltin } from "./builtins.js";
import { resultProblem } from "./result.js";
import type { HypothesisVerdict, VerdictOutcome } from "./types.js";

/** Metric name -> every value one condition recorded, replicates in order. */
export type Samples = Record<string, unknown[]>;

/** What evaluation needs of a hypothesis (its config location does not change a verdict). */
export type HypothesisInput = Pick<HypothesisSpec, "name" | "verifier" | "metrics" | "params">;

/**
 * Calls the export `verifier` of the experiment's verifiers module. Resolves with whatever it
 * returned; rejects with an Error whose message is what the verdict records.
 */
export type CustomVerifierRunner = (verifier: string, baseline: Samples, treatment: Samples, params: Record<string, unknown>) => Promise<unknown>;

/** The named metrics of one condition; a metric it did not record is an error naming both. */
function pick(samples: Samples, metrics: string[], who: string): Samples {
  const out: Samples = {};
  for (const m of metrics) {
    if (!Object.hasOwn(samples, m)) throw new Error(`metric \`${m}\` was not recorded by ${who}`);
    out[m] = samples[m];
  }
  return out;
}

function numeric(samples: Samples, who: string): Record<string, number[]> {
  for (const [m, values] of Object.entries(samples)) {
    const bad = values.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
    if (bad >= 0) throw new Error(`metric \`${m}\` of ${who} holds ${JSON.stringify(values[bad]) ?? String(values[bad])}; the built-in verifiers need finite numbers`);
  }
  return samples as Record<string, number[]>;
}

function outcomeOf(result: unknown): VerdictOutcome {
  const problem = resultProblem(result);
  if (problem) return { ok: false, error: problem };
  // Through JSON once, so the verdict holds exactly what hypotheses.json will.
  const r = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
  return { ok: true, result: r, pValue: typeof r.p_value === "number" ? r.p_value : null, significant: typeof r.significant === "boolean" ? r.significant : null };
}

async function judge(h: HypothesisInput, metrics: string[], baseline: Samples, treatment: Samples, name: string, runCustom: CustomVerifierRunner): Promise<VerdictOutcome> {
  try {
    if (metrics.length === 0) throw new Error("no metrics to compare: the baseline recorded none");
    const b = pick(baseline, metrics, "the baseline");
    const t = pick(treatment, metrics, `treatment \`${name}\``);
    if (isBuiltin(h.verifier)) return outcomeOf(runBuiltin(h.verifier, numeric(b, "the baseline"), numeric(t, `treatment \`${name}\``), metrics, h.params));
    return outcomeOf(await runCustom(h.verifier, b, t, h.params));
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Lowest p-value first; treatments whose result has no p-value last, by name; failures left out. */
export function rank(results: Record<string, VerdictOutcome>): Pick<HypothesisVerdict, "ranking" | "best"> {
  const ranking = Object.entries(results)
    .filter(([, o]) => o.ok)
    .map(([treatment, o]) => ({ treatment, pValue: o.ok ? o.pValue : null }))
    .sort((a, b) => {
      if (a.pValue !== null && b.pValue !== null) return a.pValue - b.pValue;
      if (a.pValue !== null || b.pValue !== null) return a.pValue === null ? 1 : -1;
      return a.treatment < b.treatment ? -1 : a.treatment > b.treatment ? 1 : 0;
    });
  const first = ranking[0];
  return { ranking, best: first && first.pValue !== null ? first.treatment : null };
}

/**
 * Every hypothesis against every treatment that recorded metrics, in condition order. A
 * hypothesis without `metrics` compares every metric the baseline recorded. Custom verifiers
 * run one call at a time, so an experiment's hypotheses never hold more than one worker.
 */
export async function evaluateHypotheses(
  hypotheses: HypothesisInput[],
  conditions: string[],
  samples: ReadonlyMap<string, Samples>,
  runCustom: CustomVerifierRunner,
): Promise<HypothesisVerdict[]> {
  const baseline = samples.get(BASELINE) ?? {};
  const treatments = conditions.filter((c) => c !== BASELINE && Object.keys(samples.get(c) ?? {}).length > 0);
  const verdicts: HypothesisVerdict[] = [];
  for (const h of hypotheses) {
    const metrics = h.metrics.length > 0 ? h.metrics : Object.keys(baseline).sort();
    const results: Record<string, VerdictOutcome> = {};
    for (const t of treatments) results[t] = await judge(h, metrics, baseline, samples.get(t)!, t, runCustom);
    verdicts.push({ name: h.name, verifier: h.verifier, metrics, params: h.params, results, ...rank(results) });
  }
  return verdicts;
}
