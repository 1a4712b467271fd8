// Which experiment a build expects to run before it looks anything up, and that its workers
// start on that guess: the first unit missing from the store no longer has to wait for one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../lib/hash/digest.js";
import type { ExperimentFacts, NormalizedConfig } from "../lib/hash/keys.js";
import type { LockEntry, LockFile } from "../lib/lock/lockfile.js";
import { firstLikelyToRun, type LikelyInput } from "../lib/plan/likely.js";
import type { BuildPlan } from "../lib/plan/plan.js";
import { componentReasons, definitionChanged } from "../lib/plan/reasons.js";
import { build } from "../dist/lib/index.js";
import { Workers } from "../dist/lib/run/workers.js";
import { Store } from "../dist/lib/store/store.js";
import { copyFixture } from "./helpers.js";

const NAMES = ["a", "b", "c"];

function config(seed = 0): NormalizedConfig {
  return { datasource: null, steps: [{ name: "work", kwargs: { n: 1 } }], outputs: {}, replicates: 1, seed, treatments: {}, inputs: [], env: [] };
}

function facts(code = "d1" as Digest): ExperimentFacts {
  return { code: { files: { "steps.ts": code }, packages: { yaml: "2.5.0" } }, inputs: {}, env: { TOKEN: null }, runtime: "node20" };
}

function entry(f: ExperimentFacts, params: NormalizedConfig): LockEntry {
  return { key: "k" as Digest, version: 0, params, code: f.code.files, packages: f.code.packages, inputs: f.inputs, env: f.env, runtime: f.runtime, upstream: {}, outputs: {} };
}

/** A plan of a, b, c, each as locked; `change` alters the current definitions. */
function input(change: (i: LikelyInput & { facts: Map<string, ExperimentFacts>; configs: Map<string, NormalizedConfig> }) => void = () => {}): LikelyInput {
  const lock: LockFile = { version: 1, experiments: Object.fromEntries(NAMES.map((n) => [n, entry(facts(), config())])) };
  const i = {
    plan: { experiments: NAMES.map((name) => ({ name, replicates: 1, conditions: [], units: [] })), targets: [] } as BuildPlan,
    lock,
    configs: new Map(NAMES.map((n) => [n, config()])),
    facts: new Map(NAMES.map((n) => [n, facts()])),
    force: new Set<string>(),
  };
  change(i);
  return i;
}

test("firstLikelyToRun: nothing differs from the lock, or there is no lock: no guess", () => {
  assert.is(firstLikelyToRun(input()), undefined);
  assert.is(firstLikelyToRun(input((i) => (i.lock = undefined))), undefined);
});

test("firstLikelyToRun: the first experiment in plan order whose definition differs", () => {
  assert.is(firstLikelyToRun(input((i) => i.facts.set("b", facts("d2" as Digest)))), "b", "code");
  assert.is(firstLikelyToRun(input((i) => (i.facts.set("c", facts("d2" as Digest)), i.configs.set("b", config(1))))), "b", "config, before a later code edit");
  assert.is(firstLikelyToRun(input((i) => i.configs.set("c", { ...config(), steps: [{ name: "work", kwargs: { n: 2 } }] }))), "c", "a step's kwargs");
  assert.is(firstLikelyToRun(input((i) => i.facts.set("a", { ...facts(), runtime: "node22" }))), "a", "runtime");
  assert.is(firstLikelyToRun(input((i) => i.facts.set("b", { ...facts(), env: { TOKEN: "e1" as Digest } }))), "b", "env");
  assert.is(firstLikelyToRun(input((i) => i.facts.set("b", { ...facts(), inputs: { "in.csv": "i1" as Digest } }))), "b", "inputs");
  assert.is(firstLikelyToRun(input((i) => i.facts.set("c", { ...facts(), code: { files: facts().code.files, packages: { yaml: "2.6.0" } } }))), "c", "a package");
});

test("firstLikelyToRun: a forced experiment, or one the lock lacks", () => {
  assert.is(firstLikelyToRun(input((i) => i.force.add("c"))), "c");
  assert.is(firstLikelyToRun(input((i) => delete i.lock!.experiments.b)), "b");
});

test("definitionChanged says what componentReasons finds, component by component", () => {
  const locked = facts();
  const entryNow = entry(locked, config());
  const variants: Array<[string, NormalizedConfig, ExperimentFacts]> = [
    ["nothing", config(), facts()],
    ["code", config(), facts("d2" as Digest)],
    ["config", config(1), facts()],
    ["kwargs", { ...config(), steps: [{ name: "work", kwargs: { n: 2 } }] }, facts()],
    ["runtime", config(), { ...facts(), runtime: "node22" }],
    ["env", config(), { ...facts(), env: { TOKEN: "e1" as Digest } }],
    ["inputs", config(), { ...facts(), inputs: { "in.csv": "i1" as Digest } }],
    ["package", config(), { ...facts(), code: { files: locked.code.files, packages: { yaml: "2.6.0" } } }],
  ];
  for (const [what, cfg, f] of variants) assert.is(definitionChanged(entryNow, cfg, f), componentReasons(entryNow, cfg, f).length > 0, what);
});

/** Calls to the workers' start and the store's lookups during `fn`, in order. */
async function spied(fn: () => Promise<unknown>): Promise<string[]> {
  const calls: string[] = [];
  const warm = Workers.prototype.warm;
  const lookup = Store.prototype.lookup;
  Workers.prototype.warm = function (this: Workers, n: number) {
    calls.push("warm");
    return warm.call(this, n);
  };
  Store.prototype.lookup = function (this: Store, key: Parameters<typeof lookup>[0]) {
    calls.push("lookup");
    return lookup.call(this, key);
  };
  try {
    await fn();
  } finally {
    Workers.prototype.warm = warm;
    Store.prototype.lookup = lookup;
  }
  return calls;
}

test("an edited leaf: its workers start before the first store lookup; a build with nothing edited starts none", async () => {
  const ws = copyFixture("tutorial");
  assert.ok((await build({ cwd: ws, jobs: 1 })).ok);
  assert.equal(await spied(() => build({ cwd: ws, jobs: 1 })), ["lookup", "lookup"], "nothing to run: no worker");

  const steps = join(ws, "experiments/consumer/steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total + 1"));
  let outcome: Awaited<ReturnType<typeof build>> | undefined;
  const calls = await spied(async () => (outcome = await build({ cwd: ws, jobs: 1 })));
  assert.equal(calls, ["warm", "lookup", "lookup"], "the worker starts as the build begins, before producer is looked up");
  assert.equal(outcome!.experiments.map((e) => [e.name, e.status]), [["producer", "cached"], ["consumer", "built"]]);
});

test("a reverted edit is guessed to run but restored from the store: the worker started for it is not used", async () => {
  const ws = copyFixture("tutorial");
  const steps = join(ws, "experiments/consumer/steps.ts");
  const original = readFileSync(steps, "utf8");
  assert.ok((await build({ cwd: ws, jobs: 1 })).ok);
  writeFileSync(steps, original.replace("data.producer_summary.total", "data.producer_summary.total + 1"));
  assert.ok((await build({ cwd: ws, jobs: 1 })).ok);
  writeFileSync(steps, original);
  let outcome: Awaited<ReturnType<typeof build>> | undefined;
  const calls = await spied(async () => (outcome = await build({ cwd: ws, jobs: 1 })));
  assert.equal(calls, ["warm", "lookup", "lookup"]);
  assert.equal(outcome!.experiments.map((e) => [e.name, e.status, e.version]), [["producer", "cached", 0], ["consumer", "cached", 0]]);
});

test.run();
