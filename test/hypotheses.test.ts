// Hypotheses: the pure evaluation, then end-to-end builds that write hypotheses.json, with
// built-in and custom verifiers, failures recorded as verdicts, and recomputation when only
// the hypotheses or the verifiers change.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { evaluateHypotheses, rank, type CustomVerifierRunner, type Samples } from "../lib/hypotheses/evaluate.js";
import { bootstrapMeanDiff, mannWhitneyU, welchTTest } from "../lib/hypotheses/stats.js";
import type { HypothesesFile, VerdictOutcome } from "../lib/hypotheses/types.js";
import { exists, makeWorkspace, readJson, runCli, writeFiles } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// The pure evaluation

const evaluation = suite("evaluate");

const SAMPLES = new Map<string, Samples>([
  ["baseline", { acc: [0.77, 0.78, 0.76, 0.8, 0.75], loss: [1, 2, 3, 4, 5] }],
  ["better", { acc: [0.81, 0.79, 0.85, 0.83, 0.8], loss: [1, 2, 3, 4, 6] }],
  ["same", { acc: [0.77, 0.78, 0.76, 0.8, 0.75], loss: [1, 2, 3, 4, 5] }],
  ["silent", {}],
]);
const CONDITIONS = ["baseline", "better", "same", "silent"];
const noCustom: CustomVerifierRunner = async () => {
  throw new Error("no custom verifier in this test");
};

evaluation("a built-in on one metric: the statistics of (treatment, baseline); ranking and best", async () => {
  const [v] = await evaluateHypotheses([{ name: "h", verifier: "welch_t_test", metrics: ["acc"], params: {} }], CONDITIONS, SAMPLES, noCustom);
  assert.equal(Object.keys(v.results), ["better", "same"], "treatments without metrics are left out");
  const better = v.results.better as Extract<VerdictOutcome, { ok: true }>;
  const expected = welchTTest(SAMPLES.get("better")!.acc as number[], SAMPLES.get("baseline")!.acc as number[]);
  assert.is(better.result.t, expected.t);
  assert.is(better.pValue, expected.pValue);
  assert.is(better.significant, true);
  assert.is(better.result.metric, "acc");
  assert.equal([(v.results.same as any).result.t, (v.results.same as any).pValue], [0, 1]);
  assert.equal(v.ranking, [{ treatment: "better", pValue: expected.pValue }, { treatment: "same", pValue: 1 }]);
  assert.is(v.best, "better");
  const flat = new Map<string, Samples>([["baseline", { acc: [1, 1, 1] }], ["t", { acc: [2, 2, 2] }]]);
  const [z] = await evaluateHypotheses([{ name: "h", verifier: "welch_t_test", metrics: ["acc"], params: {} }], ["baseline", "t"], flat, noCustom);
  assert.equal(z.results.t, { ok: false, error: "both samples have zero variance: the t statistic is undefined" });
  assert.is(z.best, null);
});

evaluation("several metrics: per_metric unadjusted, top-level p Bonferroni-adjusted, alpha from params", async () => {
  const [v] = await evaluateHypotheses([{ name: "h", verifier: "mann_whitney_u", metrics: ["acc", "loss"], params: { alpha: 0.01 } }], ["baseline", "better"], SAMPLES, noCustom);
  const r = (v.results.better as Extract<VerdictOutcome, { ok: true }>).result as any;
  const acc = mannWhitneyU(SAMPLES.get("better")!.acc as number[], SAMPLES.get("baseline")!.acc as number[]).pValue;
  const loss = mannWhitneyU([1, 2, 3, 4, 6], [1, 2, 3, 4, 5]).pValue;
  assert.is(r.per_metric.acc.p_value, acc);
  assert.is(r.per_metric.loss.p_value, loss);
  assert.is(r.p_value, Math.min(1, 2 * Math.min(acc, loss)));
  assert.is(r.correction, "bonferroni");
  assert.is(r.alpha, 0.01);
  assert.is(r.significant, r.p_value < 0.01);
});

evaluation("no metrics named: every metric the baseline recorded; a missing one is that treatment's error", async () => {
  const samples = new Map(SAMPLES);
  samples.set("partial", { acc: [0.9, 0.91] });
  const [v] = await evaluateHypotheses([{ name: "h", verifier: "bootstrap_mean_diff", metrics: [], params: { seed: 3 } }], ["baseline", "better", "partial"], samples, noCustom);
  assert.equal(v.metrics, ["acc", "loss"]);
  assert.equal(v.results.partial, { ok: false, error: "metric `loss` was not recorded by treatment `partial`" });
  const r = (v.results.better as Extract<VerdictOutcome, { ok: true }>).result as any;
  const acc = bootstrapMeanDiff(SAMPLES.get("better")!.acc as number[], SAMPLES.get("baseline")!.acc as number[], { seed: 3 });
  assert.equal([r.per_metric.acc.ci_low, r.per_metric.acc.ci_high, r.per_metric.acc.p_value], [acc.ciLow, acc.ciHigh, acc.pValue]);
});

evaluation("custom results: kept as returned; a non-object, non-JSON or throwing verifier is an error outcome", async () => {
  const calls: Array<[string, Samples, Samples, Record<string, unknown>]> = [];
  const returns: Record<string, unknown> = { obj: { p_value: 0.2, significant: false, extra: [1, "x"] }, num: 42, nan: { p_value: NaN }, fn: { f: () => 1 } };
  const run: CustomVerifierRunner = async (name, b, t, params) => {
    calls.push([name, b, t, params]);
    if (name === "throws") throw new Error("TypeError: nope");
    return returns[name];
  };
  const hyps = ["obj", "num", "nan", "fn", "throws"].map((n) => ({ name: n, verifier: n, metrics: ["acc"], params: { k: 1 } }));
  const verdicts = await evaluateHypotheses(hyps, ["baseline", "better"], SAMPLES, run);
  assert.equal(calls[0], ["obj", { acc: SAMPLES.get("baseline")!.acc }, { acc: SAMPLES.get("better")!.acc }, { k: 1 }], "only the named metrics are passed");
  assert.equal(verdicts[0].results.better, { ok: true, result: { p_value: 0.2, significant: false, extra: [1, "x"] }, pValue: 0.2, significant: false });
  const errors = verdicts.slice(1).map((v) => (v.results.better as { error: string }).error);
  assert.match(errors[0], /returned a number; it must return a plain object/);
  assert.match(errors[1], /result.p_value is NaN/);
  assert.match(errors[2], /result.f is a function/);
  assert.is(errors[3], "TypeError: nope");
  assert.equal(verdicts[1].ranking, []);
  assert.is(verdicts[1].best, null);
});

evaluation("ranking: p-values ascending, then results without a p-value by name; best needs a p-value", () => {
  const ok = (pValue: number | null): VerdictOutcome => ({ ok: true, result: {}, pValue, significant: null });
  const r = rank({ z: ok(null), a: ok(null), b: ok(0.3), c: ok(0.01), d: { ok: false, error: "x" } });
  assert.equal(r.ranking.map((x) => x.treatment), ["c", "b", "a", "z"]);
  assert.is(r.best, "c");
  assert.is(rank({ a: ok(null) }).best, null);
});

evaluation.run();

// ---------------------------------------------------------------------------------------------
// End to end

const e2e = suite("hypotheses in a build");

/** Accuracy around 0.8 + shift with seeded noise, and a loss; `drop` skips the accuracy. */
const STEPS = `
export const measure = (d: unknown, ctx: any) => {
  const shift = ctx.get("shift", 0);
  if (!ctx.get("drop", false)) ctx.metrics.add("accuracy", 0.8 + shift + ctx.random() * 0.05);
  ctx.metrics.add("loss", 1 - shift + ctx.random() * 0.05);
  return d;
};
`;

/** Verifiers that report what they received and count their calls in calls.log (cwd: the experiment folder). */
const VERIFIERS = `
import { appendFileSync } from "node:fs";
import { verifier } from "crystallize";
const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
export const echo = verifier(async (baseline, treatment, params) => {
  appendFileSync("calls.log", "echo\\n");
  const diff = mean(treatment.accuracy) - mean(baseline.accuracy);
  return { p_value: diff > 0 ? 0.001 : 0.5, significant: diff > 0, diff: diff * (params.scale as number), seen: { baseline, treatment, params } };
});
export function plain(baseline: Record<string, number[]>) {
  appendFileSync("calls.log", "plain\\n");
  return { note: "no p-value", n: baseline.accuracy.length };
}
export const explode = () => {
  throw new RangeError("verifier blew up");
};
export const exits = () => process.exit(3);
`;

const CONFIG = (params = "{scale: 2}", extra = "") => `replicates: 4
steps: [measure]
treatments:
  fast: {shift: 0.1}
  slow: {shift: -0.01}
  broken: {drop: true}
hypotheses:
  - name: faster
    verifier: welch_t_test
    metrics: accuracy
  - name: custom
    verifier: echo
    metrics: [accuracy]
    params: ${params}
  - name: exploding
    verifier: explode
    metrics: accuracy
  - name: unranked
    verifier: plain
    metrics: accuracy
${extra}`;

function workspace(): string {
  return makeWorkspace({
    "experiments/e/config.yaml": CONFIG(),
    "experiments/e/steps.ts": STEPS,
    "experiments/e/verifiers.ts": VERIFIERS,
  });
}

const hypothesesFile = (ws: string, version = 0): HypothesesFile => readJson(join(ws, "data", "e", `v${version}`, "hypotheses.json"));
const metrics = (ws: string, condition: string) => readJson(join(ws, "data", "e", "v0", condition, "results.json")).metrics as Record<string, number[]>;
const verdict = (file: HypothesesFile, name: string) => file.hypotheses.find((h) => h.name === name)!;
const calls = (ws: string) => (exists(join(ws, "experiments/e/calls.log")) ? readFileSync(join(ws, "experiments/e/calls.log"), "utf8").split("\n").filter(Boolean).length : 0);

async function buildJson(ws: string) {
  const r = await runCli(["build", "--json"], ws);
  assert.is(r.code, 0, r.output);
  return JSON.parse(r.stdout).experiments.find((e: { name: string }) => e.name === "e");
}

e2e("welch_t_test verdicts equal the statistics of the recorded metrics; errors stay per hypothesis; exit 0", async () => {
  const ws = workspace();
  writeFiles(ws, { "experiments/e/config.yaml": CONFIG(undefined, "  - name: dying\n    verifier: exits\n    metrics: accuracy\n") });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  const file = hypothesesFile(ws);
  assert.equal(file.hypotheses.map((h) => h.name), ["faster", "custom", "exploding", "unranked", "dying"]);
  // A verifier that kills its worker: recorded, and the next call gets a fresh worker.
  for (const t of ["fast", "slow"]) assert.equal(verdict(file, "dying").results[t], { ok: false, error: "the worker process exited with code 3 while running a verifier" }, t);

  const faster = verdict(file, "faster");
  const base = metrics(ws, "baseline").accuracy;
  assert.is(base.length, 4, "every replicate's value");
  for (const t of ["fast", "slow"]) {
    const expected = welchTTest(metrics(ws, t).accuracy, base);
    const o = faster.results[t] as Extract<VerdictOutcome, { ok: true }>;
    assert.equal([o.result.t, o.result.df, o.result.p_value, o.pValue], [expected.t, expected.df, expected.pValue, expected.pValue], t);
  }
  assert.equal(faster.results.broken, { ok: false, error: "metric `accuracy` was not recorded by treatment `broken`" });
  assert.is(faster.best, "fast");
  assert.equal(faster.ranking.map((x) => x.treatment), ["fast", "slow"]);

  const exploding = verdict(file, "exploding");
  for (const t of ["fast", "slow"]) {
    const o = exploding.results[t] as { ok: false; error: string };
    assert.is(o.ok, false);
    assert.match(o.error, /^RangeError: verifier blew up \(experiments\/e\/verifiers\.ts:\d+:\d+\)$/);
  }
  assert.is(exploding.best, null);

  const unranked = verdict(file, "unranked");
  assert.equal(unranked.results.fast, { ok: true, result: { note: "no p-value", n: 4 }, pValue: null, significant: null });
  assert.is(unranked.best, null);

  assert.match(r.stdout, /faster {2}welch_t_test on accuracy {2}best: fast/);
  assert.match(r.stdout, /exploding[\s\S]*fast {9}error: RangeError: verifier blew up/);
  assert.match(r.stdout, /broken {7}error: metric `accuracy` was not recorded/);
});

e2e("a custom TypeScript verifier gets the metric samples and params; cached builds call nothing", async () => {
  const ws = workspace();
  const first = await buildJson(ws);
  assert.is(first.hypotheses.recomputed, true);
  assert.is(first.hypotheses.path, "data/e/v0/hypotheses.json");
  const custom = first.hypotheses.verdicts.find((h: { name: string }) => h.name === "custom");
  const fast = custom.results.fast.result;
  assert.equal(fast.seen, { baseline: { accuracy: metrics(ws, "baseline").accuracy }, treatment: { accuracy: metrics(ws, "fast").accuracy }, params: { scale: 2 } });
  assert.is(fast.significant, true);
  assert.is(custom.best, "fast");
  const callsAfterFirst = calls(ws);
  assert.is(callsAfterFirst, 4, "echo and plain, for fast and slow");

  const again = await buildJson(ws);
  assert.is(again.status, "cached");
  assert.is(again.hypotheses.recomputed, false);
  assert.equal(again.hypotheses.verdicts, first.hypotheses.verdicts);
  assert.is(calls(ws), callsAfterFirst, "no verifier ran");
});

e2e("editing only a hypothesis's params: no unit reruns, verdicts updated", async () => {
  const ws = workspace();
  const before = await buildJson(ws);
  const showJson = async () => JSON.parse((await runCli(["show", "e", "--json"], ws)).stdout).current;
  assert.is((await showJson()).hypothesesOutdated, false);
  writeFiles(ws, { "experiments/e/config.yaml": CONFIG("{scale: 10}") });
  assert.is((await showJson()).hypothesesOutdated, true, "show says the verdicts predate the edit");
  assert.match((await runCli(["show", "e"], ws)).stdout, /out of date: config\.yaml's hypotheses or the verifiers changed/);
  const after = await buildJson(ws);
  assert.is((await showJson()).hypothesesOutdated, false, "the build recomputed them");
  assert.equal([after.status, after.units.ran], ["cached", 0]);
  assert.is(after.hypotheses.recomputed, true);
  const diff = (e: any) => e.hypotheses.verdicts.find((h: { name: string }) => h.name === "custom").results.fast.result.diff;
  assert.ok(Math.abs(diff(after) - 5 * diff(before)) < 1e-12, `${diff(after)} vs ${diff(before)}`);
  assert.is(verdict(hypothesesFile(ws), "custom").params.scale, 10);
});

e2e("editing only verifiers.ts: verdicts recomputed, units not rerun, the lock still matches", async () => {
  const ws = workspace();
  await buildJson(ws);
  const digest = hypothesesFile(ws).digest;
  writeFiles(ws, { "experiments/e/verifiers.ts": VERIFIERS.replace('note: "no p-value"', 'note: "edited"') });
  const after = await runCli(["build"], ws);
  assert.is(after.code, 0, after.output);
  assert.match(after.stdout, /0 built, 1 up to date/);
  assert.match(after.stdout, /hypotheses:[\s\S]*unranked {2}plain on accuracy/, "the summary shows verdicts judged anew");
  const file = hypothesesFile(ws);
  assert.is.not(file.digest, digest);
  assert.equal((verdict(file, "unranked").results.fast as any).result.note, "edited");
  const check = await runCli(["check"], ws);
  assert.is(check.code, 0, check.output);
});

e2e("hypotheses.json survives view repair; a missing or tampered file is recomputed; verify leaves it alone", async () => {
  const ws = workspace();
  await buildJson(ws);
  const path = join(ws, "data/e/v0/hypotheses.json");
  const original = readFileSync(path, "utf8");
  rmSync(join(ws, "data/e/v0/fast/results.json"));
  const repaired = await buildJson(ws);
  assert.is(repaired.hypotheses.recomputed, false);
  assert.ok(exists(join(ws, "data/e/v0/fast/results.json")));
  assert.is(readFileSync(path, "utf8"), original);

  rmSync(path);
  assert.is((await buildJson(ws)).hypotheses.recomputed, true);
  assert.is(readFileSync(path, "utf8"), original);

  writeFileSync(path, JSON.stringify({ digest: "old", hypotheses: [] }));
  assert.is((await buildJson(ws)).hypotheses.recomputed, true);
  assert.is(readFileSync(path, "utf8"), original);

  writeFiles(ws, { "experiments/e/config.yaml": CONFIG("{scale: 3}") });
  const callsBefore = calls(ws);
  const v = await runCli(["verify"], ws);
  assert.is(v.code, 0, v.output);
  assert.is(readFileSync(path, "utf8"), original);
  assert.is(calls(ws), callsBefore);
});

e2e("a consumer may test the treatments it inherits from its upstream; none here or upstream is exit 2", async () => {
  const ws = makeWorkspace({
    "experiments/up/config.yaml": "replicates: 3\nsteps: [emit]\noutputs: {o: {file_name: o.json}}\ntreatments: {high: {level: 10}}\n",
    "experiments/up/steps.ts": "export const emit = (_: unknown, ctx: any) => { ctx.outputs.o.write(JSON.stringify(ctx.get('level', 0) + ctx.replicate)); };\n",
    "experiments/down/config.yaml": "replicates: 3\ndatasource: {v: up#o}\nsteps: [read]\nhypotheses:\n  - {name: h, verifier: welch_t_test, metrics: value}\n",
    "experiments/down/steps.ts": "export const read = (d: { v: Buffer }, ctx: any) => { ctx.metrics.add('value', Number(d.v.toString())); };\n",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  const h = readJson(join(ws, "data/down/v0/hypotheses.json")).hypotheses[0];
  assert.equal(Object.keys(h.results), ["high"], "the inherited treatment is compared with the baseline");
  assert.is(h.results.high.result.mean_diff, 10);
  const alone = await runCli(["build"], makeWorkspace({ "experiments/down/config.yaml": "steps: [read]\nhypotheses:\n  - {name: h, verifier: welch_t_test, metrics: value}\n", "experiments/down/steps.ts": "export const read = () => {};\n" }));
  assert.is(alone.code, 2, alone.output);
  assert.match(alone.output, /no treatment is declared here or upstream/);
  assert.match(alone.output, /experiments\/down\/config\.yaml:3/);
});

e2e("hypotheses without a treatment, or a mistyped built-in param, are config errors (exit 2)", async () => {
  const steps = { "experiments/e/steps.ts": STEPS };
  const none = await runCli(["build"], makeWorkspace({ ...steps, "experiments/e/config.yaml": "steps: [measure]\nhypotheses:\n  - {name: h, verifier: welch_t_test, metrics: accuracy}\n" }));
  assert.is(none.code, 2, none.output);
  assert.match(none.output, /no treatment is declared/);
  const typo = await runCli(["build"], makeWorkspace({ ...steps, "experiments/e/config.yaml": "steps: [measure]\ntreatments: {t: {shift: 1}}\nhypotheses:\n  - {name: h, verifier: welch_t_test, metrics: accuracy, params: {alpah: 0.01}}\n" }));
  assert.is(typo.code, 2, typo.output);
  assert.match(typo.output, /welch_t_test has no param `alpah`/);
  assert.match(typo.output, /did you mean `alpha`\?/);
  const builtin = await runCli(["build"], makeWorkspace({ ...steps, "experiments/e/config.yaml": "steps: [measure]\ntreatments: {t: {shift: 1}}\nhypotheses:\n  - {name: h, verifier: welch_ttest, metrics: accuracy}\n" }));
  assert.is(builtin.code, 2, builtin.output);
  assert.match(builtin.output, /did you mean `welch_t_test`\?/);
});

e2e.run();
