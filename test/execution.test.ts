import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Compiler } from "../lib/run/compile.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import { exists, makeWorkspace, readJson, runCli, startCli, waitFor } from "./helpers.js";
import { WorkerPool } from "../dist/lib/run/pool.js";

const SLEEP_STEP = (ms: number) => `
export const nap = async (d: unknown, ctx: any) => {
  ctx.metrics.add("start", Date.now());
  await new Promise((r) => setTimeout(r, ${ms}));
  ctx.metrics.add("end", Date.now());
  ctx.outputs.o.write("x");
  return d;
};`;

const sleeper = (name: string, ms: number, extra = "") => ({
  [`experiments/${name}/config.yaml`]: `outputs: {o: {file_name: o.txt}}\nsteps: [nap]\n${extra}`,
  [`experiments/${name}/steps.ts`]: SLEEP_STEP(ms),
});

const span = (ws: string, exp: string, rep = 0) => {
  const m = readJson(join(ws, "data", exp, "v0", "baseline", "results.json")).replicates[rep].metrics;
  return { start: m.start[0] as number, end: m.end[0] as number };
};
const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

test("user code runs in a child process, not in the CLI's process or a worker thread", async () => {
  const ws = makeWorkspace({
    "experiments/w/config.yaml": "steps: [where]\n",
    "experiments/w/steps.ts": "import { isMainThread } from 'node:worker_threads';\nexport const where = (d: unknown, ctx: any) => { ctx.metrics.add('pid', process.pid); ctx.metrics.add('main_thread', isMainThread); return d; };",
  });
  const child = startCli(["build"], ws);
  const code = await new Promise<number>((r) => child.on("exit", (c) => r(c ?? 1)));
  assert.is(code, 0);
  const m = readJson(join(ws, "data/w/v0/baseline/results.json")).metrics;
  assert.is.not(m.pid[0], child.pid);
  assert.is(m.main_thread[0], true);
  assert.not.ok(exists(join(ws, "node_modules")), "no node_modules in the workspace: 'crystallize' resolved by the tool");
});

test("independent experiments run concurrently with -j 2 and one at a time with -j 1", async () => {
  const ws = makeWorkspace({ ...sleeper("a", 800), ...sleeper("b", 800) });
  assert.is((await runCli(["build", "-j", "2"], ws)).code, 0);
  assert.ok(overlap(span(ws, "a"), span(ws, "b")), "a and b overlap at -j 2");
  const ws1 = makeWorkspace({ ...sleeper("a", 300), ...sleeper("b", 300) });
  assert.is((await runCli(["build", "-j", "1"], ws1)).code, 0);
  assert.not.ok(overlap(span(ws1, "a"), span(ws1, "b")), "no overlap at -j 1");
});

test("replicates of one experiment run concurrently", async () => {
  const ws = makeWorkspace(sleeper("r", 800, "replicates: 2\n"));
  assert.is((await runCli(["build", "-j", "2"], ws)).code, 0);
  assert.ok(overlap(span(ws, "r", 0), span(ws, "r", 1)));
});

test("an experiment starts when its own upstream is done, not when its level is", async () => {
  // slow -> after_slow and fast -> after_fast: after_fast must start while slow still runs.
  const ws = makeWorkspace({
    ...sleeper("slow", 2000),
    ...sleeper("fast", 100),
    "experiments/after_fast/config.yaml": "datasource: {x: fast#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [nap]\n",
    "experiments/after_fast/steps.ts": SLEEP_STEP(100),
  });
  const r = await runCli(["build", "-j", "2"], ws);
  assert.is(r.code, 0, r.output);
  assert.ok(span(ws, "after_fast").start < span(ws, "slow").end, "after_fast started before slow finished");
});

test("experiment modules load as CommonJS or as ES modules, as Node and tsx would load them", async () => {
  // CommonJS TypeScript (no package.json type): modules share one instance of a local helper.
  const cjs = makeWorkspace({
    "experiments/c/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [count, finish]\n",
    "experiments/c/helper.ts": "export const seen: string[] = [];\n",
    "experiments/c/datasources.ts": "import { seen } from './helper';\nexport const src = () => { seen.push('ds'); return 1; };\n",
    "experiments/c/steps.ts":
      "import { seen } from './helper';\nexport const count = (d: number, ctx: any) => { ctx.metrics.add('seen', seen.length); ctx.metrics.add('url', import.meta.url.endsWith('/steps.ts')); return d; };\n" +
      "export const finish = (d: number, ctx: any) => { ctx.outputs.o.write(String(d)); return d; };\nexport default { finish };\n",
  });
  let r = await runCli(["build"], cjs);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(cjs, "data/c/v0/baseline/results.json")).metrics, { seen: [1], url: [true] });
  // An ES-module workspace: top-level await works only if steps.ts is loaded as an ES module.
  const esm = makeWorkspace({
    "package.json": JSON.stringify({ name: "ws", private: true, type: "module" }),
    "experiments/m/config.yaml": "steps: [offset]\n",
    "experiments/m/steps.ts": "const base = await Promise.resolve(5);\nexport const offset = (d: unknown, ctx: any) => { ctx.metrics.add('base', base); return d; };\n",
  });
  r = await runCli(["build"], esm);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(esm, "data/m/v0/baseline/results.json")).metrics, { base: [5] });
});

test("CommonJS TypeScript may import() TypeScript modules and crystallize at run time", async () => {
  // Workers start without the ES module loader hooks; code that calls import() gets them first.
  const ws = makeWorkspace({
    "experiments/d/config.yaml": "steps: [go]\n",
    "experiments/d/helper.ts": "export const value: number = 41;\n",
    "experiments/d/steps.ts":
      'const name = "helper";\nexport const go = async (d: unknown, ctx: any) => {\n  const h = await import("./" + name + ".ts");\n  const api = await import("crystallize");\n' +
      '  ctx.metrics.add("v", h.value + 1);\n  ctx.metrics.add("api", typeof api.pipelineStep);\n  return d;\n};\n',
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/d/v0/baseline/results.json")).metrics, { v: [42], api: ["function"] });
});

test(".mts, .mjs and CommonJS .js modules run as they are in a CommonJS workspace", async () => {
  const ws = makeWorkspace({
    "experiments/m/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [go]\n",
    "experiments/m/steps.mts":
      'import { pipelineStep } from "crystallize";\nconst base: number = await Promise.resolve(2);\n' +
      'export const go = pipelineStep((d: unknown, ctx: any) => { ctx.metrics.add("base", base); ctx.outputs.o.write(String(base)); return d; });\n',
    "experiments/j/config.yaml": "datasource: {m: m#o}\nsteps: [go]\n",
    "experiments/j/steps.mjs": 'import { pipelineStep } from "crystallize";\nexport const go = pipelineStep((d, ctx) => { ctx.metrics.add("m", Number(String(d.m))); return d; });\n',
    "experiments/c/config.yaml": "steps: [go]\n",
    "experiments/c/steps.js": "exports.go = (d, ctx) => { ctx.metrics.add('cjs', true); return d; };\n",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/m/v0/baseline/results.json")).metrics, { base: [2] });
  assert.equal(readJson(join(ws, "data/j/v0/baseline/results.json")).metrics, { m: [2] });
  assert.equal(readJson(join(ws, "data/c/v0/baseline/results.json")).metrics, { cjs: [true] });
});

test("an output written to a nested file_name lands there and tells the step its file name", async () => {
  const ws = makeWorkspace({
    "experiments/n/config.yaml": "outputs: {table: {file_name: tables/main.csv}, note: {}}\nsteps: [emit]\n",
    "experiments/n/steps.ts": "export const emit = (d: unknown, ctx: any) => { ctx.outputs.table.write(ctx.outputs.table.fileName); ctx.outputs.note.write(ctx.outputs.note.fileName); return d; };\n",
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.is(readFileSync(join(ws, "data/n/v0/replicate_0/baseline/tables/main.csv"), "utf8"), "tables/main.csv");
  assert.is(readFileSync(join(ws, "data/n/v0/replicate_0/baseline/note"), "utf8"), "note");
  assert.equal(readdirSync(join(ws, "data/.tmp")), [], "nothing staged is left behind");
});

/** A module whose behaviour differs if compiled otherwise than tsx would for CommonJS. */
const PROBE_STEP = [
  "import { basename } from 'node:path';",
  "import { helperName } from '../common/helper';",
  "enum Colour { Red = 1, Green }",
  "class Box { static kind = 'box'; constructor(public size: number) {} }",
  "const named = () => 1;",
  "export default { tag: 'default' };",
  "export const go = (d: unknown, ctx: any) => {",
  "  ctx.metrics.add('file', basename(__filename));",
  "  ctx.metrics.add('dir', basename(__dirname));",
  "  ctx.metrics.add('enum', Colour.Green);",
  "  ctx.metrics.add('box', new Box(3).size + Box.kind);",
  "  ctx.metrics.add('name', named.name + ':' + helperName());",
  "  ctx.metrics.add('exports', Object.keys(module.exports).sort().join(','));",
  "  return d;",
  "};",
  "export const boom = () => {",
  "  throw new Error('boom at line 17');",
  "};",
].join("\n");

test("TypeScript compiled by the CLI behaves as tsx's: names, __filename, enums, interop, error lines", async () => {
  const files = {
    "experiments/common/helper.ts": "export function helperName(): string { return 'helper'; }\nexport const unused = 0;\n",
    "experiments/p/config.yaml": "steps: [go]\n",
    "experiments/p/steps.ts": PROBE_STEP,
    "experiments/q/config.yaml": "steps: [boom]\n",
    "experiments/q/steps.ts": PROBE_STEP,
  };
  const ws = makeWorkspace(files);
  const compiled = await new Compiler(ws, StatCache.load(undefined)).compiled(["experiments/p/steps.ts", "experiments/common/helper.ts", "experiments/p/config.yaml"]);
  assert.equal(Object.keys(compiled).sort(), [join(ws, "experiments/common/helper.ts"), join(ws, "experiments/p/steps.ts")], "the CLI compiles these two");
  // The same modules left to tsx: a tsconfig.json in the workspace sends every module to it.
  const viaTsx = makeWorkspace({ ...files, "tsconfig.json": "{}\n" });
  assert.equal(await new Compiler(viaTsx, StatCache.load(undefined)).compiled(["experiments/p/steps.ts"]), {}, "with a tsconfig.json, tsx compiles");
  const expected = { file: ["steps.ts"], dir: ["p"], enum: [2], box: ["3box"], name: ["named:helper"], exports: ["boom,default,go"] };
  for (const w of [ws, viaTsx]) {
    const r = await runCli(["build", "--keep-going"], w);
    assert.is(r.code, 1, r.output);
    assert.equal(readJson(join(w, "data/p/v0/baseline/results.json")).metrics, expected, w === ws ? "compiled by the CLI" : "compiled by tsx");
    assert.match(r.stderr, /boom at line 17[\s\S]*experiments\/q\/steps\.ts:17:/, "the stack names the TypeScript line");
  }
});

test("a worker loads tsx only once user code needs more than the CLI compiled, and then as if from the start", async () => {
  const step = (head: string, value: string) =>
    `${head}\nexport const go = (d: unknown, ctx: any) => {\n  ctx.metrics.add("tsx", Object.keys(require.cache).some((p) => /[\\\\/]node_modules[\\\\/]tsx[\\\\/]/.test(p)));\n  ctx.metrics.add("v", ${value});\n  return d;\n};\n`;
  const ws = makeWorkspace({
    "experiments/common/helper.ts": "export const twice = (n: number): number => 2 * n;\n",
    "experiments/common/table.json": '{"n": 5}\n',
    "experiments/common/legacy.js": "export const three = 3;\n",
    "node_modules/fakepkg/package.json": JSON.stringify({ name: "fakepkg", version: "1.0.0", main: "index.js" }),
    "node_modules/fakepkg/index.js": "exports.seven = 7;\n",
    "experiments/plain/config.yaml": "steps: [go]\n",
    // A builtin, our API, a compiled module by the JavaScript extension tsx maps to it, JSON.
    "experiments/plain/steps.ts": step('import { join } from "node:path";\nimport { pipelineStep } from "crystallize";\nimport { twice } from "../common/helper.js";\nimport table from "../common/table.json";', 'join("a", "b") + typeof pipelineStep + twice(table.n)'),
    "experiments/pkg/config.yaml": "steps: [go]\n",
    "experiments/pkg/steps.ts": step('import { seven } from "fakepkg";', "seven"),
    "experiments/js/config.yaml": "steps: [go]\n",
    // JavaScript written as an ES module: tsx compiles it, where Node alone would not load it as CommonJS.
    "experiments/js/steps.ts": step('import { three } from "../common/legacy.js";', "three"),
  });
  const metrics = (exp: string) => readJson(join(ws, `data/${exp}/v0/baseline/results.json`)).metrics;
  const r = await runCli(["build", "plain"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(metrics("plain"), { tsx: [false], v: ["a/bfunction10"] });
  for (const exp of ["pkg", "js"]) {
    const built = await runCli(["build", exp], ws);
    assert.is(built.code, 0, built.output);
    assert.not.match(built.output, /ExperimentalWarning|require\(\) of ES Module/, "the ES module JavaScript was compiled by tsx, not loaded by Node");
    assert.equal(metrics(exp), { tsx: [true], v: [exp === "pkg" ? 7 : 3] }, exp);
  }
});

test("code that tsx rewrites (import.meta, import()), and ES module code, is left to tsx", async () => {
  const ws = makeWorkspace({
    "experiments/m/config.yaml": "steps: [go]\n",
    "experiments/m/steps.ts": "export const go = (d: unknown, ctx: any) => { ctx.metrics.add('url', import.meta.url.endsWith('/steps.ts')); return d; };\n",
  });
  assert.equal(await new Compiler(ws, StatCache.load(undefined)).compiled(["experiments/m/steps.ts"]), {});
  const esm = makeWorkspace({ "package.json": '{"type": "module"}\n', "experiments/e/steps.ts": "export const go = (d: unknown) => d;\n" });
  assert.equal(await new Compiler(esm, StatCache.load(undefined)).compiled(["experiments/e/steps.ts"]), {}, "ES module code is loaded with import(), through tsx's hooks");
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/m/v0/baseline/results.json")).metrics, { url: [true] });
});

test("a pool started in stages starts the rest once its first worker is ready, whatever is asked for meanwhile", async () => {
  const ws = makeWorkspace({ "experiments/e/config.yaml": "steps: [s]\n", "experiments/e/steps.ts": "export const s = (d: unknown) => d;\n" });
  const workers = () => execFileSync("ps", ["--ppid", String(process.pid), "-o", "args="], { encoding: "utf8" }).split("\n").filter((l) => l.includes("worker-bundle")).length;
  const pool = new WorkerPool({ onLog() {} }, ws);
  try {
    pool.warmInStages(1, 3);
    // What the executor asks for at its first unit not in the store.
    pool.warm(4);
    assert.is(workers(), 1);
    await waitFor(() => workers() === 4);
  } finally {
    await pool.close();
  }
  await waitFor(() => workers() === 0);
});

test.run();
