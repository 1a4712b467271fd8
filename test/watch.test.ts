import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { makeWorkspace, runCli, startCli, waitFor as waitForever } from "./helpers.js";
import { tmpdir } from "node:os";

/** producer -> consumer plus an independent `other`; every step logs what ran to $RUNLOG. */
function workspace(runlog: string) {
  const step = (name: string, body = "") =>
    `import { appendFileSync } from "node:fs";\nexport const w = (d: unknown, ctx: any) => { appendFileSync(${JSON.stringify(runlog)}, "${name}\\n"); ${body} ctx.outputs.o.write("${name}"); return d; };\n`;
  return makeWorkspace({
    "experiments/producer/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/producer/steps.ts": step("producer"),
    "experiments/consumer/config.yaml": "datasource: {p: producer#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/consumer/steps.ts": step("consumer"),
    "experiments/other/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/other/steps.ts": step("other"),
  });
}

/** Every watch this file starts is killed at the end, even when a test fails. */
const children: ChildProcess[] = [];
let transcript = "";

function startWatch(ws: string): { child: ChildProcess; err: () => string } {
  const child = startCli(["watch"], ws);
  children.push(child);
  let err = "";
  transcript = "";
  child.stderr!.on("data", (d) => {
    err += d;
    transcript = err;
  });
  return { child, err: () => err };
}

async function waitFor(predicate: () => boolean, timeoutMs = 20000): Promise<void> {
  try {
    await waitForever(predicate, timeoutMs);
  } catch {
    throw new Error(`timed out; watch said:\n${transcript}`);
  }
}

test.after.each(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

function runs(runlog: string): string[] {
  try {
    return readFileSync(runlog, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

test("watch: no edits, no rebuilds for 10 s; one edit, exactly one rebuild of exactly what it affects", async () => {
  const runlog = join(tmpdir(), `cz-runlog-${process.pid}-${Date.now()}`);
  const ws = workspace(runlog);
  assert.is((await runCli(["build"], ws)).code, 0);
  writeFileSync(runlog, "");
  const { child, err } = startWatch(ws);
  const cycles = () => (err().match(/watching for changes/g) ?? []).length;
  const changes = () => (err().match(/^\d\d:\d\d:\d\d change /gm) ?? []).length;
  await waitFor(() => cycles() >= 1);
  assert.match(err(), /ok: 0 built, 3 up to date/, "the initial build found everything up to date");

  await new Promise((r) => setTimeout(r, 10_000));
  assert.is(changes(), 0, `no rebuild while idle:\n${err()}`);
  assert.equal(runs(runlog), [], "nothing ran while idle");

  appendFileSync(join(ws, "experiments/consumer/steps.ts"), "export const extra = 1;\n");
  await waitFor(() => cycles() >= 2);
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(changes(), 1, `exactly one rebuild:\n${err()}`);
  assert.equal(runs(runlog), ["consumer"], "only the edited experiment ran");
  assert.match(err(), /change experiments\/consumer\/steps\.ts/);
  assert.match(err(), /ok: 1 built, 2 up to date/);

  child.kill("SIGINT");
  const code = await new Promise<number>((r) => child.on("exit", (c) => r(c ?? 1)));
  assert.is(code, 130);
  assert.equal(readdirSync(join(ws, "data/.tmp")), [], "no staging left behind");
});

test("watch survives a broken config and a failing step, and picks up new experiments", async () => {
  const runlog = join(tmpdir(), `cz-runlog-${process.pid}-${Date.now()}-b`);
  const ws = workspace(runlog);
  const { child, err } = startWatch(ws);
  const cycles = () => (err().match(/watching for changes/g) ?? []).length;
  await waitFor(() => cycles() >= 1);

  const config = join(ws, "experiments/other/config.yaml");
  writeFileSync(config, "outputs: {o: {file_name: o.txt}}\nstepz: [w]\n");
  await waitFor(() => /unknown key "stepz"/.test(err()) && cycles() >= 2);

  const steps = join(ws, "experiments/other/steps.ts");
  const good = readFileSync(steps, "utf8");
  writeFileSync(steps, good.replace("ctx.outputs.o.write", "throw new Error('broken step'); ctx.outputs.o.write"));
  writeFileSync(config, "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n");
  await waitFor(() => /✗ other failed/.test(err()) && /broken step/.test(err()));
  await waitFor(() => /failed: .*1 failed/.test(err()) && cycles() >= 3);

  // Reverting to the code built at the start: its result comes back from the store.
  writeFileSync(steps, good);
  await waitFor(() => /ok: 0 built, 3 up to date/.test(err().split("broken step").pop() ?? ""));

  mkdirSync(join(ws, "experiments/late"));
  writeFileSync(join(ws, "experiments/late/steps.ts"), "export const w = (d: unknown, ctx: any) => { ctx.metrics.add('m', 1); return d; };\n");
  writeFileSync(join(ws, "experiments/late/config.yaml"), "steps: [w]\n");
  await waitFor(() => /✓ late/.test(err()));

  child.kill("SIGINT");
  assert.is(await new Promise<number>((r) => child.on("exit", (c) => r(c ?? 1))), 130);
});

test("a change during a build restarts what it made stale; the rest finishes once", async () => {
  const runlog = join(tmpdir(), `cz-runlog-${process.pid}-${Date.now()}-c`);
  const ws = makeWorkspace({
    "experiments/slow/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/slow/steps.ts": `import { appendFileSync } from "node:fs";\nexport const w = async (d: unknown, ctx: any) => { appendFileSync(${JSON.stringify(runlog)}, "slow\\n"); await new Promise((r) => setTimeout(r, 3000)); ctx.outputs.o.write("first"); return d; };\n`,
    "experiments/down/config.yaml": "datasource: {s: slow#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/down/steps.ts": `import { appendFileSync } from "node:fs";\nexport const w = (d: any, ctx: any) => { appendFileSync(${JSON.stringify(runlog)}, "down\\n"); ctx.outputs.o.write("read " + d.s); return d; };\n`,
    "experiments/other/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/other/steps.ts": `import { appendFileSync } from "node:fs";\nexport const w = async (d: unknown, ctx: any) => { appendFileSync(${JSON.stringify(runlog)}, "other\\n"); await new Promise((r) => setTimeout(r, 1500)); ctx.outputs.o.write("o"); return d; };\n`,
  });
  const { child, err } = startWatch(ws);
  await waitFor(() => runs(runlog).includes("slow") && runs(runlog).includes("other"));
  const steps = join(ws, "experiments/slow/steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace('"first"', '"second"'));
  await waitFor(() => /restart slow: inputs changed during the build/.test(err()));
  await waitFor(() => /ok: 2 built, 1 up to date/.test(err()), 30000);
  assert.equal(runs(runlog).filter((r) => r === "other"), ["other"], "the unaffected experiment ran once and finished");
  assert.equal(runs(runlog).filter((r) => r === "slow"), ["slow", "slow"], "the edited one was stopped and run again");
  assert.equal(runs(runlog).filter((r) => r === "down"), ["down"], "its dependent ran only on the new output");
  assert.match(err(), /- down skipped \(upstream slow did not build\)/);
  assert.is(readFileSync(join(ws, "data/down/v0/replicate_0/baseline/o.txt"), "utf8"), "read second");
  child.kill("SIGINT");
  assert.is(await new Promise<number>((r) => child.on("exit", (c) => r(c ?? 1))), 130);
});

test.run();
