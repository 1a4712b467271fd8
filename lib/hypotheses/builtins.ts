/**
 * The built-in verifiers: their params (checked when the config is loaded) and the result
 * objects they write into `hypotheses.json`. Pure; the statistics live in stats.ts.
 */
import { didYouMean } from "../errors/error.js";
import { ALTERNATIVES, bootstrapMeanDiff, mannWhitneyU, welchTTest, type Alternative } from "./stats.js";

type Params = Record<string, unknown>;

interface ParamSpec {
  default: unknown;
  /** What a valid value is, for the error message; undefined when `v` is valid. */
  problem(v: unknown): string | undefined;
}

const alpha: ParamSpec = {
  default: 0.05,
  problem: (v) => (typeof v === "number" && v > 0 && v < 1 ? undefined : "a number between 0 and 1"),
};
const alternative: ParamSpec = {
  default: "two-sided",
  problem: (v) => (ALTERNATIVES.includes(v as Alternative) ? undefined : "one of two-sided, greater, less"),
};
const integer = (min: number, max: number, fallback: number): ParamSpec => ({
  default: fallback,
  problem: (v) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `an integer from ${min} to ${max}`),
});

interface Builtin {
  params: Record<string, ParamSpec>;
  /** One metric, treatment first: a positive difference means the treatment is higher. */
  test(treatment: number[], baseline: number[], p: Params): Record<string, unknown> & { p_value: number };
}

const BUILTINS: Record<string, Builtin> = {
  welch_t_test: {
    params: { alpha, alternative },
    test(x, y, p) {
      const r = welchTTest(x, y, p.alternative as Alternative);
      return { t: r.t, df: r.df, p_value: r.pValue, mean_treatment: r.meanX, mean_baseline: r.meanY, mean_diff: r.meanX - r.meanY };
    },
  },
  mann_whitney_u: {
    params: {
      alpha,
      alternative,
      use_continuity: { default: true, problem: (v) => (typeof v === "boolean" ? undefined : "true or false") },
      method: { default: "auto", problem: (v) => (["auto", "exact", "asymptotic"].includes(v as string) ? undefined : "one of auto, exact, asymptotic") },
    },
    test(x, y, p) {
      const r = mannWhitneyU(x, y, { alternative: p.alternative as Alternative, useContinuity: p.use_continuity as boolean, method: p.method as "auto" });
      return { u: r.u, p_value: r.pValue, method: r.method };
    },
  },
  bootstrap_mean_diff: {
    params: {
      alpha,
      alternative,
      seed: integer(0, 2 ** 32 - 1, 0),
      n_resamples: integer(1, 10_000_000, 10000),
      confidence_level: { default: 0.95, problem: alpha.problem },
    },
    test(x, y, p) {
      const o = { seed: p.seed as number, nResamples: p.n_resamples as number, confidenceLevel: p.confidence_level as number, alternative: p.alternative as Alternative };
      const r = bootstrapMeanDiff(x, y, o);
      return { mean_diff: r.meanDiff, ci_low: r.ciLow, ci_high: r.ciHigh, confidence_level: o.confidenceLevel, n_resamples: o.nResamples, seed: o.seed, p_value: r.pValue };
    },
  },
};

/** Names usable in `hypotheses` without a verifiers module. */
export const BUILTIN_VERIFIER_NAMES = Object.keys(BUILTINS);

export function isBuiltin(verifier: string): boolean {
  return Object.hasOwn(BUILTINS, verifier);
}

/** The first problem with a built-in's params, as config errors report it. */
export function builtinParamsProblem(verifier: string, params: Params): { message: string; hint?: string } | undefined {
  const specs = BUILTINS[verifier].params;
  for (const [name, value] of Object.entries(params)) {
    const spec = specs[name];
    if (!spec) {
      const guess = didYouMean(name, Object.keys(specs));
      return { message: `${verifier} has no param \`${name}\``, hint: guess ? `did you mean \`${guess}\`?` : `its params: ${Object.keys(specs).join(", ")}` };
    }
    const problem = spec.problem(value);
    if (problem) return { message: `${verifier} param \`${name}\` must be ${problem}, got ${JSON.stringify(value)}` };
  }
  return undefined;
}

/**
 * Runs a built-in on each metric. One metric: its result, flat. Several: each unadjusted under
 * `per_metric`, and a family decision on top: the smallest p-value times the number of
 * metrics (Bonferroni), capped at 1.
 */
export function runBuiltin(verifier: string, baseline: Record<string, number[]>, treatment: Record<string, number[]>, metrics: string[], params: Params): Record<string, unknown> {
  const builtin = BUILTINS[verifier];
  const p: Params = { ...Object.fromEntries(Object.entries(builtin.params).map(([k, s]) => [k, s.default])), ...params };
  const a = p.alpha as number;
  const perMetric: Record<string, Record<string, unknown> & { p_value: number }> = {};
  for (const m of metrics) {
    const r = builtin.test(treatment[m], baseline[m], p);
    perMetric[m] = { metric: m, ...r, significant: r.p_value < a, alpha: a, alternative: p.alternative, n_treatment: treatment[m].length, n_baseline: baseline[m].length };
  }
  if (metrics.length === 1) return perMetric[metrics[0]];
  const pValue = Math.min(1, metrics.length * Math.min(...metrics.map((m) => perMetric[m].p_value)));
  return { p_value: pValue, significant: pValue < a, alpha: a, correction: "bonferroni", per_metric: perMetric };
}
