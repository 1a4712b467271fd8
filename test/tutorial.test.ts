import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { copyFixture, exists, readJson, runCli } from "./helpers.js";

test("build consumer runs producer then consumer and writes the tutorial's files", async () => {
  const ws = copyFixture("tutorial");
  const r = await runCli(["build", "consumer"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/producer/v0/replicate_0/baseline/summary.json")), { total: 6 });
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [6]);
  assert.ok(r.stderr.indexOf("✓ producer") < r.stderr.indexOf("▸ consumer"), "consumer starts after producer finished");
  assert.match(r.stdout, /producer\s+v0[\s\S]*artifacts:[\s\S]*summary\s+data\/producer\/v0\/replicate_0\/baseline\/summary\.json/);
  assert.match(r.stdout, /consumer\s+v0[\s\S]*metrics:[\s\S]*total_from_producer\s+6/);
  assert.ok(exists(join(ws, "data/producer/v0/metadata.json")));
});

test.run();
