// `crystallize list`, `show` and graph status, end to end on temporary workspaces.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeWorkspace, runCli } from "./helpers.js";

const WRITE_O = (text: string) => `export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write(${JSON.stringify(text)}); return d; };\n`;
const PRODUCER = (cli = "", extra = "") => `${extra}outputs: {o: {file_name: o.txt}}\nsteps: [w]\n${cli ? `cli: ${cli}\n` : ""}`;

/** Status words by name, from `list --json`. */
async function statuses(ws: string): Promise<Record<string, string>> {
  const r = await runCli(["list", "--all", "--json"], ws);
  assert.is(r.code, 0, r.output);
  return Object.fromEntries(JSON.parse(r.stdout).experiments.map((e: any) => [e.name, e.status]));
}

// list ---------------------------------------------------------------------------------------

const list = suite("list");

function grouped(): string {
  const files: Record<string, string> = {
    "experiments/a/config.yaml": PRODUCER("{group: Zeta, priority: 2}"),
    "experiments/b/config.yaml": PRODUCER("{group: Zeta, priority: 1}"),
    "experiments/c/config.yaml": PRODUCER("{group: Zeta}"),
    "experiments/aa/config.yaml": PRODUCER("{group: Zeta}"),
    "experiments/d/config.yaml": PRODUCER("", "description: Counts the d's\n"),
    "experiments/e/config.yaml": "datasource: {x: d#o}\nsteps: [w]\n",
    "experiments/e/steps.ts": "export const w = (d: unknown) => d;\n",
    "experiments/h/config.yaml": PRODUCER("{hidden: true}"),
  };
  for (const n of ["a", "b", "c", "aa", "d", "h"]) files[`experiments/${n}/steps.ts`] = WRITE_O(n);
  return makeWorkspace(files);
}

list("groups by cli.group (defaults Experiments and Graphs), orders by priority then name, hides hidden", async () => {
  const ws = grouped();
  const r = await runCli(["list"], ws);
  assert.is(r.code, 0, r.output);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.map((l) => l.replace(/^ {2}\S (\S+).*$/, "$1")), ["Experiments", "d", "Graphs", "e", "Zeta", "b", "a", "aa", "c"]);
  assert.match(r.stdout, /^ {2}○ d +never built +Counts the d's$/m);
  assert.match(r.stdout, /^ {2}○ e +never built {2}graph <- d$/m, "a graph is marked with what it reads");
  assert.not.match(r.stdout, /\bh\b/);

  const all = await runCli(["list", "--all", "--json"], ws);
  const doc = JSON.parse(all.stdout);
  assert.is(doc.command, "list");
  assert.equal(doc.experiments.map((e: any) => [e.group, e.name]), [["Experiments", "d"], ["Experiments", "h"], ["Graphs", "e"], ["Zeta", "b"], ["Zeta", "a"], ["Zeta", "aa"], ["Zeta", "c"]]);
  const e = doc.experiments.find((x: any) => x.name === "e");
  assert.equal(e, { name: "e", dir: "experiments/e", group: "Graphs", priority: null, hidden: false, graph: true, upstream: ["d"], status: "never built", version: null, description: null, icon: null, color: null });
  assert.equal(doc.experiments.find((x: any) => x.name === "h").hidden, true);
  assert.equal(doc.experiments.find((x: any) => x.name === "b").priority, 1);
  assert.match((await runCli(["list", "--all"], ws)).stdout, /^ {2}○ h +never built \(hidden\)$/m);
});

/** up -> down; bad throws; lonely is never built. */
function lifecycle(): string {
  return makeWorkspace({
    "experiments/up/config.yaml": PRODUCER(),
    "experiments/up/steps.ts": WRITE_O("one"),
    "experiments/down/config.yaml": "datasource: {x: up#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/down/steps.ts": "export const w = (d: any, ctx: any) => { ctx.outputs.o.write('saw ' + String(d.x)); return d; };\n",
    "experiments/bad/config.yaml": PRODUCER(),
    "experiments/bad/steps.ts": "export const w = () => { throw new Error('no luck'); };\n",
    "experiments/lonely/config.yaml": PRODUCER(),
    "experiments/lonely/steps.ts": WRITE_O("alone"),
  });
}

list("status: fresh after a build, failed after a throwing step, never built, stale and blocked after an edit", async () => {
  const ws = lifecycle();
  assert.equal(await statuses(ws), { bad: "never built", down: "never built", lonely: "never built", up: "never built" });
  const built = await runCli(["build", "up", "down", "bad"], ws);
  assert.is(built.code, 1, built.output);
  assert.equal(await statuses(ws), { bad: "failed", down: "fresh", lonely: "never built", up: "fresh" });
  writeFileSync(join(ws, "experiments/up/steps.ts"), WRITE_O("two"));
  assert.equal(await statuses(ws), { bad: "failed", down: "blocked", lonely: "never built", up: "stale" });
  const text = (await runCli(["list"], ws)).stdout;
  assert.match(text, /^ {2}✗ bad +failed$/m);
  assert.match(text, /^ {2}● up +stale +v0$/m);
  assert.match(text, /^ {2}◌ down +blocked +v0 {2}graph <- up$/m);
});

list.run();

// graph status -------------------------------------------------------------------------------

const graph = suite("graph status");

graph("after an edit, every format marks the edited node stale, its reader blocked, the unbuilt one never built", async () => {
  const ws = lifecycle();
  assert.is((await runCli(["build", "up", "down"], ws)).code, 0);
  writeFileSync(join(ws, "experiments/up/steps.ts"), WRITE_O("two"));

  const text = await runCli(["graph"], ws);
  assert.is(text.code, 0, text.output);
  assert.match(text.stdout, /^ {2}● up {6}stale$/m);
  assert.match(text.stdout, /^ {2}◌ down {4}blocked {6}<- up#o$/m);
  assert.match(text.stdout, /^ {2}○ lonely {2}never built$/m);
  assert.not.match(text.stdout, /\x1b\[/, "no colour when not a terminal");

  const mermaid = (await runCli(["graph", "--format", "mermaid"], ws)).stdout;
  assert.match(mermaid, /^ {2}n_up\["up"\]:::stale$/m);
  assert.match(mermaid, /^ {2}n_down\["down"\]:::blocked$/m);
  assert.match(mermaid, /^ {2}n_lonely\["lonely"\]:::neverbuilt$/m);
  assert.match(mermaid, /^ {2}classDef stale fill:#fff3b0/m);
  assert.not.match(mermaid, /classDef failed/, "only the classes in use are defined");

  const dot = (await runCli(["graph", "--format", "dot"], ws)).stdout;
  assert.match(dot, /^ {2}"up" \[tooltip="stale", style="rounded,filled", fillcolor="#fff3b0"\];$/m);
  assert.match(dot, /^ {2}"lonely" \[tooltip="never built", style="rounded,dashed"/m);

  const json = JSON.parse((await runCli(["graph", "--format", "json"], ws)).stdout);
  assert.equal(Object.fromEntries(json.nodes.map((n: any) => [n.name, n.status])), { bad: "never built", down: "blocked", lonely: "never built", up: "stale" });

  const only = JSON.parse((await runCli(["graph", "down", "--format", "json"], ws)).stdout);
  assert.equal(only.nodes.map((n: any) => [n.name, n.status]), [["up", "stale"], ["down", "blocked"]]);
});

graph("a code error does not hide the graph: it prints without status and says why", async () => {
  const ws = lifecycle();
  writeFileSync(join(ws, "experiments/lonely/steps.ts"), "export const other = 1;\n");
  const r = await runCli(["graph"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^ {2}lonely$/m);
  assert.match(r.stderr, /warning: status unknown/);
});

graph.run();

// show ---------------------------------------------------------------------------------------

const show = suite("show");

/** score = k * (replicate + 1): baseline k=1 gives 1,2,3,4; double k=2 gives 2,4,6,8. */
function measured(): string {
  return makeWorkspace({
    "experiments/m/config.yaml": "description: Scores by replicate\nreplicates: 4\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\ntreatments: {baseline: {k: 1}, double: {k: 2}}\n",
    "experiments/m/steps.ts": [
      "export const w = (d: unknown, ctx: any) => {",
      "  ctx.metrics.add('score', ctx.params.k * (ctx.replicate + 1));",
      "  ctx.metrics.add('label', 'r' + ctx.replicate);",
      "  ctx.outputs.o.write(String(ctx.params.k));",
      "  return d;",
      "};",
    ].join("\n"),
  });
}

show("metrics per condition: mean, sample standard deviation and n, computed by hand; artifacts with count", async () => {
  const ws = measured();
  assert.is((await runCli(["build"], ws)).code, 0);
  const r = await runCli(["show", "m", "--json"], ws);
  assert.is(r.code, 0, r.output);
  const doc = JSON.parse(r.stdout);
  assert.equal([doc.command, doc.name, doc.dir, doc.description, doc.status], ["show", "m", "experiments/m", "Scores by replicate", "fresh"]);
  const cur = doc.current;
  assert.equal([cur.version, cur.path, cur.source, cur.current, cur.replicates, cur.conditions], [0, "data/m/v0", "lock", true, 4, ["baseline", "double"]]);
  // baseline: mean (1+2+3+4)/4 = 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5, over n-1 = 3.
  assert.equal(cur.metrics.baseline.score, { kind: "numeric", n: 4, mean: 2.5, std: Math.sqrt(5 / 3) });
  // double: mean 5; squared deviations 9+1+1+9 = 20, over 3.
  assert.equal(cur.metrics.double.score, { kind: "numeric", n: 4, mean: 5, std: Math.sqrt(20 / 3) });
  assert.equal(cur.metrics.baseline.label, { kind: "values", n: 4, values: ["r0", "r1", "r2", "r3"] });
  assert.equal(cur.artifacts, [{ alias: "o", file: "o.txt", pattern: "data/m/v0/replicate_<r>/<condition>/o.txt", files: 8 }]);
  assert.equal(cur.upstream, []);
  assert.is(cur.hypotheses, null);

  const text = await runCli(["show", "m"], ws);
  assert.is(text.code, 0, text.output);
  assert.match(text.stdout, /^m {2}fresh$/m);
  assert.match(text.stdout, /^Scores by replicate$/m);
  assert.match(text.stdout, /^version: v0 {2}data\/m\/v0 {2}\(recorded in crystallize\.lock; written /m);
  assert.match(text.stdout, /^ {2}baseline +score +4 +2\.5 +1\.29099$/m);
  assert.match(text.stdout, /^ {2}double +score +4 +5 +2\.58199$/m);
  assert.match(text.stdout, /^ {2}baseline +label +4 +"r0", "r1", "r2", "r3"$/m);
  assert.match(text.stdout, /^ {2}o {2}data\/m\/v0\/replicate_<r>\/<condition>\/o\.txt {2}\(8 files\)$/m);
  assert.is((await runCli(["show", "experiments/m"], ws)).stdout, text.stdout, "a folder names the experiment too");
});

show("hypotheses from hypotheses.json: p-values, significance, best, and an errored verdict's error", async () => {
  const ws = measured();
  assert.is((await runCli(["build"], ws)).code, 0);
  const file = {
    digest: "0".repeat(32),
    hypotheses: [
      {
        name: "score_up",
        verifier: "welch_t_test",
        metrics: ["score"],
        params: {},
        results: { double: { ok: true, result: { p_value: 0.0123, significant: true }, pValue: 0.0123, significant: true } },
        ranking: [{ treatment: "double", pValue: 0.0123 }],
        best: "double",
      },
      {
        name: "needs_speed",
        verifier: "my_check",
        metrics: ["speed"],
        params: {},
        results: { double: { ok: false, error: "metric speed missing" } },
        ranking: [],
        best: null,
      },
    ],
  };
  writeFileSync(join(ws, "data/m/v0/hypotheses.json"), JSON.stringify(file));
  const r = await runCli(["show", "m"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^ {2}score_up {2}welch_t_test on score {2}best: double$/m);
  assert.match(r.stdout, /^ {4}double {2}p = 0\.0123 {2}significant$/m);
  assert.match(r.stdout, /^ {2}needs_speed {2}my_check on speed {2}best: none$/m);
  assert.match(r.stdout, /^ {4}double {2}error: metric speed missing$/m);
  assert.equal(JSON.parse((await runCli(["show", "m", "--json"], ws)).stdout).current.hypotheses, file.hypotheses);

  writeFileSync(join(ws, "data/m/v0/hypotheses.json"), "{not json");
  const broken = await runCli(["show", "m"], ws);
  assert.is(broken.code, 0, broken.output);
  assert.match(broken.stdout, /hypotheses: data\/m\/v0\/hypotheses\.json could not be read/);
});

show("a consumer names the upstream versions it read; --all-versions lists both builds", async () => {
  const ws = lifecycle();
  assert.is((await runCli(["build", "down"], ws)).code, 0);
  writeFileSync(join(ws, "experiments/up/steps.ts"), WRITE_O("two"));
  assert.is((await runCli(["build", "down"], ws)).code, 0);
  const r = await runCli(["show", "down", "--all-versions"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /^upstream read:\n {2}up#o {2}v1$/m);
  assert.match(r.stdout, /^ {2}v0 {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}1 replicate {2}conditions: baseline {2}upstream: up v0$/m);
  assert.match(r.stdout, /^\* v1 {2}\S+ \S+ {2}1 replicate {2}conditions: baseline {2}upstream: up v1$/m);
  const doc = JSON.parse((await runCli(["show", "down", "--all-versions", "--json"], ws)).stdout);
  assert.equal(doc.current.upstream, [{ experiment: "up", output: "o", version: 1 }]);
  assert.equal(doc.versions.map((v: any) => [v.version, v.current, v.upstream[0].version]), [[0, false, 0], [1, true, 1]]);
  assert.ok(doc.versions.every((v: any) => !Number.isNaN(Date.parse(v.created))), "created is an ISO time");
});

show("the current version is the locked one, not the highest; without a lock entry, the highest", async () => {
  const ws = lifecycle();
  assert.is((await runCli(["build", "up"], ws)).code, 0);
  const original = readFileSync(join(ws, "experiments/up/steps.ts"), "utf8");
  writeFileSync(join(ws, "experiments/up/steps.ts"), WRITE_O("two"));
  assert.is((await runCli(["build", "up"], ws)).code, 0);
  writeFileSync(join(ws, "experiments/up/steps.ts"), original);
  assert.is((await runCli(["build", "up"], ws)).code, 0, "a cache hit points back at v0");
  const locked = JSON.parse((await runCli(["show", "up", "--json"], ws)).stdout);
  assert.equal([locked.current.version, locked.current.source], [0, "lock"]);
  rmSync(join(ws, "crystallize.lock"));
  const latest = await runCli(["show", "up"], ws);
  assert.match(latest.stdout, /^version: v1 {2}data\/up\/v1 {2}\(highest version folder; crystallize\.lock records no usable version/m);
});

show("not built yet: a clear message and exit 1; --json says current null", async () => {
  const ws = lifecycle();
  const r = await runCli(["show", "lonely"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stdout, /^lonely {2}never built$/m);
  assert.match(r.stdout, /^not built yet; run crystallize build lonely$/m);
  const json = await runCli(["show", "lonely", "--json"], ws);
  assert.is(json.code, 1);
  assert.equal([JSON.parse(json.stdout).current, JSON.parse(json.stdout).status], [null, "never built"]);
});

show("an unknown experiment is a usage error with a suggestion", async () => {
  const r = await runCli(["show", "lonley"], lifecycle());
  assert.is(r.code, 2, r.output);
  assert.match(r.stderr, /error: no experiment "lonley"\n {2}hint: did you mean `lonely`\?/);
  assert.not.match(r.stderr, /    at /);
});

show.run();
