/**
 * Two-sample tests behind the built-in verifiers. `x` is the treatment, `y` the baseline, so
 * that a positive statistic means "the treatment is higher", as in scipy's `f(x, y)`.
 * Undefined cases (too few values, no variance) throw a StatsError naming the reason.
 */
import { seededRandom } from "../runtime/random.js";
import { normalSf, studentTSf } from "./special.js";

export type Alternative = "two-sided" | "greater" | "less";
export const ALTERNATIVES: readonly Alternative[] = ["two-sided", "greater", "less"];

/** A test that is not defined for these samples. */
export class StatsError extends Error {
  override name = "StatsError";
}

function mean(v: readonly number[]): number {
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

/** Sample variance (n - 1 in the denominator). */
function variance(v: readonly number[], m: number): number {
  let s = 0;
  for (const x of v) s += (x - m) * (x - m);
  return s / (v.length - 1);
}

/** A p-value from the survival function of the statistic, for each alternative. */
function pFromSf(sf: (s: number) => number, statistic: number, alternative: Alternative): number {
  if (alternative === "greater") return sf(statistic);
  if (alternative === "less") return sf(-statistic);
  return Math.min(1, 2 * sf(Math.abs(statistic)));
}

export interface WelchResult {
  t: number;
  df: number;
  pValue: number;
  meanX: number;
  meanY: number;
}

/** Welch's unequal-variances t-test: scipy's `ttest_ind(x, y, equal_var=False)`. */
export function welchTTest(x: readonly number[], y: readonly number[], alternative: Alternative = "two-sided"): WelchResult {
  if (x.length < 2 || y.length < 2) throw new StatsError(`a t-test needs at least 2 values per sample (got ${x.length} and ${y.length})`);
  const meanX = mean(x);
  const meanY = mean(y);
  const vx = variance(x, meanX) / x.length;
  const vy = variance(y, meanY) / y.length;
  if (vx + vy === 0) throw new StatsError("both samples have zero variance: the t statistic is undefined");
  const t = (meanX - meanY) / Math.sqrt(vx + vy);
  const df = (vx + vy) ** 2 / (vx ** 2 / (x.length - 1) + vy ** 2 / (y.length - 1));
  return { t, df, pValue: pFromSf((s) => studentTSf(s, df), t, alternative), meanX, meanY };
}

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counting one half. */
  u: number;
  pValue: number;
  method: "exact" | "asymptotic";
}

export interface MannWhitneyOptions {
  alternative?: Alternative;
  /** Continuity correction of the normal approximation (scipy's default: true). */
  useContinuity?: boolean;
  /** `auto`: exact without ties when either sample has at most 8 values, as scipy decides. */
  method?: "auto" | "exact" | "asymptotic";
}

/** Average ranks (1-based) of `values`, and the size of every group of tied values. */
function rank(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2 + 1;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * P(U >= u) under the null hypothesis, without ties. The counts of U are the coefficients of
 * the Gaussian binomial [m+n choose m]_q = Π_{i=1..m} (1 - q^(n+i)) / (1 - q^i), built one
 * factor at a time with exact integers (they outgrow doubles quickly).
 */
export function mannWhitneyExactSf(u: number, n1: number, n2: number): number {
  const m = Math.min(n1, n2);
  const n = Math.max(n1, n2);
  const c = new Array<bigint>(m * n + n + m + 1).fill(0n);
  c[0] = 1n;
  let degree = 0;
  for (let i = 1; i <= m; i++) {
    for (let k = degree + n + i; k >= n + i; k--) c[k] -= c[k - n - i];
    degree += n;
    // Past the new degree the exact quotient's coefficients are 0: computing them clears the rest.
    for (let k = i; k <= degree + i; k++) c[k] += c[k - i];
  }
  let total = 0n;
  let upper = 0n;
  for (let k = 0; k <= m * n; k++) {
    total += c[k];
    if (k >= u) upper += c[k];
  }
  // Scaled down first so that neither count overflows a double.
  const shift = BigInt(Math.max(0, total.toString(2).length - 1000));
  return Number(upper >> shift) / Number(total >> shift);
}

/** Mann-Whitney U: scipy's `mannwhitneyu(x, y)` with `method='auto'`. */
export function mannWhitneyU(x: readonly number[], y: readonly number[], o: MannWhitneyOptions = {}): MannWhitneyResult {
  const alternative = o.alternative ?? "two-sided";
  if (x.length < 1 || y.length < 1) throw new StatsError(`a Mann-Whitney test needs at least 1 value per sample (got ${x.length} and ${y.length})`);
  const n1 = x.length;
  const n2 = y.length;
  const { ranks, ties } = rank([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  // The survival function is always used: "less" is the upper tail of U2, by symmetry.
  const [u, factor] = alternative === "greater" ? [u1, 1] : alternative === "less" ? [u2, 1] : [Math.max(u1, u2), 2];
  const tied = ties.some((t) => t > 1);
  const method = o.method === "exact" || o.method === "asymptotic" ? o.method : n1 > 8 && n2 > 8 ? "asymptotic" : tied ? "asymptotic" : "exact";
  if (method === "exact") {
    if (tied) throw new StatsError("the exact Mann-Whitney p-value needs samples without ties; use method: asymptotic");
    return { u: u1, pValue: Math.min(1, factor * mannWhitneyExactSf(u, n1, n2)), method };
  }
  const n = n1 + n2;
  const tieTerm = ties.reduce((s, t) => s + t ** 3 - t, 0);
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const numerator = u - (n1 * n2) / 2 - (o.useContinuity === false ? 0 : 0.5);
  // Every value tied: U sits at its mean and the test has nothing to say (scipy: p = 1).
  const sf = sd === 0 ? 1 : normalSf(numerator / sd);
  return { u: u1, pValue: Math.min(1, factor * sf), method };
}

export interface BootstrapOptions {
  seed?: number;
  nResamples?: number;
  confidenceLevel?: number;
  alternative?: Alternative;
}

export interface BootstrapResult {
  /** mean(x) - mean(y) of the samples themselves. */
  meanDiff: number;
  /** Percentile interval of the resampled differences at the confidence level (two-sided). */
  ciLow: number;
  ciHigh: number;
  /**
   * Share of resampled differences on the far side of 0, with the +1 correction that keeps it
   * above 0: `(1 + #{d <= 0}) / (B + 1)` for "greater", `(1 + #{d >= 0}) / (B + 1)` for
   * "less", and twice the smaller of the two (at most 1) for "two-sided".
   */
  pValue: number;
}

/** Linear interpolation between order statistics, numpy's default percentile. */
function percentile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap of the difference of means: each resample draws both samples anew,
 * with replacement, from a mulberry32 generator seeded by `seed`, so a seed fixes the result.
 */
export function bootstrapMeanDiff(x: readonly number[], y: readonly number[], o: BootstrapOptions = {}): BootstrapResult {
  const seed = o.seed ?? 0;
  const b = o.nResamples ?? 10000;
  const level = o.confidenceLevel ?? 0.95;
  if (x.length < 1 || y.length < 1) throw new StatsError(`a bootstrap needs at least 1 value per sample (got ${x.length} and ${y.length})`);
  const random = seededRandom(seed);
  const resampledMean = (v: readonly number[]) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[Math.floor(random() * v.length)];
    return s / v.length;
  };
  const diffs = new Float64Array(b);
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (let i = 0; i < b; i++) {
    const d = resampledMean(x) - resampledMean(y);
    diffs[i] = d;
    if (d <= 0) atOrBelow++;
    if (d >= 0) atOrAbove++;
  }
  diffs.sort();
  const tail = (count: number) => (1 + count) / (b + 1);
  const pValue =
    o.alternative === "greater" ? tail(atOrBelow) : o.alternative === "less" ? tail(atOrAbove) : Math.min(1, 2 * tail(Math.min(atOrBelow, atOrAbove)));
  return { meanDiff: mean(x) - mean(y), ciLow: percentile(diffs, (1 - level) / 2), ciHigh: percentile(diffs, 1 - (1 - level) / 2), pValue };
}
