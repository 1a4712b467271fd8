// Unit tests of the pure core: config parsing, graph, conditions, plan, keys, reasons, priority.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig } from "../lib/config/load.js";
import type { ExperimentConfig } from "../lib/config/types.js";
import { Graph } from "../lib/graph/graph.js";
import { initHasher } from "../lib/hash/digest.js";
import { normalizeConfig, unitKey, type ExperimentFacts } from "../lib/hash/keys.js";
import { computeConditions } from "../lib/plan/conditions.js";
import { planBuild, replicateSeed } from "../lib/plan/plan.js";
import { criticalPathPriority } from "../lib/plan/priority.js";
import { describeReason, diffValues } from "../lib/plan/reasons.js";
import { parseSettings } from "../lib/workspace/settings.js";

function cfg(name: string, yaml: string, state: string[] = []): ExperimentConfig {
  const dir = `experiments/${name}`;
  return parseConfig(yaml, { configFile: `${dir}/config.yaml`, dir, folderId: name, modules: { steps: `${dir}/steps.ts` }, inactiveTreatments: state });
}

const producer = (name: string, extra = "") => cfg(name, `outputs: {o: {}}\nsteps: [s]\n${extra}`);
const reader = (name: string, ups: string[], extra = "") => cfg(name, `datasource: {${ups.map((u) => `${u}: ${u}#o`).join(", ")}}\noutputs: {o: {}}\nsteps: [s]\n${extra}`);

const conditions = suite("conditions");

conditions("baseline first, own treatments in config order, inherited ones sorted; baseline values merged", () => {
  const g = Graph.build([
    producer("up", "treatments: {z_up: {a: 1}, b_up: {a: 2}}\n"),
    reader("down", ["up"], "treatments: {baseline: {a: 0, k: 9}, own: {a: 5}}\n"),
  ]);
  const c = computeConditions(g);
  assert.equal(c.get("up")!.map((x) => x.name), ["baseline", "z_up", "b_up"]);
  assert.equal(c.get("down")!.map((x) => [x.name, x.values, x.declaredBy]), [
    ["baseline", { a: 0, k: 9 }, "down"],
    ["own", { a: 5, k: 9 }, "down"],
    ["b_up", { a: 2, k: 9 }, "up"],
    ["z_up", { a: 1, k: 9 }, "up"],
  ]);
});

conditions("an inactive treatment runs neither upstream nor through it downstream; own definition wins", () => {
  const g = Graph.build([
    cfg("up", "outputs: {o: {}}\nsteps: [s]\ntreatments: {t1: {}, t2: {x: 1}}\n", ["t1"]),
    reader("down", ["up"], "treatments: {t2: {x: 99}}\n"),
  ]);
  const c = computeConditions(g);
  assert.equal(c.get("up")!.map((x) => x.name), ["baseline", "t2"]);
  assert.equal(c.get("down")!.map((x) => [x.name, x.values]), [["baseline", {}], ["t2", { x: 99 }]]);
});

conditions.run();

const plan = suite("plan");

plan("units: conditions x replicates, seeds shared by conditions, reads with fallback and modulo", () => {
  const g = Graph.build([producer("up", "replicates: 2\n"), reader("down", ["up"], "replicates: 3\nseed: 5\ntreatments: {t: {}}\n")]);
  const p = planBuild(g, ["down"]);
  assert.equal(p.experiments.map((e) => e.name), ["up", "down"]);
  const down = p.experiments[1];
  assert.equal(down.units.map((u) => [u.condition.name, u.replicate, u.seed]), [
    ["baseline", 0, 5], ["baseline", 1, 5 + 31337], ["baseline", 2, 5 + 2 * 31337],
    ["t", 0, 5], ["t", 1, 5 + 31337], ["t", 2, 5 + 2 * 31337],
  ]);
  assert.equal(down.units.map((u) => [u.reads[0].condition, u.reads[0].replicate, u.reads[0].fallback]), [
    ["baseline", 0, false], ["baseline", 1, false], ["baseline", 0, false],
    ["baseline", 0, true], ["baseline", 1, true], ["baseline", 0, true],
  ]);
  assert.is(replicateSeed(2 ** 32 - 1, 1), (2 ** 32 - 1 + 31337) % 2 ** 32);
});

plan("targets select their upstream closure only; overrides apply", () => {
  const g = Graph.build([producer("a"), reader("b", ["a"]), reader("c", ["b"]), producer("d", "treatments: {t: {}}\n")]);
  assert.equal(planBuild(g, ["b"]).experiments.map((e) => e.name), ["a", "b"]);
  assert.equal(planBuild(g, []).experiments.map((e) => e.name), ["a", "b", "c", "d"]);
  const o = planBuild(g, ["d"], { replicates: 2, treatments: [] });
  assert.equal(o.experiments[0].units.map((u) => `${u.condition.name}/${u.replicate}`), ["baseline/0", "baseline/1"]);
});

const settings = suite("crystallize.yaml");

settings("defaults, values, and each bad value refused where it is written", () => {
  assert.equal(parseSettings("crystallize.yaml", ""), { experiments: "experiments", data: "data" });
  assert.equal(parseSettings("crystallize.yaml", "experiments: exps/\ndata: out\njobs: 3\nworker_memory_mb: 64\n"), { experiments: "exps", data: "out", jobs: 3, workerMemoryMb: 64 });
  const refused = (text: string) => {
    try {
      parseSettings("crystallize.yaml", text);
    } catch (err) {
      const e = err as { message: string; location?: { line?: number }; hint?: string };
      return [e.message, e.location?.line, e.hint];
    }
    throw new Error(`accepted: ${text}`);
  };
  assert.equal(refused("jobs: 2\njob: 2\n"), ['unknown key "job" in crystallize.yaml', 2, "did you mean `jobs`?"]);
  assert.equal(refused("jobs: 0\n"), ["jobs: expected a positive integer, got the integer 0", 1, undefined]);
  assert.equal(refused("worker_memory_mb: 8\n"), ["worker_memory_mb: must be at least 16 (MiB), got 8", 1, "it is each worker's heap limit; a worker cannot start with less"]);
  assert.equal(refused("data: ../elsewhere\n")[0], 'data: expected a folder inside the workspace, got the string "../elsewhere"');
  assert.equal(parseSettings("crystallize.yaml", "worker_memory_mb: 16\n").workerMemoryMb, 16);
});

settings.run();

const targets = suite("targets");

targets("names, folder ids, and folders as paths from where the command runs", () => {
  const at = (folder: string, extra = "") =>
    parseConfig(`outputs: {o: {}}\nsteps: [s]\n${extra}`, { configFile: `experiments/${folder}/config.yaml`, dir: `experiments/${folder}`, folderId: folder, modules: { steps: `experiments/${folder}/steps.ts` }, inactiveTreatments: [] });
  const g = Graph.build([at("prep"), at("vision/cnn", "name: cnn\n"), at("vision/vit", "name: vit\n")]);
  assert.equal(g.resolveTargets(["cnn", "vision/vit", "experiments/prep/"]), ["cnn", "vit", "prep"]);
  assert.equal(g.resolveTargets(["."], "experiments/vision/cnn"), ["cnn"], "an experiment's own folder");
  assert.equal(g.resolveTargets([".", "../../vit"], "experiments/vision/cnn/src"), ["cnn", "vit"], "a folder inside one, and a sibling");
  assert.equal(g.resolveTargets(["vision"], "experiments"), ["cnn", "vit"], "a group folder: all of it");
  assert.equal(g.resolveTargets(["."], "").sort(), ["cnn", "prep", "vit"]);
  assert.equal(g.resolveTargets(["prep"], "experiments/vision"), ["prep"], "a name wins over a path");
  assert.is(g.resolveTarget("../cnn", "experiments/vision/vit"), "cnn");
  assert.throws(() => g.resolveTarget("vision", "experiments"), (e: Error) => e.message === '"vision" holds 2 experiments: cnn, vit');
  assert.throws(() => g.resolveTargets([".."], ""), (e: Error) => e.message === 'no experiment ".."');
  assert.throws(() => g.resolveTargets(["docs"], ""), (e: Error) => e.message === 'no experiment "docs"');
});

targets.run();

plan.run();

const keys = suite("keys");

const facts: ExperimentFacts = { code: { files: { "experiments/a/steps.ts": "d1" as never }, packages: {} }, inputs: {}, env: {}, runtime: "node20 commonjs tsconfig:none" };

keys.before(async () => {
  await initHasher();
});

keys("a unit key changes with what can change its result, and only with that", () => {
  const base = cfg("a", "steps: [{s: {lr: 0.1}}]\nreplicates: 2\ntreatments: {t: {x: 1}, u: {x: 2}}\n");
  const k = (c: ExperimentConfig, over: Partial<Parameters<typeof unitKey>[0]> = {}) =>
    unitKey({ config: normalizeConfig(c), facts, condition: "t", values: { x: 1 }, replicate: 0, seed: 0, reads: [], ...over });
  const ref = k(base);
  assert.match(ref, /^[0-9a-f]{32}$/);
  assert.is(k(base), ref, "deterministic");
  // Not in the key: replicate count, other treatments, description, cli, name.
  assert.is(k(cfg("a", "steps: [{s: {lr: 0.1}}]\nreplicates: 5\ntreatments: {t: {x: 1}, u: {x: 7}}\ndescription: hi\ncli: {group: g}\n")), ref);
  assert.is(k(cfg("renamed", "steps: [{s: {lr: 0.1}}]\nreplicates: 2\ntreatments: {t: {x: 1}, u: {x: 2}}\n")), ref);
  // In the key: step kwargs, the condition's values, replicate, seed, code, env, reads.
  assert.is.not(k(cfg("a", "steps: [{s: {lr: 0.2}}]\nreplicates: 2\ntreatments: {t: {x: 1}}\n")), ref);
  assert.is.not(k(base, { values: { x: 2 } }), ref);
  assert.is.not(k(base, { replicate: 1 }), ref);
  assert.is.not(k(base, { seed: 1 }), ref);
  assert.is.not(k(base, { facts: { ...facts, code: { files: { "experiments/a/steps.ts": "d2" as never }, packages: {} } } }), ref);
  assert.is.not(k(base, { facts: { ...facts, env: { X: null } } }), ref);
  assert.is.not(k(base, { reads: [{ alias: "u", digest: "aa" as never, loader: null }] }), ref);
  assert.is.not(k(base, { reads: [{ alias: "u", digest: "aa" as never, loader: "ll" as never }] }), k(base, { reads: [{ alias: "u", digest: "aa" as never, loader: null }] }));
});

keys.run();

const reasons = suite("reasons");

reasons("diffValues names leaf paths with old and new values", () => {
  assert.equal(diffValues({ t: { a: { d: 1 } }, s: [1, 2] }, { t: { a: { d: 2 }, b: {} }, s: [1, 3] }), [
    { path: "s[1]", old: 2, new: 3 },
    { path: "t.a.d", old: 1, new: 2 },
    { path: "t.b", old: undefined, new: {} },
  ]);
  assert.equal(diffValues({ s: [1] }, { s: [1, 2] }), [{ path: "s", old: [1], new: [1, 2] }]);
});

reasons("every reason reads as a sentence", () => {
  assert.is(describeReason({ kind: "config", path: "treatments.plus_one.delta", old: 1, new: 2 }), "config treatments.plus_one.delta: 1 → 2");
  assert.is(describeReason({ kind: "code", file: "experiments/a/steps.ts", change: "modified" }), "code experiments/a/steps.ts modified");
  assert.is(describeReason({ kind: "failed-before", units: 2, error: "boom" }), "2 units failed in an earlier build: boom");
  assert.is(describeReason({ kind: "missing-output", units: 1 }), "1 result missing or corrupt in the store");
});

reasons.run();

const priority = suite("priority");

priority("the longest remaining path goes first; history weighs experiments by duration", () => {
  // a -> b -> c (a chain) and a -> d (a leaf): b outranks d.
  const g = Graph.build([producer("a"), reader("b", ["a"]), reader("c", ["b"]), reader("d", ["a"])]);
  const p = planBuild(g, []);
  const byCount = criticalPathPriority(g, p, {});
  assert.ok(byCount.get("b")! > byCount.get("d")!);
  assert.ok(byCount.get("a")! > byCount.get("b")!);
  // With history, a slow leaf d outranks the short chain b -> c.
  const byTime = criticalPathPriority(g, p, { a: 10, b: 10, c: 10, d: 500 });
  assert.ok(byTime.get("d")! > byTime.get("b")!);
});

priority.run();
