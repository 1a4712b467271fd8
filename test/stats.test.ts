// The built-in tests against scipy 1.17.1 (reference values from ecosystem.md Q10, the rest
// computed with the same scipy; the Python that produced them is in the comments).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { betaInc, erfc, logGamma, normalSf, studentTSf } from "../lib/hypotheses/special.js";
import { bootstrapMeanDiff, mannWhitneyExactSf, mannWhitneyU, StatsError, welchTTest } from "../lib/hypotheses/stats.js";

/** Relative agreement to 1e-9 (p-values down to 1e-47 keep their leading digits). */
function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  const err = expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(err <= tol, `${what}: ${actual} vs scipy ${expected} (relative error ${err})`);
}

const seeds5 = { a: [0.81, 0.79, 0.85, 0.83, 0.8], b: [0.77, 0.78, 0.76, 0.8, 0.75] };
/** ttest_ind(t1, t2, equal_var=False): p ~ 1e-13. */
const tiny = { x: [10.1, 10.3, 9.9, 10.2, 10.0, 10.4, 10.1, 10.2], y: [8.0, 8.2, 7.9, 8.1, 8.3, 7.8, 8.0, 8.1] };
/** Samples of 12 and 15 without ties: mannwhitneyu chooses the asymptotic method. */
const large = {
  x: [0.8456, 1.3216, 0.8304, -0.8032, 1.4054, 0.9464, -0.037, 1.0811, 0.8646, 0.7941, 0.5284, 1.0467],
  y: [-0.7365, -0.1629, -0.4821, 0.5988, 0.0397, -0.2925, -0.7819, -0.2572, 0.0081, -0.2756, 1.2941, 1.0067, -2.7112, -1.889, -0.1748],
};

const welch = suite("welch_t_test against scipy");

welch("seeds5 (ecosystem.md Q10): t, df, p two-sided and greater", () => {
  const r = welchTTest(seeds5.a, seeds5.b);
  close(r.t, 3.1920955004840557, "t");
  close(r.df, 7.627297697020922, "df");
  close(r.pValue, 0.013587624357213805, "p");
  close(welchTTest(seeds5.a, seeds5.b, "greater").pValue, 0.0067938121786069025, "p greater");
  close(welchTTest(seeds5.a, seeds5.b, "less").pValue, 0.9932061878213931, "p less");
});

welch("the sign follows (treatment, baseline): swapping the samples flips t and the one-sided p", () => {
  const r = welchTTest(seeds5.b, seeds5.a, "greater");
  close(r.t, -3.1920955004840557, "t");
  close(r.pValue, 0.9932061878213931, "p greater");
});

welch("tiny p-values keep their digits (2 * sf(|t|), never 1 - cdf)", () => {
  const r = welchTTest(tiny.x, tiny.y);
  close(r.t, 26.191601707417554, "t");
  close(r.df, 13.999999999999998, "df");
  close(r.pValue, 2.705028518088903e-13, "p");
  close(welchTTest(tiny.x, tiny.y, "greater").pValue, 1.3525142590444515e-13, "p greater");
  close(welchTTest(tiny.x, tiny.y, "less").pValue, 0.9999999999998648, "p less");
  const v1 = [4.95778, 5.02136, 5.02173, 5.21178, 4.8888, 4.96224, 5.20428, 5.06467, 5.06631, 4.9486, 4.83519, 5.01675, 5.0109, 4.87726, 4.93168, 4.9928, 4.90552, 4.99017, 5.00955, 5.00356, 4.94937, 5.05937, 5.08912, 5.03208, 4.91818, 5.07317, 4.94986, 5.08792, 4.89282, 5.09145];
  const v2 = [3.99799, 3.87513, 3.96861, 4.00541, 4.02728, 3.90178, 3.88926, 4.01996, 3.95333, 4.02355, 4.07595, 3.83512, 4.02544, 4.12246, 3.97025, 3.91892, 4.07522, 4.02534, 4.08959, 3.96548, 3.85182, 3.989, 3.95542, 4.07753, 4.01936, 3.83692, 3.88048, 4.08838, 4.06798, 3.93598];
  close(welchTTest(v1, v2).pValue, 2.5619377186604766e-47, "p ~ 1e-47");
  close(mannWhitneyU(v1, v2).pValue, 3.019859359162157e-11, "Mann-Whitney p ~ 1e-11");
});

welch("p close to 1 and a larger sample", () => {
  const near = welchTTest([1, 2, 3, 4], [1.01, 2, 3, 4]);
  close(near.t, -0.002742719656565332, "t");
  close(near.df, 5.999945947124131, "df");
  close(near.pValue, 0.9979005464529204, "p");
  const r = welchTTest(large.x, large.y);
  close(r.t, 3.3716124965433423, "t");
  close(r.df, 23.542568123599562, "df");
  close(r.pValue, 0.002574710689122196, "p");
});

welch("undefined cases throw a StatsError, never return NaN", () => {
  assert.throws(() => welchTTest([1], [1, 2]), (e: Error) => e instanceof StatsError && /at least 2 values/.test(e.message));
  assert.throws(() => welchTTest([1, 1, 1], [2, 2]), (e: Error) => e instanceof StatsError && /zero variance/.test(e.message));
  const oneConstant = welchTTest([1, 1, 1], [1, 2, 3]);
  assert.ok(Number.isFinite(oneConstant.pValue) && Number.isFinite(oneConstant.df), "one sample without variance is still defined");
});

welch.run();

const mwu = suite("mann_whitney_u against scipy");

mwu("seeds5 (ecosystem.md Q10): U of the first sample, asymptotic with tie and continuity correction", () => {
  const r = mannWhitneyU(seeds5.a, seeds5.b);
  assert.is(r.u, 23.5);
  assert.is(r.method, "asymptotic");
  close(r.pValue, 0.027802962434649296, "p");
  close(mannWhitneyU(seeds5.a, seeds5.b, { alternative: "greater" }).pValue, 0.013901481217324648, "p greater");
  close(mannWhitneyU(seeds5.a, seeds5.b, { alternative: "less" }).pValue, 0.9920146518231099, "p less");
});

mwu("exact distribution without ties and a sample of at most 8 (scipy's method='auto')", () => {
  const x = [1.1, 2.3, 3.5, 4.2, 5.9, 6.1, 7.4];
  const y = [8.2, 9.3, 10.1, 11.7, 12.4, 13.0];
  const r = mannWhitneyU(x, y);
  assert.equal([r.u, r.method], [0, "exact"]);
  close(r.pValue, 0.0011655011655011655, "p");
  close(mannWhitneyU(x, y, { alternative: "greater" }).pValue, 1, "p greater");
  close(mannWhitneyU(x, y, { alternative: "less" }).pValue, 0.0005827505827505828, "p less");
  const x2 = [0.12, 0.35, 0.47, 0.81, 0.29, 0.66];
  const y2 = [0.22, 0.41, 0.05, 0.18, 0.09, 0.31, 0.14, 0.27];
  const r2 = mannWhitneyU(x2, y2);
  assert.is(r2.u, 39);
  close(r2.pValue, 0.05927405927405928, "p");
  close(mannWhitneyU(x2, y2, { alternative: "greater" }).pValue, 0.02963702963702964, "p greater");
  close(mannWhitneyU(x2, y2, { alternative: "less" }).pValue, 0.9786879786879787, "p less");
  const many = Array.from({ length: 40 }, (_, i) => i + 0.25);
  const r3 = mannWhitneyU([0.5, 1.5, 2.5], many);
  assert.equal([r3.u, r3.method], [6, "exact"]);
  close(r3.pValue, 0.003727412689409286, "p, 3 against 40");
});

mwu("exact tail matches a brute-force count over every split of the ranks", () => {
  // Samples of 4 and 5 without ties: U of the first sample for each of the C(9,4) = 126 ways
  // to give it 4 of the ranks 1..9.
  const counts = new Array<number>(21).fill(0);
  for (let mask = 0; mask < 1 << 9; mask++) {
    const mine = [...Array(9).keys()].filter((i) => mask & (1 << i));
    if (mine.length !== 4) continue;
    counts[mine.reduce((s, r) => s + r + 1, 0) - 10]++;
  }
  for (let u = 0; u <= 20; u++) {
    const expected = counts.slice(u).reduce((a, b) => a + b, 0) / 126;
    close(mannWhitneyExactSf(u, 4, 5), expected, `sf(${u})`, 1e-15);
    close(mannWhitneyExactSf(u, 5, 4), expected, `sf(${u}), sizes swapped`, 1e-15);
  }
});

mwu("ties force the asymptotic method; both samples larger than 8 too", () => {
  const t1 = [1, 2, 2, 3, 3, 3, 4];
  const t2 = [2, 3, 4, 4, 5, 5, 6, 6];
  const r = mannWhitneyU(t1, t2);
  assert.equal([r.u, r.method], [8.5, "asymptotic"]);
  close(r.pValue, 0.025144761173357368, "p");
  close(mannWhitneyU(t1, t2, { alternative: "greater" }).pValue, 0.9907889372729505, "p greater");
  close(mannWhitneyU(t1, t2, { alternative: "less" }).pValue, 0.012572380586678684, "p less");
  close(mannWhitneyU(t1, t2, { useContinuity: false }).pValue, 0.0215562667600163, "p without continuity correction");
  const l = mannWhitneyU(large.x, large.y);
  assert.equal([l.u, l.method], [147, "asymptotic"]);
  close(l.pValue, 0.005834903437075228, "p");
});

mwu("edge cases: all values tied gives p = 1 (as scipy); empty samples and exact-with-ties throw", () => {
  assert.is(mannWhitneyU([2, 2, 2], [2, 2]).pValue, 1);
  assert.throws(() => mannWhitneyU([], [1]), (e: Error) => e instanceof StatsError);
  assert.throws(() => mannWhitneyU([1, 2], [2, 3], { method: "exact" }), /without ties/);
});

mwu.run();

const boot = suite("bootstrap_mean_diff");

boot("the same seed gives the same result; another seed another resampling", () => {
  const a = bootstrapMeanDiff(seeds5.a, seeds5.b, { seed: 7, nResamples: 2000 });
  assert.equal(bootstrapMeanDiff(seeds5.a, seeds5.b, { seed: 7, nResamples: 2000 }), a);
  const noisy = { x: [1, 5, 2, 8, 3], y: [2, 6, 1, 4, 7] };
  assert.not.equal(bootstrapMeanDiff(noisy.x, noisy.y, { seed: 1 }), bootstrapMeanDiff(noisy.x, noisy.y, { seed: 2 }));
});

boot("the interval agrees with scipy's percentile bootstrap and holds the difference", () => {
  // scipy.stats.bootstrap((a, b), mean diff, method='percentile', n_resamples=100000): [0.020, 0.068]
  const r = bootstrapMeanDiff(seeds5.a, seeds5.b);
  close(r.meanDiff, 0.044, "mean diff");
  assert.ok(Math.abs(r.ciLow - 0.02) < 0.003 && Math.abs(r.ciHigh - 0.068) < 0.003, `ci [${r.ciLow}, ${r.ciHigh}]`);
  assert.ok(r.ciLow > 0 && r.pValue < 0.01, `clear difference: p ${r.pValue}`);
  // Normal-ish samples with a known shift of 2: the interval contains it.
  const base = [0.3, -1.2, 0.8, 0.1, -0.4, 1.5, -0.9, 0.6, -0.2, 0.0, 1.1, -0.7];
  const shifted = base.map((v, i) => v + 2 + (i % 3) * 0.1 - 0.1);
  const s = bootstrapMeanDiff(shifted, base, { seed: 3 });
  assert.ok(s.ciLow < 2 && 2 < s.ciHigh, `[${s.ciLow}, ${s.ciHigh}] contains 2`);
});

boot("p-value: never 0, one-sided tails, no difference gives a large p", () => {
  const r = bootstrapMeanDiff(seeds5.a, seeds5.b, { nResamples: 999 });
  assert.is(r.pValue, 2 / 1000);
  assert.is(bootstrapMeanDiff(seeds5.a, seeds5.b, { nResamples: 999, alternative: "greater" }).pValue, 1 / 1000);
  assert.is(bootstrapMeanDiff(seeds5.a, seeds5.b, { nResamples: 999, alternative: "less" }).pValue, 1);
  assert.ok(bootstrapMeanDiff([1, 2, 3, 4], [1, 2, 3, 4]).pValue > 0.5);
  assert.throws(() => bootstrapMeanDiff([], [1]), (e: Error) => e instanceof StatsError);
});

boot.run();

const special = suite("special functions");

special("log-gamma, incomplete beta, t and normal tails at known values", () => {
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), "lgamma(1/2)");
  close(logGamma(10), Math.log(362880), "lgamma(10)");
  close(betaInc(0.5, 2, 2), 0.5, "I_0.5(2,2)");
  close(betaInc(0.3, 1, 1), 0.3, "I_x(1,1) = x");
  close(studentTSf(0, 5), 0.5, "t sf(0)");
  // scipy.stats.t.sf(2, 3), scipy.special.erfc(3), scipy.stats.norm.sf(8)
  close(studentTSf(2, 3), 0.06966298427942152, "t sf(2; 3)");
  close(erfc(3), 2.2090496998585445e-05, "erfc(3)");
  close(erfc(-1), 1.8427007929497148, "erfc(-1)");
  close(normalSf(8), 6.22096057427174e-16, "norm sf(8)");
});

special.run();
