import { test } from "uvu";
import * as assert from "uvu/assert";
import { undeclaredReads } from "../lib/run/undeclared.js";

test("undeclared reads: inside the workspace, neither keyed, data, packages, tool state nor git", () => {
  const root = "/ws";
  const read = [
    "/ws/experiments/e/raw.csv",
    "/ws/shared/table.txt",
    "/ws/shared/table.txt",
    "/ws/experiments/e/steps.ts",
    "/ws/experiments/e/declared.csv",
    "/ws/data/up/v0/replicate_0/baseline/o.txt",
    "/ws/node_modules/pkg/data.bin",
    "/ws/.crystallize/stat-cache/digest.json",
    "/ws/.git/HEAD",
    "/ws/package.json",
    "/ws/sub/tsconfig.json",
    "/ws/.env",
    "/elsewhere/file.txt",
    "/ws",
  ];
  const keyed = new Set(["experiments/e/steps.ts", "experiments/e/declared.csv"]);
  assert.equal(undeclaredReads(root, "/ws/data", read, keyed), [".env", "experiments/e/raw.csv", "shared/table.txt"]);
  assert.equal(undeclaredReads(root, "/ws/out/store", ["/ws/out/store/x", "/ws/data/x"], new Set()), ["data/x"], "the data folder as configured");
});

test.run();
