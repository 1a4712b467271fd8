// End-to-end tests of workspace and experiment discovery: nested folders, ignored folders,
// target closures, finding the root from a subfolder, and `graph --format`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exists, makeWorkspace, readJson, REPO, runCli } from "./helpers.js";

const STEP_S = `export const s = (data, ctx) => { ctx.metrics.add("m", 1); return data; };\n`;
/** Writes output `o` and passes its input on. */
const STEP_W = `export const w = (d, ctx) => { ctx.metrics.add("m", 1); ctx.outputs.o.write(JSON.stringify({ n: 1 })); return d; };\n`;

/** An experiment with output `o`, reading `reads` (experiment#output refs) when given. */
function exp(dir: string, reads: string[] = []): Record<string, string> {
  const ds = reads.length ? "datasource:\n" + reads.map((r, i) => `  in${i}: ${r}\n`).join("") : "";
  return {
    [`${dir}/config.yaml`]: `steps: [w]\noutputs:\n  o: {file_name: o.json}\n${ds}`,
    [`${dir}/steps.ts`]: STEP_W,
  };
}

/** A YAML file that fails to parse: loading it would be an error. */
const BROKEN_YAML = "steps: [s\n  : : :\n\tbad: [\n";

test("nested experiment folders: references by name and by folder path both resolve", async () => {
  const ws = makeWorkspace({
    ...exp("experiments/group/up"),
    "experiments/down/config.yaml": "steps: [s]\ndatasource:\n  x: up#o\n",
    "experiments/down/steps.ts": STEP_S,
    "experiments/down_by_path/config.yaml": "steps: [s]\ndatasource:\n  x: group/up#o\n",
    "experiments/down_by_path/steps.ts": STEP_S,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.ok(exists(join(ws, "data/up")), `data/up expected:\n${r.output}`);
  assert.ok(exists(join(ws, "data/down")), `data/down expected:\n${r.output}`);
  assert.ok(exists(join(ws, "data/down_by_path")), `data/down_by_path expected:\n${r.output}`);
  assert.not.ok(exists(join(ws, "data/group")), "the experiment is named after its folder, not its path");

  const g = await runCli(["graph", "--format", "json"], ws);
  assert.is(g.code, 0, g.output);
  const edges = JSON.parse(g.stdout).edges as Array<{ from: string; to: string }>;
  assert.ok(edges.some((e) => e.from === "up" && e.to === "down"), g.stdout);
  assert.ok(edges.some((e) => e.from === "up" && e.to === "down_by_path"), g.stdout);
});

test("a nested experiment can be built by its folder path as target", async () => {
  const ws = makeWorkspace({ ...exp("experiments/group/up"), ...exp("experiments/other") });
  const r = await runCli(["build", "group/up"], ws);
  assert.is(r.code, 0, r.output);
  assert.ok(exists(join(ws, "data/up")), r.output);
  assert.not.ok(exists(join(ws, "data/other")), r.output);
});

test("node_modules, dot-folders and the data folder under experiments/ are never scanned", async () => {
  const ws = makeWorkspace({
    ...exp("experiments/a"),
    "experiments/node_modules/x/config.yaml": BROKEN_YAML,
    "experiments/.hidden/config.yaml": BROKEN_YAML,
    "experiments/a/node_modules/pkg/config.yaml": BROKEN_YAML,
    "experiments/a/.cache/config.yaml": BROKEN_YAML,
    // With the default settings data/ lies beside experiments/; a stray config there is ignored too.
    "data/foo/config.yaml": BROKEN_YAML,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.not.match(r.output, /invalid YAML/, r.output);
  assert.ok(exists(join(ws, "data/a")), r.output);
  assert.not.ok(exists(join(ws, "data/x")), r.output);
});

test("with `experiments: .` the root-level data/ folder is not scanned", async () => {
  const ws = makeWorkspace({
    "crystallize.yaml": "experiments: .\n",
    ...exp("a"),
    "data/foo/config.yaml": BROKEN_YAML,
    "node_modules/x/config.yaml": BROKEN_YAML,
    ".hidden/config.yaml": BROKEN_YAML,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.not.match(r.output, /invalid YAML/, r.output);
  assert.ok(exists(join(ws, "data/a")), r.output);
  // A second build must not pick up the configs that the first one put under data/ either.
  const again = await runCli(["build"], ws);
  assert.is(again.code, 0, again.output);
});

test("with `experiments: .` and `data: out`, the custom data folder is not scanned", async () => {
  const ws = makeWorkspace({
    "crystallize.yaml": "experiments: .\ndata: out\n",
    ...exp("a"),
    "out/foo/config.yaml": BROKEN_YAML,
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  assert.ok(exists(join(ws, "out/a")), r.output);
});

/** a -> b -> c, and d on its own. */
function chain(): string {
  return makeWorkspace({
    ...exp("experiments/a"),
    ...exp("experiments/b", ["a#o"]),
    ...exp("experiments/c", ["b#o"]),
    ...exp("experiments/d"),
  });
}

test("`build b` runs exactly b and its upstream closure", async () => {
  const ws = chain();
  const r = await runCli(["build", "b"], ws);
  assert.is(r.code, 0, r.output);
  assert.ok(exists(join(ws, "data/a")), r.output);
  assert.ok(exists(join(ws, "data/b")), r.output);
  assert.not.ok(exists(join(ws, "data/c")), `c is downstream of b and must not run:\n${r.output}`);
  assert.not.ok(exists(join(ws, "data/d")), `d is unrelated and must not run:\n${r.output}`);
});

test("`build` with no target builds every experiment", async () => {
  const ws = chain();
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  for (const name of ["a", "b", "c", "d"]) assert.ok(exists(join(ws, "data", name)), `data/${name} expected:\n${r.output}`);
  assert.match(r.stdout, /4 built/, r.stdout);
});

test("the workspace root is found from a subfolder", async () => {
  const ws = makeWorkspace({ ...exp("experiments/a") });
  const r = await runCli(["build"], join(ws, "experiments/a"));
  assert.is(r.code, 0, r.output);
  assert.ok(exists(join(ws, "data/a")), `outputs go to the root's data/:\n${r.output}`);
  assert.not.ok(exists(join(ws, "experiments/a/data")), "no data/ folder in the subfolder");
});

test("outside any workspace: exit 2 and `no crystallize workspace`", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cz-empty-"));
  const r = await runCli(["build"], dir);
  assert.is(r.code, 2, r.output);
  assert.ok(r.output.includes("no crystallize workspace"), r.output);
  assert.match(r.output, /hint: /, r.output);
  assert.not.ok(r.output.includes("    at "), `no stack trace expected:\n${r.output}`);
  assert.not.ok(exists(join(dir, "data")), r.output);
});

test("-C a folder that is not there, or a file: exit 2, saying which", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cz-empty-"));
  writeFileSync(join(dir, "file.txt"), "x");
  for (const [target, says] of [[join(dir, "gone"), "does not exist"], [join(dir, "file.txt"), "is not a folder"]]) {
    const r = await runCli(["-C", target, "status"], dir);
    assert.is(r.code, 2, r.output);
    assert.ok(r.stderr.includes(`error: ${target} ${says}`), r.output);
    assert.match(r.stderr, /hint: check the folder given with -C\/--cwd/);
  }
});

// graph --format ----------------------------------------------------------------------------

function pair(): string {
  return makeWorkspace({ ...exp("experiments/a"), ...exp("experiments/b", ["a#o"]) });
}

test("graph --format mermaid prints the edge a --> b", async () => {
  const r = await runCli(["graph", "--format", "mermaid"], pair());
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^(graph|flowchart) (LR|RL|TD|TB|BT)\b/m, r.stdout);
  // Node ids may be decorated (e.g. n_a); the edge goes from a's node to b's node.
  assert.match(r.stdout, /^\s*\S*a\S*\s*-->\s*(\|[^|]*\|\s*)?\S*b\S*\s*$/m, r.stdout);
});

test("graph --format dot prints the edge \"a\" -> \"b\"", async () => {
  const r = await runCli(["graph", "--format", "dot"], pair());
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^\s*digraph\b[^{]*\{/m, r.stdout);
  assert.match(r.stdout, /"?a"?\s*->\s*"?b"?/, r.stdout);
  assert.match(r.stdout, /\}\s*$/, r.stdout);
});

test("graph --format json prints the edge from a to b", async () => {
  const r = await runCli(["graph", "--format", "json"], pair());
  assert.is(r.code, 0, r.output);
  const g = JSON.parse(r.stdout) as { nodes: Array<{ name: string }>; edges: Array<{ from: string; to: string }> };
  assert.equal(g.nodes.map((n) => n.name).sort(), ["a", "b"]);
  assert.equal(g.edges.map((e) => [e.from, e.to]), [["a", "b"]]);
});

test("graph --format text shows b reading a#o", async () => {
  const r = await runCli(["graph", "--format", "text"], pair());
  assert.is(r.code, 0, r.output);
  // A status marker and word may surround the name; a reads nothing.
  assert.match(r.stdout, /^\s*(\S\s)?a\b(?!.*<-)/m, r.stdout);
  assert.match(r.stdout, /^\s*(\S\s)?b\b.*a#o/m, r.stdout);
  assert.ok(r.stdout.search(/^\s*(\S\s)?a\b/m) < r.stdout.search(/^\s*(\S\s)?b\b/m), "a is listed before b");
});

test("graph --format with an unknown format exits 2", async () => {
  const r = await runCli(["graph", "--format", "svg"], pair());
  assert.is(r.code, 2, r.output);
  assert.ok(r.output.includes("svg"), r.output);
});

test("graph b shows b and its upstream only", async () => {
  const ws = chain();
  const r = await runCli(["graph", "b", "--format", "json"], ws);
  assert.is(r.code, 0, r.output);
  const g = JSON.parse(r.stdout) as { nodes: Array<{ name: string }> };
  assert.equal(g.nodes.map((n) => n.name).sort(), ["a", "b"]);
});

test("--version prints the package's version, in any folder, workspace or not", async () => {
  const pkg = readJson(join(REPO, "package.json"));
  const r = await runCli(["--version"], mkdtempSync(join(tmpdir(), "cz-nows-")));
  assert.is(r.code, 0, r.output);
  assert.is(r.stdout.trim(), pkg.version);
});

test.run();
