import { test } from "uvu";
import * as assert from "uvu/assert";
import { globBases, undeclaredReads, unwatchedListings } from "../lib/run/undeclared.js";

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

test("glob bases: where each inputs: pattern starts matching, workspace-relative; plain paths and negations are none", () => {
  const inputs = ["raw/**", "tables/*.csv", "**/*.json", "../shared/{a,b}/*.txt", "exact.csv", "!raw/skip/**", "nested/dir/x?.bin"];
  assert.equal(globBases("experiments/e", inputs), ["experiments/e/raw", "experiments/e/tables", "experiments/e", "experiments/shared", "experiments/e/nested/dir"]);
  assert.equal(globBases(".", ["*.csv"]), [""], "an experiment at the root: the whole workspace");
});

test("unwatched listings: folders inside the workspace that no inputs: glob reaches", () => {
  const listed = ["/ws/experiments/e/raw", "/ws/experiments/e/raw/deeper", "/ws/experiments/e/other", "/ws/experiments/e/other", "/ws/data/up/v0", "/ws/node_modules/pkg", "/ws/.git", "/ws", "/elsewhere"];
  assert.equal(unwatchedListings("/ws", "/ws/data", listed, []), ["experiments/e/other", "experiments/e/raw", "experiments/e/raw/deeper"]);
  assert.equal(unwatchedListings("/ws", "/ws/data", listed, ["experiments/e/raw"]), ["experiments/e/other"], "a glob reaches its base and below");
  assert.equal(unwatchedListings("/ws", "/ws/data", listed, ["experiments/e/ra"]), ["experiments/e/other", "experiments/e/raw", "experiments/e/raw/deeper"], "by whole folder names");
  assert.equal(unwatchedListings("/ws", "/ws/data", listed, [""]), [], "a glob from the root reaches everything");
});

test.run();
