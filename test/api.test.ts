import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExperimentGraph, build } from "../dist/lib/index.js";
import { copyFixture, readJson, runCli } from "./helpers.js";

test("ExperimentGraph.fromYaml on a folder loads every experiment; run() builds them", async () => {
  const ws = copyFixture("tutorial");
  const graph = await ExperimentGraph.fromYaml(join(ws, "experiments"));
  assert.equal([...graph.experiments], ["producer", "consumer"]);
  assert.equal(graph.upstreamOf("consumer"), ["producer"]);
  const outcome = await graph.run({ jobs: 1 });
  assert.ok(outcome.ok);
  assert.equal(outcome.experiments.map((e) => [e.name, e.status, e.version]), [["producer", "built", 0], ["consumer", "built", 0]]);
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [6]);
});

test("code edited between fromYaml and run() is keyed as it runs", async () => {
  const ws = copyFixture("tutorial");
  const graph = await ExperimentGraph.fromYaml(join(ws, "experiments"));
  const steps = join(ws, "experiments/consumer/steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 2"));
  assert.ok((await graph.run({ jobs: 1 })).ok);
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [12]);
  const again = await runCli(["build"], ws);
  assert.match(again.stdout, /0 built, 2 up to date/, "the CLI finds the key the API stored: the edited code's");
});

test("ExperimentGraph.fromYaml on one config.yaml covers that experiment and its upstream", async () => {
  const ws = copyFixture("tutorial");
  const onlyProducer = await ExperimentGraph.fromYaml(join(ws, "experiments/producer/config.yaml"));
  assert.equal([...onlyProducer.experiments], ["producer"]);
  const consumer = await ExperimentGraph.fromYaml(join(ws, "experiments/consumer/config.yaml"));
  assert.equal([...consumer.experiments], ["producer", "consumer"]);
});

test("visualize renders text, mermaid and dot", async () => {
  const graph = await ExperimentGraph.fromYaml(join(copyFixture("tutorial"), "experiments"));
  assert.match(graph.visualize("text"), /level 1\n {2}consumer {2}<- producer#summary/);
  assert.match(graph.visualize("mermaid"), /n_producer -->\|summary\| n_consumer/);
  assert.match(graph.visualize("dot"), /"producer" -> "consumer" \[label="summary"\]/);
});

test("build() builds the workspace above cwd and reports events", async () => {
  const ws = copyFixture("tutorial");
  const started: string[] = [];
  const outcome = await build({ cwd: join(ws, "experiments/consumer"), targets: ["producer"], events: { experimentStarted: (n) => started.push(n) } });
  assert.ok(outcome.ok);
  assert.equal(started, ["producer"]);
});

test.run();
