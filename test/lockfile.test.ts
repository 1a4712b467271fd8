// crystallize.lock's text: real locks take the fast YAML path both ways, byte for byte; edited
// and broken ones go to the `yaml` package and read (or fail) exactly as before.
import { execFileSync } from "node:child_process";
import { deepStrictEqual } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parse, stringify } from "yaml";
import { mergeConflict } from "../lib/errors/conflict.js";
import { CrystallizeError } from "../lib/errors/error.js";
import { fastLockData, fastLockText, parseLock, serializeLock, type LockFile } from "../lib/lock/lockfile.js";
import { copyFixture, REPO, runCli } from "./helpers.js";

const REPO_LOCK = readFileSync(join(REPO, "crystallize.lock"), "utf8");

/** Asserts that `text` is read and rewritten by the fast path alone, to yaml's values and its own bytes. */
async function assertFastRoundTrip(text: string, name: string): Promise<void> {
  const data = fastLockData(text);
  assert.ok(data !== undefined, `${name}: the fast reader declined it`);
  deepStrictEqual(data, parse(text), `${name}: read as yaml reads it`);
  const lock = await parseLock(text);
  assert.is(fastLockText(lock), text, `${name}: the fast writer reproduces it`);
  assert.is(await serializeLock(lock), text, name);
}

const real = suite("crystallize.lock: real locks take the fast path");

real("the repository's own lock", async () => {
  assert.ok(REPO_LOCK.includes("runtime: node20 module"), "a lock with the usual fields");
  await assertFastRoundTrip(REPO_LOCK, "crystallize.lock");
});

real("the locks the fixture workspaces build (TypeScript and Python)", async () => {
  for (const fixture of ["tutorial", "tutorial-python"]) {
    const ws = copyFixture(fixture);
    const r = await runCli(["build"], ws);
    assert.is(r.code, 0, r.output);
    const text = readFileSync(join(ws, "crystallize.lock"), "utf8");
    assert.ok(Object.keys(parse(text).experiments).length >= 2, `${fixture}: a lock with its experiments`);
    await assertFastRoundTrip(text, fixture);
  }
});

real("writing and reading a lock we wrote never loads the yaml package; an edited one does", () => {
  // In a fresh process: the import is lazy, so whether the module was loaded is observable.
  const script = `
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    const { parseLock, serializeLock } = await import(${JSON.stringify(pathToFileURL(join(REPO, "lib/lock/lockfile.ts")).href)});
    const loaded = () => Object.keys(createRequire(${JSON.stringify(REPO + "/")}).cache).some((p) => p.includes("/node_modules/yaml/"));
    const text = readFileSync("crystallize.lock", "utf8");
    const same = (await serializeLock(await parseLock(text))) === text;
    const fast = loaded();
    await parseLock(text.replace("version: 1\\n", "version: 1 # edited\\n"));
    console.log(JSON.stringify({ same, fast, edited: loaded() }));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, encoding: "utf8" });
  assert.equal(JSON.parse(out), { same: true, fast: false, edited: true });
});

const fallback = suite("crystallize.lock: texts outside the fast path");

/** The repository lock's data, edited by hand in ways the fast reader does not take. */
const EDITED: Record<string, (t: string) => string> = {
  "a comment": (t) => t.replace("experiments:\n", "experiments: # reviewed\n"),
  "a comment line": (t) => t.replace("  producer:\n", "  # the producer\n  producer:\n"),
  "no header": (t) => t.split("\n").slice(2).join("\n"),
  "four-space indentation": (t) => t.slice(0, t.indexOf("experiments:")) + stringify(parse(t), { indent: 4 }),
  "flow style": (t) => t.replace(/outputs:\n +summary:\n +file_name: summary.json\n +loader: load_json\n +writer: dump_json\n/, "outputs: {summary: {file_name: summary.json, loader: load_json, writer: dump_json}}\n"),
  "quoted strings": (t) => t.replace(/key: (\w+)/g, 'key: "$1"').replace("name: inspect_summary", "name: 'inspect_summary'"),
  "keys out of order": (t) => t.replace(/( +)env: \{\}\n( +)inputs: \{\}\n/, "$2inputs: {}\n$1env: {}\n"),
  "a blank line": (t) => t.replace("  producer:\n", "\n  producer:\n"),
  "a trailing space": (t) => t.replace("version: 1\n", "version: 1 \n"),
  "Windows line endings": (t) => t.replace(/\n/g, "\r\n"),
  "no final newline": (t) => t.slice(0, -1),
  "a number written another way": (t) => t.replace("replicates: 1\n", "replicates: 1.0\n"),
  "null written as ~": (t) => t.replace("datasource: null", "datasource: ~"),
  "a flow sequence": (t) => t.replace("      env: []\n", "      env: [HOME]\n"),
  "a sequence not indented under its key": (t) => t.replace(/\n {8}- kwargs: \{\}\n {10}name: produce_summary/, "\n      - kwargs: {}\n        name: produce_summary"),
};

fallback("hand-edited locks go to the yaml package and read exactly as it reads them", async () => {
  for (const [name, edit] of Object.entries(EDITED)) {
    const text = edit(REPO_LOCK);
    assert.is.not(text, REPO_LOCK, `${name}: the edit applies`);
    assert.is(fastLockData(text), undefined, `${name}: not taken by the fast reader`);
    deepStrictEqual(await parseLock(text), parse(text), name);
  }
  // Edits that only change the form read as the original data.
  const original = parse(REPO_LOCK);
  for (const name of ["a comment", "a comment line", "no header", "four-space indentation", "flow style", "quoted strings", "keys out of order", "a blank line", "Windows line endings"]) {
    deepStrictEqual(await parseLock(EDITED[name](REPO_LOCK)), original, name);
  }
});

/** The error parseLock throws for `text`, which it must. */
async function lockError(text: string): Promise<CrystallizeError> {
  try {
    await parseLock(text);
  } catch (err) {
    assert.instance(err, CrystallizeError);
    return err as CrystallizeError;
  }
  throw new Error("parseLock accepted it");
}

fallback("a lock with a merge conflict is not valid YAML, with the yaml package's own message", async () => {
  const text = REPO_LOCK.replace("  producer:\n", "<<<<<<< HEAD\n  producer:\n=======\n  producer2:\n>>>>>>> theirs\n");
  let yamlMessage = "";
  try {
    parse(text);
  } catch (err) {
    yamlMessage = (err as Error).message.split("\n")[0];
  }
  assert.ok(yamlMessage, "yaml rejects it");
  const err = await lockError(text);
  assert.is(err.code, "LOCK_FILE");
  assert.is(err.message, `crystallize.lock is not valid YAML: ${yamlMessage}`);
  assert.equal(err.location, { file: "crystallize.lock" });
  assert.is(err.hint, "restore it from git, or delete it and run `crystallize build` to write a new one");
});

fallback("a lock of the wrong shape or version is refused as before, whichever path read it", async () => {
  const header = REPO_LOCK.slice(0, REPO_LOCK.indexOf("experiments:"));
  const cases: Array<[string, string, boolean]> = [
    [header + "experiments: 3\nversion: 1\n", "crystallize.lock has an unexpected shape", true],
    [header + "- a\n", "crystallize.lock has an unexpected shape", false],
    ["", "crystallize.lock has an unexpected shape", false],
    [REPO_LOCK.replace(/version: 1\n$/, "version: 2\n"), "crystallize.lock has format version 2; this crystallize writes version 1", true],
    [REPO_LOCK.replace(/version: 1\n$/, "version: '1'\n"), "crystallize.lock has format version 1; this crystallize writes version 1", false],
  ];
  for (const [text, message, fast] of cases) {
    assert.is(fastLockData(text) !== undefined, fast, `${message}: ${fast ? "" : "not "}read by the fast path`);
    const err = await lockError(text);
    assert.is(err.code, "LOCK_FILE");
    assert.is(err.message, message);
  }
});

fallback("a lock with a value the fast writer declines is written by the yaml package and read back by it", async () => {
  const lock = (await parseLock(REPO_LOCK)) as LockFile;
  lock.experiments.producer.params.treatments = { baseline: {}, "1": { note: "a: b", n: -0, s: "line\nbreak" } };
  assert.is(fastLockText(lock), undefined);
  const text = await serializeLock(lock);
  assert.match(text, /"1":\n/);
  assert.is(fastLockData(text), undefined);
  deepStrictEqual(await parseLock(text), lock);
});

fallback("merge conflicts are found by git's markers at line starts, both of them", () => {
  const lines = REPO_LOCK.split("\n");
  const conflicted = [...lines.slice(0, 5), "<<<<<<< HEAD", lines[5], "=======", "    key: other", ">>>>>>> branch", ...lines.slice(6)].join("\n");
  assert.equal(mergeConflict(conflicted), { offset: lines.slice(0, 5).join("\n").length + 1, line: 6 });
  assert.is(mergeConflict(REPO_LOCK), undefined);
  assert.is(mergeConflict(conflicted.replace(">>>>>>> branch", "")), undefined, "an opening marker alone is some other text");
  assert.is(mergeConflict(conflicted.replace("<<<<<<< HEAD", "  <<<<<<< HEAD")), undefined, "not at a line start");
  assert.is(mergeConflict(">>>>>>> b\n<<<<<<< a\n"), undefined, "the closing marker comes after the opening one");
  assert.equal(mergeConflict("x\n<<<<<<<\ny\n>>>>>>>\n"), { offset: 2, line: 2 }, "markers without labels (git's union of unnamed sides)");
});

real.run();
fallback.run();
