// `crystallize new`: the scaffold from flags, from prompts in a real pseudo-terminal, and the
// seed tutorial followed with it end to end.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, exists, makeWorkspace, readJson, REPO, runCli } from "./helpers.js";
import { terminal } from "./pty.js";

const PRODUCER = {
  "experiments/producer/config.yaml": "outputs:\n  summary: {file_name: summary.json}\nsteps: [w]\n",
  "experiments/producer/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.summary.write('{}'); return d; };",
};

const listing = (dir: string) => readdirSync(dir).sort();
const read = (ws: string, rel: string) => readFileSync(join(ws, rel), "utf8");

/** What a user following the seed types into a generated file: the lines it does not have yet. */
function addSeedLines(ws: string, rel: string, fixture: string): void {
  const current = read(ws, rel);
  const have = new Set(current.split("\n"));
  const added = readFileSync(join(REPO, "fixtures/tutorial/experiments", fixture), "utf8").split("\n").filter((l) => !have.has(l));
  writeFileSync(join(ws, rel), current + added.join("\n") + "\n");
}

const flags = suite("new: flags");

flags("creates the chosen files with a config the validator accepts, and says what to run next", async () => {
  const ws = makeWorkspace(PRODUCER);
  const r = await runCli(["new", "consumer", "--with", "steps,outputs", "--use", "producer#summary"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(listing(join(ws, "experiments/consumer")), ["config.yaml", "outputs.ts", "steps.ts"]);
  assert.match(read(ws, "experiments/consumer/config.yaml"), /^name: consumer\n[\s\S]*^datasource:\n {2}producer_summary: producer#summary\n/m);
  assert.match(r.stdout, /^created experiments\/consumer\/\n {2}config\.yaml\n {2}steps\.ts\n {2}outputs\.ts\n/);
  assert.match(r.stdout, /crystallize build consumer/);
  const graph = await runCli(["graph"], ws);
  assert.is(graph.code, 0, graph.output);
  assert.match(graph.stdout, /consumer\b.*<- producer#summary/);
  assert.equal(listing(join(ws, "experiments")), ["consumer", "producer"], "no staging folder is left behind");
});

flags("defaults to datasources and steps; with no workspace, experiments/ is created here; settings move it", async () => {
  const bare = mkdtempSync(join(tmpdir(), "cz-new-"));
  const r = await runCli(["new", "first"], bare);
  assert.is(r.code, 0, r.output);
  assert.equal(listing(join(bare, "experiments/first")), ["config.yaml", "datasources.ts", "steps.ts"]);
  assert.match(r.stdout, /a new workspace/);

  const custom = makeWorkspace({ "crystallize.yaml": "experiments: lab\n", "lab/.keep": "" });
  assert.is((await runCli(["new", "one", "--with", "steps.ts"], custom)).code, 0);
  assert.equal(listing(join(custom, "lab/one")), ["config.yaml", "steps.ts"]);
  assert.not.ok(exists(join(custom, "experiments")));
});

flags("--example builds at once and records a metric; combined with --use it keeps the reference", async () => {
  const ws = mkdtempSync(join(tmpdir(), "cz-new-"));
  const made = await runCli(["new", "x", "--with", "datasources,steps,outputs,verifiers", "--example"], ws);
  assert.is(made.code, 0, made.output);
  assert.match(made.stdout, /next: build it[\s\S]*crystallize build x/);
  const built = await runCli(["build", "x"], ws);
  assert.is(built.code, 0, built.output);
  assert.is(readJson(join(ws, "data/x/v0/baseline/results.json")).metrics.mean.length, 5);
  assert.ok(exists(join(ws, "data/x/v0/replicate_0/doubled/result.json")));

  const y = await runCli(["new", "y", "--with", "steps", "--example", "--use", "x#result"], ws);
  assert.is(y.code, 0, y.output);
  assert.match(read(ws, "experiments/y/config.yaml"), /^datasource:\n {2}x_result: x#result\n/m);
  const again = await runCli(["build", "y"], ws);
  assert.is(again.code, 0, again.output);
  assert.match(again.stdout, /1 built, 1 up to date/);
});

flags("the seed tutorial: new producer, new consumer --use, the seed's code, build consumer", async () => {
  const ws = mkdtempSync(join(tmpdir(), "cz-new-"));
  assert.is((await runCli(["new", "producer", "--with", "datasources,steps,outputs"], ws)).code, 0);
  for (const f of ["datasources.ts", "steps.ts", "outputs.ts", "config.yaml"]) addSeedLines(ws, `experiments/producer/${f}`, `producer/${f}`);
  const consumer = await runCli(["new", "consumer", "--with", "steps", "--use", "producer#summary"], ws);
  assert.is(consumer.code, 0, consumer.output);
  for (const f of ["steps.ts", "config.yaml"]) addSeedLines(ws, `experiments/consumer/${f}`, `consumer/${f}`);
  const r = await runCli(["build", "consumer"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/producer/v0/replicate_0/baseline/summary.json")), { total: 6 });
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [6]);
});

const refuse = suite("new: refusals (exit 2, nothing written)");

refuse("--use with an unknown experiment or output names it and suggests the right one", async () => {
  const ws = makeWorkspace(PRODUCER);
  const exp = await runCli(["new", "c", "--use", "prodcer#summary"], ws);
  assert.is(exp.code, 2, exp.output);
  assert.match(exp.stderr, /there is no experiment "prodcer"\n {2}hint: did you mean `producer#summary`\?/);
  const out = await runCli(["new", "c", "--use", "producer#sumary"], ws);
  assert.is(out.code, 2, out.output);
  assert.match(out.stderr, /experiment producer has no output "sumary"\n {2}hint: did you mean `producer#summary`\?/);
  const shape = await runCli(["new", "c", "--use", "producer"], ws);
  assert.is(shape.code, 2);
  assert.match(shape.stderr, /expected experiment#output/);
  assert.equal(listing(join(ws, "experiments")), ["producer"]);
});

refuse("bad names, unknown files, and names or folders that exist", async () => {
  const ws = makeWorkspace({ ...PRODUCER, "experiments/notes/todo.txt": "mine", "experiments/group/deep/config.yaml": "name: deep\n" });
  for (const name of ["My Exp", "Producer", "_x", "replicate_0"]) {
    const r = await runCli(["new", name], ws);
    assert.is(r.code, 2, `${name}: ${r.output}`);
    assert.match(r.stderr, /cannot be an experiment name|is reserved/);
  }
  const folder = await runCli(["new", "notes"], ws);
  assert.is(folder.code, 2);
  assert.match(folder.stderr, /experiments\/notes already exists/);
  assert.equal(listing(join(ws, "experiments/notes")), ["todo.txt"]);
  const named = await runCli(["new", "deep"], ws);
  assert.is(named.code, 2);
  assert.match(named.stderr, /an experiment named "deep" already exists: experiments\/group\/deep\/config\.yaml/);
  const files = await runCli(["new", "z", "--with", "step"], ws);
  assert.is(files.code, 2);
  assert.match(files.stderr, /unknown file "step"\n {2}hint: did you mean `steps`\?/);
  assert.equal(listing(join(ws, "experiments")), ["group", "notes", "producer"]);
});

refuse("no name and no terminal: a usage error, without waiting on the open stdin", async () => {
  const ws = makeWorkspace(PRODUCER);
  // stdin stays an open pipe that never sends anything: a prompt would wait forever.
  const child = spawn(process.execPath, [BIN, "new", "--with", "steps"], { cwd: ws, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const guard = setTimeout(() => child.kill("SIGKILL"), 30000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  clearTimeout(guard);
  assert.is(code, 2, stderr);
  assert.match(stderr, /missing the experiment name/);
});

const prompts = suite("new: prompts in a terminal");

prompts("asks name, files, example, upstream outputs; re-asks a bad name; creates the files", async () => {
  const ws = makeWorkspace(PRODUCER);
  const t = terminal(ws);
  await t.expect(/Name \(lowercase[^\n]*: $/);
  t.type("Bad Name\r");
  await t.expect(/"Bad Name" cannot be an experiment name/);
  await t.expect(/Name \(lowercase[^\n]*: $/);
  t.type("producer\r");
  await t.expect(/already exists/);
  await t.expect(/Name \(lowercase[^\n]*: $/);
  t.type("consumer\r");
  await t.expect(/1\) datasources\.ts {2}2\) steps\.ts {2}3\) outputs\.ts {2}4\) verifiers\.ts\n/);
  await t.expect(/Which files\?[^\n]*: $/);
  t.type("2 outputs\r");
  await t.expect(/example code\? \[y\/N\]: $/);
  t.type("maybe\r");
  await t.expect(/answer y or n/);
  t.type("n\r");
  await t.expect(/ {2}1\) producer#summary\n/);
  await t.expect(/Use which\?[^\n]*: $/);
  t.type("1\r");
  await t.expect(/created experiments\/consumer\//);
  assert.is(await t.exit(), 0, t.screen());
  assert.equal(listing(join(ws, "experiments/consumer")), ["config.yaml", "outputs.ts", "steps.ts"]);
  assert.match(read(ws, "experiments/consumer/config.yaml"), /^datasource:\n {2}producer_summary: producer#summary\n/m);
  assert.not.match(read(ws, "experiments/consumer/steps.ts"), /^export /m, "no example code");
});

prompts("Ctrl-C exits 130 and Ctrl-D is a usage error; neither leaves anything behind", async () => {
  const ws = makeWorkspace(PRODUCER);
  const interrupted = terminal(ws);
  await interrupted.expect(/Name \(lowercase[^\n]*: $/);
  interrupted.type("half");
  interrupted.type("\x03");
  await interrupted.expect(/cancelled: nothing was created/);
  assert.is(await interrupted.exit(), 130, interrupted.screen());

  const ended = terminal(ws);
  await ended.expect(/Name \(lowercase[^\n]*: $/);
  ended.type("abc\r");
  await ended.expect(/Which files\?[^\n]*: $/);
  ended.type("\x04");
  await ended.expect(/input ended before every question was answered; nothing was created/);
  assert.is(await ended.exit(), 2, ended.screen());
  assert.equal(readdirSync(join(ws, "experiments")), ["producer"], "no experiment and no staging folder");
});

flags.run();
refuse.run();
prompts.run();
