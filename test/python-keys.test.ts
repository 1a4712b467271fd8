// Keys over Python code, end to end: what an edit to a .py file makes stale, and what it does
// not. The tests share one workspace and run in order; each leaves it fresh.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { makeWorkspace, readJson, runCli } from "./helpers.js";

/** `python3` straight to the interpreter, not through a pyenv shim (see python.test.ts). */
const FAST_BIN = mkdtempSync(join(tmpdir(), "cz-pybin-"));
symlinkSync(execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim(), join(FAST_BIN, "python3"));
const run = (args: string[], cwd: string) => runCli(args, cwd, { PATH: `${FAST_BIN}${delimiter}${process.env.PATH}` });

const STEPS = `import helpers
from util import f
from pkg import mod
import json; import semi
# a comment

def s(data):
    label = "value # not a comment"
    return data, {"a": helpers.A, "b": f(), "c": mod.C, "d": semi.D, "label": label}
`;

const WORKSPACE = {
  "experiments/k/config.yaml": "steps: [s]\n",
  "experiments/k/steps.py": STEPS,
  "experiments/k/helpers.py": "A = 1\n",
  "experiments/k/util.py": "def f():\n    return 2\n",
  "experiments/k/pkg/__init__.py": "VERSION = 1\n",
  "experiments/k/pkg/mod.py": "C = 3\n",
  "experiments/k/semi.py": "D = 4\n",
  "experiments/k/unrelated.py": "X = 1\n",
};

let ws = "";
const file = (rel: string) => join(ws, "experiments/k", rel);
const edit = (rel: string, change: (text: string) => string) => writeFileSync(file(rel), change(readFileSync(file(rel), "utf8")));
const metrics = () => readJson(join(ws, "data/k/v0/baseline/results.json")).metrics;
const latestMetrics = async () => {
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const version = /\n {4}version: (\d+)/.exec(lock)![1];
  return readJson(join(ws, `data/k/v${version}/baseline/results.json`)).metrics;
};

/** `status` says fresh; with `check`, so does `crystallize check` (exit 0). */
async function expectFresh(why: string, { check = false } = {}): Promise<void> {
  const status = await run(["status"], ws);
  assert.match(status.stdout, /fresh\s+k/, `${why}\n${status.output}`);
  if (check) {
    const c = await run(["check"], ws);
    assert.is(c.code, 0, `${why}\n${c.output}`);
  }
}

/** `status` says stale because of `rel`; with `check`, `crystallize check` exits 1 naming it. */
async function expectStale(rel: string, { check = false } = {}): Promise<void> {
  const status = await run(["status"], ws);
  assert.match(status.stdout, new RegExp(`stale\\s+k .*code experiments/k/${rel.replace(/[./]/g, "\\$&")} modified`), status.output);
  if (check) {
    const c = await run(["check"], ws);
    assert.is(c.code, 1, c.output);
    assert.ok(c.output.includes(`experiments/k/${rel}`), c.output);
  }
}

test("first build records every local module of the closure", async () => {
  ws = makeWorkspace(WORKSPACE);
  const r = await run(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(metrics(), { a: [1], b: [2], c: [3], d: [4], label: ["value # not a comment"] });
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  for (const rel of ["steps.py", "helpers.py", "util.py", "pkg/__init__.py", "pkg/mod.py", "semi.py"]) {
    assert.ok(lock.includes(`experiments/k/${rel}:`), `${rel} in the lock:\n${lock}`);
  }
  assert.not.ok(lock.includes("unrelated.py"), lock);
});

test("comment-only and blank-line edits (in steps.py and in a module it imports) rerun nothing", async () => {
  edit("steps.py", (t) => t.replace("# a comment", "# an edited comment\n\n# and another").replace('"value # not a comment"', '"value # not a comment"   # trailing note'));
  edit("helpers.py", (t) => `# helpers, documented\n${t}\n\n`);
  await expectFresh("comments only", { check: true });
  const r = await run(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /0 built, 1 up to date/);
  assert.not.match(r.stderr, /▸ k/);
});

test("a # inside a string literal is code: editing it reruns", async () => {
  edit("steps.py", (t) => t.replace('"value # not a comment"', '"value # edited inside the string"'));
  await expectStale("steps.py");
  const r = await run(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal((await latestMetrics()).label, ["value # edited inside the string"]);
});

test("editing code in a module steps.py imports reruns, and status names that .py file", async () => {
  edit("helpers.py", (t) => t.replace("A = 1", "A = 10"));
  await expectStale("helpers.py", { check: true });
  const r = await run(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stderr, /▸ k/);
  assert.equal((await latestMetrics()).a, [10]);
  await expectFresh("after the rebuild", { check: true });
});

test("every import form is followed: from-import, package module, package __init__, import after ';'", async () => {
  for (const rel of ["util.py", "pkg/mod.py", "pkg/__init__.py", "semi.py"]) {
    const before = readFileSync(file(rel), "utf8");
    writeFileSync(file(rel), `${before}EXTRA = 1\n`);
    await expectStale(rel);
    writeFileSync(file(rel), before);
  }
  await expectFresh("every edit undone: keys are over content");
});

test("an unrelated .py file in the experiment folder is not part of the key", async () => {
  edit("unrelated.py", (t) => t.replace("X = 1", "X = 2\nimport os\n"));
  await expectFresh("unrelated.py edited", { check: true });
});

test("relative imports (from . import helpers, from .pkg import mod) run, and edits to them rerun", async () => {
  const rel = makeWorkspace({
    "experiments/r/config.yaml": "steps: [s]\n",
    "experiments/r/steps.py": "from . import helpers\nfrom .pkg import mod\n\ndef s(data):\n    return data, {'a': helpers.A, 'c': mod.C}\n",
    "experiments/r/helpers.py": "A = 1\n",
    "experiments/r/pkg/__init__.py": "",
    "experiments/r/pkg/mod.py": "C = 3\n",
  });
  const r = await run(["build"], rel);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(rel, "data/r/v0/baseline/results.json")).metrics, { a: [1], c: [3] });
  writeFileSync(join(rel, "experiments/r/pkg/mod.py"), "C = 30\n");
  const status = await run(["status"], rel);
  assert.match(status.stdout, /stale\s+r .*experiments\/r\/pkg\/mod\.py/, status.output);
});

test.run();
