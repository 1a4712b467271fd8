import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import { exists, makeWorkspace, runCli, startCli } from "./helpers.js";

/** A graph with real work: two producers (3 replicates x 2 conditions) feeding a consumer. */
const WORKSPACE = {
  "experiments/p1/config.yaml": "replicates: 3\noutputs: {o: {file_name: o.json}}\nsteps: [make]\ntreatments: {t: {k: 2}}\n",
  "experiments/p1/steps.ts": "export const make = async (d: unknown, ctx: any) => { await new Promise((r) => setTimeout(r, 40)); ctx.outputs.o.write(JSON.stringify({ v: ctx.random(), k: ctx.params.k ?? 1 })); ctx.metrics.add('r', ctx.replicate); return d; };",
  "experiments/p2/config.yaml": "replicates: 3\noutputs: {o: {file_name: o.json}}\nsteps: [make]\n",
  "experiments/p2/steps.ts": "export const make = async (d: unknown, ctx: any) => { await new Promise((r) => setTimeout(r, 40)); ctx.outputs.o.write(JSON.stringify({ v: ctx.random() })); return d; };",
  "experiments/c/config.yaml": "replicates: 3\ndatasource: {a: p1#o, b: p2#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [join]\n",
  "experiments/c/steps.ts": "export const join = (d: any, ctx: any) => { ctx.outputs.o.write(String(d.a) + String(d.b)); ctx.metrics.add('n', 1); return d; };",
};

/** Every file under data/<exp>/ views (not the store), with content: what a user sees. */
function views(ws: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(ws, p)] = readFileSync(p, "utf8");
    }
  };
  walk(join(ws, "data"));
  return out;
}

test("a build killed with SIGKILL at any moment leaves a workspace the next build completes identically", async () => {
  const reference = makeWorkspace(WORKSPACE);
  assert.is((await runCli(["build"], reference)).code, 0);
  const expected = views(reference);
  const expectedLock = readFileSync(join(reference, "crystallize.lock"), "utf8");

  const ws = makeWorkspace(WORKSPACE);
  // Fixed delays spread over the whole build (start-up, running, storing, writing the lock).
  const delays = [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 340, 380, 420, 470, 520, 580, 650, 720, 800, 900, 1000];
  for (const [i, delay] of delays.entries()) {
    const child = startCli(["build", "-j", "2"], ws);
    // Listened for from the start: the build may end on its own before the kill.
    const exited = new Promise((r) => child.once("exit", r));
    await new Promise((r) => setTimeout(r, delay));
    child.kill("SIGKILL");
    await exited;
    if (i % 2 === 1) {
      // Every other time, tear a view too, as a crash of an editor or a user might.
      const v = join(ws, "data/p2/v0/replicate_0/baseline/o.json");
      if (exists(v)) writeFileSync(v, "{\"torn\":");
    }
  }
  const final = await runCli(["build"], ws);
  assert.is(final.code, 0, final.output);
  assert.equal(views(ws), expected);
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), expectedLock);
  assert.equal(readdirSync(join(ws, "data/.tmp")).length, 0, "staging cleaned up");
  const again = await runCli(["build"], ws);
  assert.match(again.stdout, /0 built, 3 up to date/);
});

test("two builds in one workspace at once both succeed; the second waits for the first", async () => {
  const ws = makeWorkspace(WORKSPACE);
  const run = (args: string[]) =>
    new Promise<{ code: number; err: string }>((resolve) => {
      const child = startCli(args, ws);
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      child.on("exit", (code) => resolve({ code: code ?? 1, err }));
    });
  const [a, b] = await Promise.all([run(["build"]), new Promise((r) => setTimeout(r, 150)).then(() => run(["build"]))]);
  assert.is(a.code, 0, a.err);
  assert.is(b.code, 0, b.err);
  assert.match(a.err + b.err, /waiting for another crystallize build \(pid \d+\)/);
  const reference = makeWorkspace(WORKSPACE);
  assert.is((await runCli(["build"], reference)).code, 0);
  assert.equal(views(ws), views(reference));
});

test("a workspace lock left by a dead process is taken over at once", async () => {
  const ws = makeWorkspace(WORKSPACE);
  const dead = spawn(process.execPath, ["-e", "0"]);
  await new Promise((r) => dead.on("exit", r));
  mkdirSync(join(ws, ".crystallize"), { recursive: true });
  writeFileSync(join(ws, ".crystallize/build.lock"), JSON.stringify({ pid: dead.pid, host: hostname(), command: "build" }));
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.not.match(r.stderr, /waiting/);
  assert.not.ok(exists(join(ws, ".crystallize/build.lock")), "released after the build");
});

test.run();
