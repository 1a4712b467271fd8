import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Compiler } from "../lib/run/compile.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import { initHasher } from "../lib/hash/digest.js";
import { exists, makeWorkspace, runCli } from "./helpers.js";

const WORKSPACE = {
  "experiments/p/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\ntreatments: {t: {k: 1}}\n",
  "experiments/p/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write('k=' + (ctx.params.k ?? 0)); return d; };",
  "experiments/c/config.yaml": "datasource: {x: p#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
  "experiments/c/steps.ts": "export const w = (d: any, ctx: any) => { ctx.outputs.o.write('read ' + d.x); return d; };",
};

/** Files below a store folder (records or objects), excluding temporary names. */
function count(ws: string, what: "units" | "objects"): number {
  const dir = join(ws, "data/.store", what);
  if (!exists(dir)) return 0;
  return readdirSync(dir).reduce((n, shard) => n + readdirSync(join(dir, shard)).filter((f) => !f.startsWith(".")).length, 0);
}

test("gc keeps what the lock and existing versions use, removes the rest; --dry-run removes nothing", async () => {
  const ws = makeWorkspace(WORKSPACE);
  assert.is((await runCli(["build"], ws)).code, 0);
  writeFileSync(join(ws, "experiments/p/config.yaml"), WORKSPACE["experiments/p/config.yaml"].replace("k: 1", "k: 2"));
  assert.is((await runCli(["build"], ws)).code, 0);
  // p/v0 and p/v1 exist, c/v0 and c/v1: nothing is garbage yet.
  const before = { units: count(ws, "units"), objects: count(ws, "objects") };
  const none = await runCli(["gc", "--json"], ws);
  assert.is(none.code, 0, none.output);
  assert.equal(JSON.parse(none.stdout), { command: "gc", dryRun: false, records: 0, objects: 0, bytes: 0, versions: 0, compiled: 0 });

  // The old versions' folders go away: the records and objects only they used (condition t
  // of p with k: 1, and what c read from it) are garbage; the shared baselines are not.
  rmSync(join(ws, "data/p/v0"), { recursive: true });
  rmSync(join(ws, "data/c/v0"), { recursive: true });
  const dry = await runCli(["gc", "--dry-run"], ws);
  assert.is(dry.code, 0, dry.output);
  assert.match(dry.stdout, /would remove 2 objects \(0\.0 MB\), 2 records, 2 forgotten versions/);
  assert.equal({ units: count(ws, "units"), objects: count(ws, "objects") }, before, "--dry-run removed nothing");

  const real = await runCli(["gc"], ws);
  assert.match(real.stdout, /removed 2 objects \(0\.0 MB\), 2 records, 2 forgotten versions/);
  assert.equal({ units: count(ws, "units"), objects: count(ws, "objects") }, { units: before.units - 2, objects: before.objects - 2 });

  // What the lock uses survived: the next build runs nothing and restores nothing.
  const again = await runCli(["build"], ws);
  assert.is(again.code, 0, again.output);
  assert.match(again.stdout, /0 built, 2 up to date/);
  assert.not.match(again.stderr, /restored|▸/);
});

test("gc removes compiled code no build can use: of a module deleted or changed since, unreadable, half-written", async () => {
  const step = (name: string) => `export const w = (d: unknown, ctx: any) => { ctx.metrics.add("n", ${JSON.stringify(name)}); return d; };\n`;
  const ws = makeWorkspace(Object.fromEntries(["p", "q", "r"].flatMap((e) => [[`experiments/${e}/config.yaml`, "steps: [w]\n"], [`experiments/${e}/steps.ts`, step(e)]])));
  // Kept as a build keeps them once the sources are older than the racy window (a clock ahead).
  await initHasher();
  const compiler = new Compiler(ws, StatCache.load(undefined, () => Date.now() + 10_000));
  await compiler.compiled(["p", "q", "r"].map((e) => `experiments/${e}/steps.ts`));
  await compiler.flush();
  const dir = join(ws, ".crystallize/compiled");
  const keptOf = (e: string) => readdirSync(dir).find((f) => !f.startsWith(".") && f !== "junk.json" && readFileSync(join(dir, f), "utf8").includes(`experiments/${e}/steps.ts`));
  const p = keptOf("p");
  assert.ok(p && keptOf("q") && keptOf("r"), "one file per module");
  rmSync(join(ws, "experiments/q"), { recursive: true });
  writeFileSync(join(ws, "experiments/r/steps.ts"), step("r2"));
  writeFileSync(join(dir, "junk.json"), "{not json");
  writeFileSync(join(dir, `.${p}.tmp-1-0`), "{");
  const files = readdirSync(dir).sort();

  const dry = await runCli(["gc", "--dry-run", "--json"], ws);
  assert.is(dry.code, 0, dry.output);
  assert.is(JSON.parse(dry.stdout).compiled, 4);
  assert.equal(readdirSync(dir).sort(), files, "--dry-run removed nothing");
  const real = await runCli(["gc"], ws);
  assert.is(real.code, 0, real.output);
  assert.match(real.stdout, /, 4 compiled modules/);
  assert.equal(readdirSync(dir), [p], "the unchanged module's code stays");
  const built = await runCli(["build"], ws);
  assert.is(built.code, 0, built.output);
});

test("gc waits for a running build instead of deleting under it", async () => {
  const ws = makeWorkspace({
    ...WORKSPACE,
    "experiments/p/steps.ts": "export const w = async (d: unknown, ctx: any) => { await new Promise((r) => setTimeout(r, 1500)); ctx.outputs.o.write('slow'); return d; };",
  });
  const build = runCli(["build"], ws);
  await new Promise((r) => setTimeout(r, 700));
  const gc = await runCli(["gc"], ws);
  const b = await build;
  assert.is(b.code, 0, b.output);
  assert.is(gc.code, 0, gc.output);
  assert.match(gc.stderr, /waiting for another crystallize build/);
  assert.match(gc.stdout, /removed 0 objects/);
  assert.match((await runCli(["build"], ws)).stdout, /0 built, 2 up to date/);
});

test.run();
