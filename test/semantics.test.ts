import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { exists, makeWorkspace, readJson, runCli } from "./helpers.js";

const results = (ws: string, exp: string, condition = "baseline", version = 0) => readJson(join(ws, "data", exp, `v${version}`, condition, "results.json"));
const conditionsOf = (ws: string, exp: string, version = 0) => readJson(join(ws, "data", exp, `v${version}`, "metadata.json")).conditions;

/** A step that records what it read from upstream, per alias, as the metric `read_<alias>`. */
const RECORD_READS = `
export const record = (data: Record<string, string>, ctx: any) => {
  for (const [alias, value] of Object.entries(data)) ctx.metrics.add("read_" + alias, String(value));
  ctx.outputs.o.write(ctx.params.tag ?? "none");
  return data;
};`;

/** An experiment with output `o` whose content names its condition/replicate: "<exp>:<condition>:<replicate>". */
const producer = (name: string, extra = "") => ({
  [`experiments/${name}/config.yaml`]: `outputs: {o: {file_name: o.txt}}\nsteps: [emit]\n${extra}`,
  [`experiments/${name}/steps.ts`]: `export const emit = (d: unknown, ctx: any) => { ctx.outputs.o.write("${name}:" + ctx.condition + ":" + ctx.replicate); return d; };`,
});

const consumer = (name: string, reads: Record<string, string>, extra = "") => ({
  [`experiments/${name}/config.yaml`]: `datasource: {${Object.entries(reads).map(([a, r]) => `${a}: ${r}`).join(", ")}}\noutputs: {o: {file_name: o.txt}}\nsteps: [record]\n${extra}`,
  [`experiments/${name}/steps.ts`]: RECORD_READS,
});

const params = suite("params and metrics");

params("ctx.params: treatment values over step kwargs over the step's defaults", async () => {
  const ws = makeWorkspace({
    "experiments/p/config.yaml": `
steps:
  - show: {scale: 20, keep: kwarg}
treatments:
  baseline: {}
  t: {keep: treatment}
`,
    "experiments/p/steps.ts": `
import { pipelineStep } from "crystallize";
export const show = pipelineStep({ delta: 1, scale: 10, keep: "default" }, (data: unknown, ctx) => {
  for (const k of ["delta", "scale", "keep"]) ctx.metrics.add(k, ctx.params[k]);
  ctx.metrics.add("via_get", ctx.get("missing", "fallback"));
  return data;
});`,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "p").metrics, { delta: [1], scale: [20], keep: ["kwarg"], via_get: ["fallback"] });
  assert.equal(results(ws, "p", "t").metrics, { delta: [1], scale: [20], keep: ["treatment"], via_get: ["fallback"] });
});

params("withMetrics and ctx.metrics.add both record; data flows step to step", async () => {
  const ws = makeWorkspace({
    "experiments/m/config.yaml": "datasource: {n: numbers}\nsteps: [double, report]\n",
    "experiments/m/datasources.ts": "export const numbers = () => [1, 2, 3];",
    "experiments/m/steps.ts": `
import { withMetrics } from "crystallize";
export const double = (data: { n: number[] }, ctx: any) => { ctx.metrics.add("added", 1); return data.n.map((x) => x * 2); };
export const report = async (data: number[]) => withMetrics(data, { sum: data.reduce((a, b) => a + b, 0) });`,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "m").metrics, { added: [1], sum: [12] });
});

params("a datasource mapping gives an object keyed by alias, even with one alias", async () => {
  const ws = makeWorkspace({
    "experiments/d/config.yaml": "datasource: {numbers: numbers}\nsteps: [keys]\n",
    "experiments/d/datasources.ts": "export const numbers = () => [1, 2, 3];\nexport const other = () => 'unused';",
    "experiments/d/steps.ts": "export const keys = (data: any, ctx: any) => { ctx.metrics.add('keys', Object.keys(data).join(',')); ctx.metrics.add('len', data.numbers.length); return data; };",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "d").metrics, { keys: ["numbers"], len: [3] });
});

params("without datasource:, the single exported source's value is passed as is", async () => {
  const ws = makeWorkspace({
    "experiments/s/config.yaml": "steps: [look]\n",
    "experiments/s/datasources.ts": "import { dataSource } from 'crystallize';\nexport const numbers = dataSource(() => ({ numbers: [1, 2, 3] }));",
    "experiments/s/steps.ts": "export const look = (data: any, ctx: any) => { ctx.metrics.add('total', data.numbers.reduce((a: number, b: number) => a + b, 0)); return data; };",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "s").metrics, { total: [6] });
});

params.run();

const replicates = suite("replicates and seeds");

replicates("each replicate gets seed + r*31337 shared by conditions; two builds give identical outputs", async () => {
  const ws = makeWorkspace({
    "experiments/r/config.yaml": "replicates: 3\nseed: 42\noutputs: {o: {file_name: o.txt}}\nsteps: [draw]\ntreatments: {t: {}}\n",
    "experiments/r/steps.ts": "export const draw = (d: unknown, ctx: any) => { const x = ctx.random(); ctx.metrics.add('seed', ctx.seed); ctx.metrics.add('x', x); ctx.outputs.o.write(String(x)); return d; };",
  });
  assert.is((await runCli(["build"], ws)).code, 0);
  const first = results(ws, "r");
  assert.equal(first.metrics.seed, [42, 42 + 31337, 42 + 2 * 31337]);
  assert.equal(results(ws, "r", "t").metrics.seed, first.metrics.seed, "conditions share replicate seeds");
  assert.equal(results(ws, "r", "t").metrics.x, first.metrics.x, "same seed, same draws");
  assert.is(new Set(first.metrics.x).size, 3, "replicates draw differently");
  const before = readdirSync(join(ws, "data/r/v0/replicate_1/baseline")).map((f) => readFileSync(join(ws, "data/r/v0/replicate_1/baseline", f), "utf8"));
  const lockBefore = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const again = await runCli(["build", "--force"], ws);
  assert.is(again.code, 0, again.output);
  assert.match(again.stderr, /▸ r/, "--force really reran it");
  assert.equal(readdirSync(join(ws, "data/r")).filter((n) => !n.startsWith(".")), ["v0"], "identical result: no new version");
  const after = readdirSync(join(ws, "data/r/v0/replicate_1/baseline")).map((f) => readFileSync(join(ws, "data/r/v0/replicate_1/baseline", f), "utf8"));
  assert.equal(after, before);
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lockBefore, "same outputs, same lock");
});

replicates("replicate r reads upstream replicate r % n", async () => {
  const ws = makeWorkspace({ ...producer("up", "replicates: 2\n"), ...consumer("down", { u: "up#o" }, "replicates: 3\n") });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "down").metrics.read_u, ["up:baseline:0", "up:baseline:1", "up:baseline:0"]);
});

replicates.run();

const treatments = suite("treatments");

treatments("treatments are conditions with their own results and artifacts", async () => {
  const ws = makeWorkspace(producer("up", "treatments: {baseline: {}, a: {x: 1}, b: {x: 2}}\n"));
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.equal(conditionsOf(ws, "up"), ["baseline", "a", "b"]);
  for (const c of ["baseline", "a", "b"]) {
    assert.is(readFileSync(join(ws, `data/up/v0/replicate_0/${c}/o.txt`), "utf8"), `up:${c}:0`);
    assert.ok(exists(join(ws, `data/up/v0/${c}/results.json`)));
  }
});

treatments("treatments flow downstream by name along a chain", async () => {
  const ws = makeWorkspace({
    ...producer("up", "treatments: {t1: {tag: from_up}}\n"),
    ...consumer("mid", { u: "up#o" }),
    ...consumer("down", { m: "mid#o" }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(conditionsOf(ws, "mid"), ["baseline", "t1"]);
  assert.equal(conditionsOf(ws, "down"), ["baseline", "t1"]);
  assert.equal(results(ws, "mid", "t1").metrics.read_u, ["up:t1:0"]);
  assert.equal(results(ws, "down", "t1").metrics.read_m, ["from_up"], "inherited treatment values reach ctx.params downstream");
  assert.equal(results(ws, "down").metrics.read_m, ["none"]);
});

treatments("treatments flow through a diamond once, and each side reads its own condition", async () => {
  const ws = makeWorkspace({
    ...producer("top", "treatments: {tt: {}}\n"),
    ...consumer("left", { t: "top#o" }),
    ...consumer("right", { t: "top#o" }),
    ...consumer("join", { l: "left#o", r: "right#o" }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(conditionsOf(ws, "join"), ["baseline", "tt"]);
  assert.equal(results(ws, "left", "tt").metrics.read_t, ["top:tt:0"]);
  assert.equal(results(ws, "join", "tt").metrics, { read_l: ["none"], read_r: ["none"] });
});

treatments("config.state.json switches a treatment off here and downstream", async () => {
  const ws = makeWorkspace({
    ...producer("up", "treatments: {t1: {}, t2: {}}\n"),
    "experiments/up/config.state.json": JSON.stringify({ inactive_treatments: ["t2"] }),
    ...consumer("down", { u: "up#o" }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(conditionsOf(ws, "up"), ["baseline", "t1"]);
  assert.equal(conditionsOf(ws, "down"), ["baseline", "t1"]);
  assert.not.ok(exists(join(ws, "data/up/v0/replicate_0/t2")));
  assert.equal(results(ws, "down", "t1").metrics.read_u, ["up:t1:0"]);
});

treatments("a condition the upstream lacks reads the upstream baseline, with a warning", async () => {
  const ws = makeWorkspace({ ...producer("up"), ...consumer("down", { u: "up#o" }, "treatments: {own: {tag: mine}}\n") });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "down", "own").metrics.read_u, ["up:baseline:0"]);
  assert.match(r.stderr, /warning down: condition "own": up has no active "own", reading its baseline/);
});

treatments("--treatment runs only the named treatments; --replicates overrides counts", async () => {
  const ws = makeWorkspace(producer("up", "replicates: 5\ntreatments: {a: {}, b: {}}\n"));
  const r = await runCli(["build", "--treatment", "a", "--replicates", "2"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(conditionsOf(ws, "up"), ["baseline", "a"]);
  assert.equal(readdirSync(join(ws, "data/up/v0")).filter((n) => n.startsWith("replicate_")).sort(), ["replicate_0", "replicate_1"]);
});

treatments("a --treatment no experiment has active is refused, with what to do, before anything runs", async () => {
  const ws = makeWorkspace({
    ...producer("up", "treatments: {plus_one: {}, t2: {}}\n"),
    "experiments/up/config.state.json": JSON.stringify({ inactive_treatments: ["t2"] }),
    ...consumer("down", { u: "up#o" }),
  });
  const typo = await runCli(["build", "--treatment", "plus_on"], ws);
  assert.is(typo.code, 2, typo.output);
  assert.match(typo.stderr, /no experiment in this build has an active treatment "plus_on"/);
  assert.match(typo.stderr, /did you mean `plus_one`\?/);
  const off = await runCli(["build", "--treatment", "t2"], ws);
  assert.is(off.code, 2, off.output);
  assert.match(off.stderr, /it is inactive in up; `crystallize treatments up --enable t2` turns it on/);
  const unknown = await runCli(["build", "--treatment", "zzz", "--treatment", "plus_one"], ws);
  assert.is(unknown.code, 2, unknown.output);
  assert.match(unknown.stderr, /active treatments here: plus_one/);
  assert.not.ok(exists(join(ws, "data/up")), "nothing ran");
  const ok = await runCli(["build", "--treatment", "plus_one"], ws);
  assert.is(ok.code, 0, ok.output);
  assert.equal(conditionsOf(ws, "down"), ["baseline", "plus_one"]);
});

treatments.run();

const io = suite("writers and loaders");

io("the producer's loader turns the file into a value; without a loader the consumer gets bytes", async () => {
  const ws = makeWorkspace({
    "experiments/p/config.yaml": "outputs:\n  j: {file_name: j.json, writer: dump, loader: load}\n  raw: {file_name: raw.bin}\nsteps: [w]\n",
    "experiments/p/outputs.ts": "import { readFileSync } from 'node:fs';\nexport const dump = (v: unknown) => JSON.stringify(v);\nexport const load = (p: string) => JSON.parse(readFileSync(p, 'utf8'));",
    "experiments/p/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.j.write({ a: 1 }); ctx.outputs.raw.write(Buffer.from([1, 2, 3])); return d; };",
    "experiments/c/config.yaml": "datasource: {j: p#j, raw: p#raw}\nsteps: [look]\n",
    "experiments/c/steps.ts": "export const look = (d: any, ctx: any) => { ctx.metrics.add('a', d.j.a); ctx.metrics.add('raw', Buffer.isBuffer(d.raw) ? [...d.raw].join(',') : 'not bytes'); return d; };",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "c").metrics, { a: [1], raw: ["1,2,3"] });
});

io.run();

