// End-to-end tests of configuration errors: every user mistake is reported as
// `file:line:col error: message`, an excerpt with a caret and a hint, with exit code 2,
// before any code runs (so no `data/` folder appears) and without a stack trace of the tool.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { exists, makeWorkspace, runCli, type CliResult } from "./helpers.js";

const STEP_S = `export const s = (data, ctx) => { ctx.metrics.add("m", 1); return data; };\n`;
const STEP_W = `export const w = (d, ctx) => { ctx.outputs.summary.write("x"); return d; };\n`;

/** A producer experiment with one output `summary`, for consumers to reference. */
const PRODUCER = {
  "experiments/producer/config.yaml": "steps: [w]\noutputs:\n  summary: {file_name: summary.json}\n",
  "experiments/producer/steps.ts": STEP_W,
};

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Runs `build` (or `args`) and checks what every user error shares: exit 2, no stack, nothing run. */
async function failBuild(files: Record<string, string>, args: string[] = ["build"]): Promise<{ r: CliResult; ws: string }> {
  const ws = makeWorkspace(files);
  const r = await runCli(args, ws);
  assert.is(r.code, 2, `expected exit 2, got ${r.code}:\n${r.output}`);
  assert.not.ok(r.output.includes("    at "), `no stack trace of the tool expected:\n${r.output}`);
  assert.not.match(r.output, /internal error/, r.output);
  assert.not.ok(exists(join(ws, "data")), `no data/ folder expected after a configuration error:\n${r.output}`);
  return { r, ws };
}

/** The output names `file:line:col` followed by ` error:`. */
function assertAt(r: CliResult, file: string, line: number, column: number | number[]): void {
  const cols = Array.isArray(column) ? column : [column];
  const re = new RegExp(`${escapeRe(file)}:${line}:(${cols.join("|")}) error: `);
  assert.match(r.output, re, `expected ${file}:${line}:${cols.join("|")} in:\n${r.output}`);
}

/** The excerpt shows line `line` and a caret under column `column`. */
function assertCaret(r: CliResult, line: number, column: number): void {
  const lines = r.output.split("\n");
  const i = lines.findIndex((l, k) => new RegExp(`^\\s*${line} \\| `).test(l) && /^\s*\|\s*\^/.test(lines[k + 1] ?? ""));
  assert.ok(i >= 0, `expected an excerpt of line ${line} with a caret:\n${r.output}`);
  const src = lines[i];
  const caret = lines[i + 1];
  const textStart = src.indexOf(" | ") + 3;
  assert.is(caret.indexOf("|"), src.indexOf("|"), `caret line aligned with the excerpt:\n${src}\n${caret}`);
  assert.is(caret.indexOf("^") - textStart, column - 1, `caret under column ${column}:\n${src}\n${caret}`);
}

function assertHint(r: CliResult, hint: string): void {
  assert.ok(r.output.includes(`  hint: ${hint}`), `expected hint "${hint}" in:\n${r.output}`);
}

// 1. Unknown keys ---------------------------------------------------------------------------

test("unknown top-level key `step` -> did you mean `steps`", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "description: demo\nstep: [s]\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 2, 1);
  assertCaret(r, 2, 1);
  assert.ok(r.output.includes('unknown key "step"'), r.output);
  assertHint(r, "did you mean `steps`?");
});

test("unknown key `writter` inside outputs.summary -> did you mean `writer`", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [w]\noutputs:\n  summary:\n    file_name: summary.json\n    writter: save\n",
    "experiments/a/steps.ts": STEP_W,
    "experiments/a/outputs.ts": "export const save = (v) => JSON.stringify(v);\n",
  });
  assertAt(r, "experiments/a/config.yaml", 5, 5);
  assertCaret(r, 5, 5);
  assert.ok(r.output.includes('unknown key "writter"'), r.output);
  assert.ok(r.output.includes("outputs.summary"), r.output);
  assertHint(r, "did you mean `writer`?");
});

test("unknown key `verifer` in a hypothesis -> did you mean `verifier`", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": [
      "steps: [s]",
      "treatments:",
      "  baseline: {}",
      "  more: {delta: 1}",
      "hypotheses:",
      "  - name: h",
      "    verifer: welch_t_test",
      "    metrics: m",
      "",
    ].join("\n"),
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 7, 5);
  assert.ok(r.output.includes('unknown key "verifer"'), r.output);
  assertHint(r, "did you mean `verifier`?");
});

// 2. Wrong types ----------------------------------------------------------------------------

test("`steps: produce` (a string, not a list) is a type error at the value", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "description: demo\nsteps: produce\n",
    "experiments/a/steps.ts": "export const produce = (d) => d;\n",
  });
  assertAt(r, "experiments/a/config.yaml", 2, [1, 8]);
  assert.ok(r.output.includes("steps"), r.output);
  assert.match(r.output, /expected a list/, r.output);
  assert.match(r.output, /hint: .*- produce/, r.output);
});

test('`replicates: "3"` (a quoted string) is a type error, not coerced', async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": 'steps: [s]\nreplicates: "3"\n',
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 2, [1, 13]);
  assert.match(r.output, /replicates: expected an integer/, r.output);
  assert.ok(r.output.includes('"3"'), r.output);
  assertHint(r, "write the number without quotes");
});

// 3. Out-of-range values --------------------------------------------------------------------

test("`replicates: 0` -> must be at least 1", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\nreplicates: 0\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 2, [1, 13]);
  assert.ok(r.output.includes("replicates"), r.output);
  assert.ok(r.output.includes("must be at least 1"), r.output);
  assertHint(r, "use `replicates: 1` for a single run");
});

test("`replicates: 2.7` -> expected an integer", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\nreplicates: 2.7\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 2, [1, 13]);
  assert.ok(r.output.includes("replicates"), r.output);
  assert.ok(r.output.includes("expected an integer"), r.output);
  assert.match(r.output, /hint: use a whole number, e\.g\. 3/, r.output);
});

// 4. Missing exports ------------------------------------------------------------------------

test("a step not exported by steps.ts is reported at the step's line, with did-you-mean", async () => {
  const { r } = await failBuild({
    "experiments/producer/config.yaml": "name: producer\nsteps:\n  - produce_sumary\n",
    "experiments/producer/steps.ts": "export const produce_summary = (d, ctx) => { ctx.metrics.add(\"m\", 1); return d; };\n",
  });
  assertAt(r, "experiments/producer/config.yaml", 3, 5);
  assert.ok(r.output.includes("produce_sumary"), r.output);
  assert.ok(r.output.includes("steps.ts"), r.output);
  assertHint(r, "did you mean `produce_summary`?");
});

test("a writer not exported by outputs.ts is reported at the writer value", async () => {
  const { r } = await failBuild({
    "experiments/producer/config.yaml": "steps: [w]\noutputs:\n  summary:\n    file_name: summary.json\n    writer: save_jsn\n",
    "experiments/producer/steps.ts": STEP_W,
    "experiments/producer/outputs.ts": "export const save_json = (v) => JSON.stringify(v);\n",
  });
  assertAt(r, "experiments/producer/config.yaml", 5, 13);
  assert.ok(r.output.includes("save_jsn"), r.output);
  assert.ok(r.output.includes("outputs.ts"), r.output);
  assertHint(r, "did you mean `save_json`?");
});

test("errors found after YAML validation (missing export, bad reference) also show an excerpt with a caret", async () => {
  const exp = await failBuild({
    "experiments/producer/config.yaml": "name: producer\nsteps:\n  - produce_sumary\n",
    "experiments/producer/steps.ts": "export const produce_summary = (d) => d;\n",
  });
  assertAt(exp.r, "experiments/producer/config.yaml", 3, 5);
  assertCaret(exp.r, 3, 5);
  const ref = await failBuild({
    ...PRODUCER,
    "experiments/consumer/config.yaml": "steps: [s]\ndatasource:\n  s: producer#nope\n",
    "experiments/consumer/steps.ts": STEP_S,
  });
  assertAt(ref.r, "experiments/consumer/config.yaml", 3, 6);
  assertCaret(ref.r, 3, 6);
});

// 5. Bad references -------------------------------------------------------------------------

test("`missing#out` -> no experiment \"missing\"", async () => {
  const { r } = await failBuild({
    ...PRODUCER,
    "experiments/consumer/config.yaml": "steps: [s]\ndatasource:\n  s: missing#out\n",
    "experiments/consumer/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/consumer/config.yaml", 3, [3, 6]);
  assert.ok(r.output.includes('no experiment "missing"'), r.output);
  assert.match(r.output, /hint: .*producer/, r.output);
});

test("`producer#nope` -> has no output \"nope\", the hint lists its outputs", async () => {
  const { r } = await failBuild({
    ...PRODUCER,
    "experiments/consumer/config.yaml": "steps: [s]\ndatasource:\n  s: producer#nope\n",
    "experiments/consumer/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/consumer/config.yaml", 3, [3, 6]);
  assert.ok(r.output.includes('has no output "nope"'), r.output);
  assert.match(r.output, /hint: .*summary/, r.output);
});

test("`producer#sumary` -> did you mean `producer#summary`", async () => {
  const { r } = await failBuild({
    ...PRODUCER,
    "experiments/consumer/config.yaml": "steps: [s]\ndatasource:\n  s: producer#sumary\n",
    "experiments/consumer/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/consumer/config.yaml", 3, [3, 6]);
  assert.ok(r.output.includes('has no output "sumary"'), r.output);
  assertHint(r, "did you mean `producer#summary`?");
});

// 6. Duplicate names ------------------------------------------------------------------------

test("two experiments with one `name:` -> the error names both config paths", async () => {
  const { r } = await failBuild({
    "experiments/one/config.yaml": "description: first\nname: same\nsteps: [s]\n",
    "experiments/one/steps.ts": STEP_S,
    "experiments/two/config.yaml": "description: second\nname: same\nsteps: [s]\n",
    "experiments/two/steps.ts": STEP_S,
  });
  assert.ok(r.output.includes("experiments/one/config.yaml"), r.output);
  assert.ok(r.output.includes("experiments/two/config.yaml"), r.output);
  assert.ok(r.output.includes('"same"'), r.output);
  // Located at the `name:` key (or its value) of one of the two files.
  assert.match(r.output, /experiments\/(one|two)\/config\.yaml:2:(1|7) error: .*same/, r.output);
  assert.match(r.output, /hint: .*name:/, r.output);
});

// 7. Cycles ---------------------------------------------------------------------------------

test("a cycle a -> b -> a is reported with the closed arrow path", async () => {
  const cfg = (other: string) => `steps: [s]\noutputs:\n  o: {file_name: o.json}\ndatasource:\n  x: ${other}#o\n`;
  const { r } = await failBuild({
    "experiments/a/config.yaml": cfg("b"),
    "experiments/a/steps.ts": STEP_S,
    "experiments/b/config.yaml": cfg("a"),
    "experiments/b/steps.ts": STEP_S,
  });
  const m = /cycle: ([ab]) -> ([ab]) -> ([ab])/.exec(r.output);
  assert.ok(m, `expected "x -> y -> x" in:\n${r.output}`);
  assert.is.not(m![1], m![2], "the cycle names both experiments");
  assert.is(m![3], m![1], "the cycle closes the loop");
  // Located at the `datasource:` key or at the reference of the first experiment named.
  assert.match(r.output, new RegExp(`experiments/${m![1]}/config\\.yaml:(4:1|5:3|5:6) error: `), r.output);
  assert.match(r.output, /hint: .*(DAG|remove)/, r.output);
});

// 8. Unsafe file names ----------------------------------------------------------------------

test("`file_name: ../escape.json` escapes its output folder", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [w]\noutputs:\n  summary:\n    file_name: ../escape.json\n",
    "experiments/a/steps.ts": STEP_W,
  });
  assertAt(r, "experiments/a/config.yaml", 4, 16);
  assertCaret(r, 4, 16);
  assert.ok(r.output.includes("file_name"), r.output);
  assert.ok(r.output.includes("escapes its output folder"), r.output);
  assert.match(r.output, /hint: use a relative name/, r.output);
});

test("`file_name: /abs.json` is an absolute path", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [w]\noutputs:\n  summary:\n    file_name: /abs.json\n",
    "experiments/a/steps.ts": STEP_W,
  });
  assertAt(r, "experiments/a/config.yaml", 4, 16);
  assert.ok(r.output.includes("file_name"), r.output);
  assert.ok(r.output.includes("absolute path"), r.output);
  assert.match(r.output, /hint: use a relative name/, r.output);
});

// 9. Invalid YAML ---------------------------------------------------------------------------

test("an unclosed `[` is invalid YAML with a position", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [s\nreplicates: 2\n",
    "experiments/a/steps.ts": STEP_S,
  });
  // The parser notices the missing `]` at the next line; the opening bracket is fine too.
  assert.match(r.output, /experiments\/a\/config\.yaml:(1:8|2:1) error: invalid YAML/, r.output);
  assert.match(r.output, /hint: /, r.output);
});

test("a bad indentation is invalid YAML at the misaligned key", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps:\n  - s\n replicates: 2\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 3, [1, 2]);
  assert.ok(r.output.includes("invalid YAML"), r.output);
  assertHint(r, "check indentation and quoting on this line");
});

test("a duplicate key is invalid YAML at the duplicate", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\nreplicates: 2\nsteps: [s]\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 3, 1);
  assertCaret(r, 3, 1);
  assert.ok(r.output.includes("invalid YAML"), r.output);
  assertHint(r, "each key may appear once in a mapping");
});

test("git's merge conflict markers in a config or in code: named as such, at the first marker", async () => {
  const conflicted = (a: string, b: string) => `<<<<<<< HEAD\n${a}\n=======\n${b}\n>>>>>>> feature\n`;
  const config = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\n" + conflicted("replicates: 2", "replicates: 3"),
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(config.r, "experiments/a/config.yaml", 2, 1);
  assert.ok(config.r.output.includes("unresolved merge conflict"), config.r.output);
  assertHint(config.r, "git left a merge conflict here: keep the lines you want, delete the <<<<<<<, ======= and >>>>>>> markers");
  const code = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\n",
    "experiments/a/steps.ts": STEP_S + conflicted("export const t = 1;", "export const t = 2;"),
  });
  assertAt(code.r, "experiments/a/steps.ts", 2, 1);
  assertCaret(code.r, 2, 1);
  assertHint(code.r, "git left a merge conflict here");
  const python = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\n",
    "experiments/a/steps.py": "def s(data):\n" + conflicted("    return data", "    return data, {}"),
  });
  assertAt(python.r, "experiments/a/steps.py", 2, 1);
  assert.ok(python.r.output.includes("unresolved merge conflict"), python.r.output);
});

// 10. Several errors at once ----------------------------------------------------------------

test("errors in two files are reported in one run, ending with a count", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "description: demo\nstep: [s]\n",
    "experiments/a/steps.ts": STEP_S,
    "experiments/b/config.yaml": "steps: [s]\nreplicates: 0\n",
    "experiments/b/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 2, 1);
  assertAt(r, "experiments/b/config.yaml", 2, [1, 13]);
  assert.ok(r.output.includes('unknown key "step"'), r.output);
  assert.ok(r.output.includes("must be at least 1"), r.output);
  assertHint(r, "did you mean `steps`?");
  const last = r.output.trimEnd().split("\n").pop() ?? "";
  assert.match(last, /\b2 (problems|errors)\b/, `last line: ${last}`);
});

test("several errors in one file are all reported", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "step: [s]\nreplicates: 0\nseed: x\n",
    "experiments/a/steps.ts": STEP_S,
  });
  assertAt(r, "experiments/a/config.yaml", 1, 1);
  assertAt(r, "experiments/a/config.yaml", 2, [1, 13]);
  assertAt(r, "experiments/a/config.yaml", 3, [1, 7]);
  const last = r.output.trimEnd().split("\n").pop() ?? "";
  assert.match(last, /\b3 (problems|errors)\b/, `last line: ${last}`);
});

// 11. State file ----------------------------------------------------------------------------

test("a malformed config.state.json is an error naming the state file", async () => {
  const { r } = await failBuild({
    "experiments/a/config.yaml": "steps: [s]\n",
    "experiments/a/steps.ts": STEP_S,
    "experiments/a/config.state.json": "{not json",
  });
  assert.ok(r.output.includes("experiments/a/config.state.json"), r.output);
  assert.match(r.output, /error: .*JSON/, r.output);
  assert.match(r.output, /hint: .*inactive_treatments/, r.output);
});

// 12. CLI usage -----------------------------------------------------------------------------

test("an unknown build target -> no experiment \"nope\"", async () => {
  const { r } = await failBuild(
    { "experiments/a/config.yaml": "steps: [s]\n", "experiments/a/steps.ts": STEP_S },
    ["build", "nope"],
  );
  assert.ok(r.output.includes('no experiment "nope"'), r.output);
  assert.match(r.output, /hint: .*\ba\b/, r.output);
});

test("with --json, a configuration or usage error is one JSON document on stdout too", async () => {
  const files = { "experiments/a/config.yaml": "steps: [s]\nreplicates: 0\n", "experiments/a/steps.ts": STEP_S };
  const { r } = await failBuild(files, ["build", "--json"]);
  assert.match(r.stderr, /experiments\/a\/config\.yaml:2:13 error: replicates: must be at least 1, got 0/, "the message stays on stderr");
  assert.equal(JSON.parse(r.stdout), {
    command: "build",
    ok: false,
    errors: [{ code: "CONFIG_VALUE", message: "replicates: must be at least 1, got 0", file: "experiments/a/config.yaml", line: 2, column: 13, hint: "use `replicates: 1` for a single run" }],
  });
  const usage = await failBuild(files, ["status", "--json", "--jbos"]);
  assert.equal(JSON.parse(usage.r.stdout).errors.map((e: { code: string; message: string }) => [e.code, e.message]), [["USAGE", "unknown option '--jbos'\n(Did you mean --json?)"]]);
  const plain = await failBuild(files, ["build"]);
  assert.is(plain.r.stdout, "", "without --json, nothing on stdout");
});

test("an unknown CLI option `--jbos` exits 2", async () => {
  const { r } = await failBuild(
    { "experiments/a/config.yaml": "steps: [s]\n", "experiments/a/steps.ts": STEP_S },
    ["build", "--jbos", "3"],
  );
  assert.ok(r.output.includes("--jbos"), r.output);
  assert.match(r.output, /--jobs/, `a suggestion of --jobs expected:\n${r.output}`);
});

test.run();
