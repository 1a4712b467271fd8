// `crystallize new --python`: Python modules from flags and from prompts, and the seed tutorial
// (written in Python) followed with it, its code exactly as the tutorial shows it.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeWorkspace, readJson, REPO, runCli } from "./helpers.js";
import { terminal } from "./pty.js";

const PY_PRODUCER = {
  "experiments/producer/config.yaml": "outputs:\n  summary: {file_name: summary.json}\nsteps: [w]\n",
  "experiments/producer/steps.py": "def w(data, summary):\n    summary.write(b'{}')\n    return data\n",
};
const TS_PRODUCER = {
  "experiments/producer/config.yaml": "outputs:\n  summary: {file_name: summary.json}\nsteps: [w]\n",
  "experiments/producer/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.summary.write('{}'); return d; };",
};
const SEED = join(REPO, "fixtures/tutorial-python/experiments");

const listing = (dir: string) => readdirSync(dir).sort();
const read = (ws: string, rel: string) => readFileSync(join(ws, rel), "utf8");

const flags = suite("new --python: flags");

flags("--example: runnable Python in every module; it builds, records a metric, and its verifier runs", async () => {
  const ws = mkdtempSync(join(tmpdir(), "cz-newpy-"));
  const made = await runCli(["new", "x", "--python", "--with", "datasources,steps,outputs,verifiers", "--example"], ws);
  assert.is(made.code, 0, made.output);
  assert.equal(listing(join(ws, "experiments/x")), ["config.yaml", "datasources.py", "outputs.py", "steps.py", "verifiers.py"]);
  assert.match(read(ws, "experiments/x/datasources.py"), /^from crystallize import data_source\b[\s\S]*^@data_source\n/m);
  assert.match(read(ws, "experiments/x/steps.py"), /^from crystallize import pipeline_step\b[\s\S]*^@pipeline_step\(\)\n/m);
  assert.match(read(ws, "experiments/x/outputs.py"), /^def dump_json\(.*\) -> bytes:[\s\S]*^def load_json\(path: Path\)/m);
  // The config leaves the hypothesis commented out (it names a verifier the user may rename): switch it on.
  const config = read(ws, "experiments/x/config.yaml");
  const hypothesis = config.replace(/^# (hypotheses:\n)# ( {2}- name: .*\n)# ( {4}verifier: .*\n)# ( {4}metrics: .*\n)/m, "$1$2$3$4");
  assert.is.not(hypothesis, config, "the config holds a commented-out hypothesis");
  writeFileSync(join(ws, "experiments/x/config.yaml"), hypothesis);

  const built = await runCli(["build", "x"], ws);
  assert.is(built.code, 0, built.output);
  assert.is(readJson(join(ws, "data/x/v0/baseline/results.json")).metrics.mean.length, 5);
  const result = readJson(join(ws, "data/x/v0/replicate_0/doubled/result.json"));
  assert.is(result.factor, 2);
  const [verdict] = readJson(join(ws, "data/x/v0/hypotheses.json")).hypotheses;
  assert.is(verdict.verifier, "permutation_test");
  assert.type(verdict.results.doubled.result.p_value, "number");
  assert.type(verdict.results.doubled.result.significant, "boolean");
});

flags("without --example: the import line and comments, and a config whose comments name the .py files", async () => {
  const ws = makeWorkspace(PY_PRODUCER);
  const r = await runCli(["new", "y", "--lang", "python", "--with", "datasources,steps,outputs,verifiers", "--use", "producer#summary"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^created experiments\/y\/\n {2}config\.yaml\n {2}datasources\.py\n {2}steps\.py\n {2}outputs\.py\n {2}verifiers\.py\n/);
  assert.match(r.stdout, /reads producer#summary as data\["producer_summary"\]/);
  assert.match(r.stdout, /write your steps in experiments\/y\/steps\.py/);
  assert.not.match(r.stdout, /note:/, "the language was chosen");
  for (const [file, imports] of [["datasources.py", "data_source"], ["steps.py", "pipeline_step"], ["verifiers.py", "verifier"]]) {
    const text = read(ws, `experiments/y/${file}`);
    assert.ok(text.startsWith(`from crystallize import ${imports}\n\n#`), `${file}:\n${text}`);
    assert.not.match(text, /^(def|@)/m, `${file} holds no code`);
  }
  const config = read(ws, "experiments/y/config.yaml");
  assert.not.match(config, /\.ts\b|export/);
  assert.match(config, /^# Steps, each a function defined in steps\.py, run in order/m);
  assert.match(config, /writer and loader are functions defined in outputs\.py/);
  assert.match(config, /or a function defined in verifiers\.py:/);
  assert.match(config, /^datasource:\n {2}producer_summary: producer#summary\n/m);

  const alone = await runCli(["new", "z", "--python"], ws);
  assert.is(alone.code, 0, alone.output);
  assert.match(read(ws, "experiments/z/config.yaml"), /^# datasources\.py defines\.[\s\S]*^#   numbers: numbers {19}# a function defined in datasources\.py$/m);
});

flags("the seed tutorial in Python: new producer and consumer, the seed's code as shown, build consumer", async () => {
  const ws = mkdtempSync(join(tmpdir(), "cz-newpy-"));
  const producer = await runCli(["new", "producer", "--python", "--with", "datasources,steps,outputs", "--example"], ws);
  assert.is(producer.code, 0, producer.output);
  for (const f of ["outputs.py", "steps.py", "datasources.py", "config.yaml"]) copyFileSync(join(SEED, "producer", f), join(ws, "experiments/producer", f));

  const consumer = await runCli(["new", "consumer", "--python", "--with", "datasources,steps", "--use", "producer#summary"], ws);
  assert.is(consumer.code, 0, consumer.output);
  assert.equal(listing(join(ws, "experiments/consumer")), ["config.yaml", "datasources.py", "steps.py"]);
  // The seed's consumer keeps its generated datasources.py, which shows only the import line.
  assert.ok(read(ws, "experiments/consumer/datasources.py").startsWith(read(SEED, "consumer/datasources.py").trimEnd() + "\n"));
  copyFileSync(join(SEED, "consumer/steps.py"), join(ws, "experiments/consumer/steps.py"));
  const config = read(ws, "experiments/consumer/config.yaml");
  assert.match(config, /^datasource:\n {2}producer_summary: producer#summary\n/m, "the reference the seed shows");
  assert.not.match(config, /^steps:/m, "no step is listed before the user writes one");
  writeFileSync(join(ws, "experiments/consumer/config.yaml"), config + "steps:\n  - inspect_summary\n");

  const r = await runCli(["build", "consumer"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/producer/v0/replicate_0/baseline/summary.json")), { total: 6 });
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [6]);
});

flags("flags keep TypeScript the default in a Python workspace, and the report says how to get Python", async () => {
  const py = makeWorkspace(PY_PRODUCER);
  const t = await runCli(["new", "t", "--with", "steps"], py);
  assert.is(t.code, 0, t.output);
  assert.equal(listing(join(py, "experiments/t")), ["config.yaml", "steps.ts"]);
  assert.match(t.stdout, /^note: .*add --python for \.py modules$/m);
  const ext = await runCli(["new", "u", "--with", "steps.py"], py);
  assert.is(ext.code, 0, ext.output);
  assert.equal(listing(join(py, "experiments/u")), ["config.yaml", "steps.py"], "an extension says the language");
  assert.not.match(ext.stdout, /note:/);

  const ts = makeWorkspace(TS_PRODUCER);
  const plain = await runCli(["new", "v", "--with", "steps"], ts);
  assert.is(plain.code, 0, plain.output);
  assert.not.match(plain.stdout, /note:/, "nothing to say where every experiment is TypeScript");
});

const refuse = suite("new --python: refusals (exit 2, nothing written)");

refuse("an unknown --lang, and languages that contradict each other", async () => {
  const ws = makeWorkspace(TS_PRODUCER);
  const rust = await runCli(["new", "c", "--lang", "rust"], ws);
  assert.is(rust.code, 2, rust.output);
  assert.match(rust.stderr, /unknown language "rust"\n {2}hint: use `--lang ts` \(the default\) or `--lang python`/);
  const typo = await runCli(["new", "c", "--lang", "pyhton"], ws);
  assert.is(typo.code, 2, typo.output);
  assert.match(typo.stderr, /hint: did you mean `--lang python`\?/);
  const both = await runCli(["new", "c", "--python", "--lang", "ts"], ws);
  assert.is(both.code, 2, both.output);
  assert.match(both.stderr, /--python says Python but --lang ts says TypeScript/);
  const mixed = await runCli(["new", "c", "--with", "steps.py,outputs.ts"], ws);
  assert.is(mixed.code, 2, mixed.output);
  assert.match(mixed.stderr, /steps\.py says Python but outputs\.ts says TypeScript/);
  assert.equal(listing(join(ws, "experiments")), ["producer"]);
});

const prompts = suite("new --python: prompts in a terminal");

prompts("the files question offers Python; a contradicting answer is asked again", async () => {
  const ws = makeWorkspace(TS_PRODUCER);
  const t = terminal(ws);
  await t.expect(/Name \(lowercase[^\n]*: $/);
  t.type("consumer\r");
  await t.expect(/1\) datasources\.ts {2}2\) steps\.ts {2}3\) outputs\.ts {2}4\) verifiers\.ts\n/);
  await t.expect(/Which files\?[^\n]*; add "py" for Python: $/);
  t.type("steps.ts py\r");
  await t.expect(/"py" says Python but a file extension says TypeScript/);
  await t.expect(/Which files\?[^\n]*: $/);
  t.type("2 py\r");
  await t.expect(/example code\? \[y\/N\]: $/);
  t.type("n\r");
  await t.expect(/Use which\?[^\n]*: $/);
  t.type("1\r");
  await t.expect(/created experiments\/consumer\//);
  assert.is(await t.exit(), 0, t.screen());
  assert.equal(listing(join(ws, "experiments/consumer")), ["config.yaml", "steps.py"]);
  assert.not.match(t.screen(), /note:/);
});

prompts("where most experiments are Python, Python is the default the list shows", async () => {
  const ws = makeWorkspace(PY_PRODUCER);
  const t = terminal(ws);
  await t.expect(/Name \(lowercase[^\n]*: $/);
  t.type("consumer\r");
  await t.expect(/1\) datasources\.py {2}2\) steps\.py {2}3\) outputs\.py {2}4\) verifiers\.py\n/);
  await t.expect(/Which files\?[^\n]*; add "ts" for TypeScript: $/);
  t.type("\r");
  await t.expect(/example code\? \[y\/N\]: $/);
  t.type("y\r");
  await t.expect(/Use which\?[^\n]*: $/);
  t.type("\r");
  await t.expect(/created experiments\/consumer\//);
  assert.is(await t.exit(), 0, t.screen());
  assert.equal(listing(join(ws, "experiments/consumer")), ["config.yaml", "datasources.py", "steps.py"]);
  assert.match(read(ws, "experiments/consumer/steps.py"), /^@pipeline_step\(\)\ndef summarize\(/m, "example code");
});

flags.run();
refuse.run();
prompts.run();
