// Unit tests of the pure parts of list, show and graph status: statistics, ordering, rendering.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { classify } from "../lib/api/status.js";
import { parseConfig } from "../lib/config/load.js";
import { Graph } from "../lib/graph/graph.js";
import type { Assessment } from "../lib/plan/assess.js";
import { renderGraph } from "../lib/report/graph-format.js";
import { listEntry, orderEntries, renderList, type ListEntry } from "../lib/report/list-format.js";
import { renderShow, versionDetail, type ShowDocument } from "../lib/report/show-format.js";
import { formatNumber, summarize } from "../lib/report/stats.js";
import { makePaint } from "../lib/report/style.js";
import { table } from "../lib/report/table.js";
import type { VersionFolder } from "../lib/store/version-files.js";

const plain = makePaint(false);

const stats = suite("stats");

stats("mean and sample standard deviation (n - 1), two-pass", () => {
  assert.equal(summarize([1, 2, 3, 4]), { kind: "numeric", n: 4, mean: 2.5, std: Math.sqrt(5 / 3) });
  // Large offsets: a one-pass formula would lose these digits.
  assert.equal(summarize([1e9 + 1, 1e9 + 3]), { kind: "numeric", n: 2, mean: 1e9 + 2, std: Math.SQRT2 });
  assert.equal(summarize([7]), { kind: "numeric", n: 1, mean: 7, std: null });
});

stats("anything not a finite number makes the metric values, not statistics", () => {
  assert.equal(summarize([1, "2"]), { kind: "values", n: 2, values: [1, "2"] });
  assert.equal(summarize([true]), { kind: "values", n: 1, values: [true] });
  assert.equal(summarize([1, null]), { kind: "values", n: 2, values: [1, null] });
  assert.equal(summarize([]), { kind: "values", n: 0, values: [] });
});

stats("numbers for people: integers whole, else six significant digits", () => {
  assert.is(formatNumber(6), "6");
  assert.is(formatNumber(Math.sqrt(5 / 3)), "1.29099");
  assert.is(formatNumber(0.5), "0.5");
  assert.is(formatNumber(1.5e-9), "1.50000e-9");
});

stats.run();

const status = suite("status classification");

const assessment = (state: Assessment["state"], kinds: string[] = []): Assessment =>
  ({ name: "x", state, toRun: 1, total: 1, unitsKnown: true, reasons: kinds.map((kind) => ({ kind, units: 1, error: "boom" })) }) as Assessment;

status("failed beats never built, never built beats blocked, fresh is fresh", () => {
  assert.is(classify(assessment("fresh"), true), "fresh");
  assert.is(classify(assessment("stale", ["never-built", "failed-before"]), false), "failed");
  assert.is(classify(assessment("stale", ["code", "failed-before"]), true), "failed");
  assert.is(classify(assessment("stale", ["never-built"]), false), "never built");
  assert.is(classify(assessment("blocked", ["upstream-stale"]), false), "never built");
  assert.is(classify(assessment("blocked", ["upstream-stale"]), true), "blocked");
  assert.is(classify(assessment("stale", ["code"]), true), "stale");
});

status.run();

const list = suite("list format");

function cfg(name: string, yaml: string) {
  return parseConfig(yaml, { configFile: `experiments/${name}/config.yaml`, dir: `experiments/${name}`, folderId: name, modules: {}, inactiveTreatments: [] });
}

const entry = (name: string, cli: string, upstream: string[] = [], extra = ""): ListEntry =>
  listEntry(cfg(name, `steps: [s]\n${extra}${cli ? `cli: ${cli}\n` : ""}`), upstream, "fresh", null);

list("groups sorted by name; priority ascending, unset last; then name", () => {
  const order = orderEntries([entry("z", "{group: B}"), entry("y", "{group: B, priority: 5}"), entry("x", "{group: B, priority: -1}"), entry("w", "{group: A}"), entry("a", "{group: B}")]);
  assert.equal(order.map((e) => `${e.group}/${e.name}`), ["A/w", "B/x", "B/y", "B/a", "B/z"]);
});

list("default groups: Graphs for readers, Experiments otherwise; an explicit group wins", () => {
  assert.is(entry("p", "").group, "Experiments");
  assert.is(entry("c", "", ["p"]).group, "Graphs");
  assert.is(entry("c", "{group: Mine}", ["p"]).group, "Mine");
});

list("plain text: headings, aligned columns, graph marks, descriptions", () => {
  const entries = [
    { ...entry("producer", "", [], "description: Sums numbers\n"), version: 3 },
    { ...entry("consumer", "", ["producer"]), status: "stale" as const, version: 1 },
  ];
  assert.is(renderList(entries, plain), ["Experiments", `  ✓ producer  fresh  v3  ${" ".repeat("graph <- producer".length)}  Sums numbers`, "Graphs", "  ● consumer  stale  v1  graph <- producer"].join("\n"));
  assert.is(renderList([], plain), "no experiments");
});

list("table: widths ignore colour codes; an all-empty column is dropped; a short row's last cell runs on", () => {
  const red = "\x1b[31mab\x1b[39m";
  assert.equal(table([[red, "x"], ["abc", "y"]], ""), [`${red}   x`, "abc  y"]);
  assert.equal(table([["a", "", "b"], ["cc", "", "d"]], ""), ["a   b", "cc  d"]);
  assert.equal(table([["a", "1", "2"], ["b", "a long note"]], ""), ["a  1  2", "b  a long note"]);
});

list.run();

const show = suite("show format");

const folder: VersionFolder = {
  version: 2,
  dir: "/ws/data/down/v2",
  metadata: { name: "down", version: 2, replicates: 3, seed: 0, conditions: ["baseline", "t"], outputs: { report: "r.json" }, upstream: { "up#o": 4, "up#p": 4, "a.b#o": 1 } },
  metrics: { baseline: { z: [1, 2, 3], a: ["x"] }, t: {} },
  hypotheses: undefined,
  created: new Date("2024-01-02T03:04:05Z"),
  fileCounts: { report: 5 },
};

show("versionDetail: sorted metrics with statistics, artifact pattern and count, upstream split at #", () => {
  const d = versionDetail(folder, "/ws", { version: 2, source: "latest" });
  assert.equal(Object.keys(d.metrics.baseline), ["a", "z"]);
  assert.equal(d.metrics.baseline.z, { kind: "numeric", n: 3, mean: 2, std: 1 });
  assert.equal(d.metrics.t, {});
  assert.equal(d.artifacts, [{ alias: "report", file: "r.json", pattern: "data/down/v2/replicate_<r>/<condition>/r.json", files: 5 }]);
  assert.equal(d.upstream, [{ experiment: "a.b", output: "o", version: 1 }, { experiment: "up", output: "o", version: 4 }, { experiment: "up", output: "p", version: 4 }]);
  assert.equal([d.current, d.source, d.created, d.hypotheses], [true, "latest", "2024-01-02T03:04:05.000Z", null]);
  assert.equal([versionDetail(folder, "/ws", { version: 3, source: "lock" }).current, versionDetail(folder, "/ws", undefined).source], [false, null]);
});

function doc(over: Partial<ShowDocument>): ShowDocument {
  return { command: "show", name: "down", dir: "experiments/down", description: null, status: "fresh", reasons: [], current: null, ...over };
}

show("hypotheses: a line per hypothesis with best, a row per treatment, errors shown", () => {
  const current = versionDetail(
    {
      ...folder,
      hypotheses: {
        digest: "d",
        hypotheses: [
          {
            name: "h",
            verifier: "welch_t_test",
            metrics: ["z"],
            params: {},
            results: {
              t: { ok: true, result: { p_value: 0.2 }, pValue: 0.2, significant: false },
              u: { ok: false, error: "metric z missing" },
              v: { ok: true, result: { score: 1 }, pValue: null, significant: null },
            },
            ranking: [],
            best: null,
          },
        ],
      },
    },
    "/ws",
    { version: 2, source: "lock" },
  );
  const text = renderShow(doc({ current }), plain);
  assert.match(text, /^hypotheses:\n {2}h {2}welch_t_test on z {2}best: none\n {4}t {2}p = 0\.2 {6}not significant\n {4}u {2}error: metric z missing\n {4}v {2}\{"score":1\}$/m);
});

show("header: status with reasons (never for never built), description, and the not-built message", () => {
  const stale = renderShow(doc({ status: "stale", reasons: [{ kind: "forced", message: "forced (--force)" }], description: "About down" }), plain);
  assert.ok(stale.startsWith("down  stale: forced (--force)\nAbout down\nfolder: experiments/down\nnot built yet; run crystallize build down"), stale);
  const never = renderShow(doc({ status: "never built", reasons: [{ kind: "never-built", message: "never built" }] }), plain);
  assert.ok(never.startsWith("down  never built\n"), never);
  const noVersions = renderShow(doc({ status: "never built", versions: [] }), plain);
  assert.ok(noVersions.endsWith("not built yet; run crystallize build down"), `--all-versions with none adds no empty list:\n${noVersions}`);
});

show.run();

const graph = suite("graph format with status");

const g = Graph.build([cfg("a", "outputs: {o: {}}\nsteps: [s]\n"), cfg("b", "datasource: {x: a#o}\nsteps: [s]\n")]);
const st = new Map([["a", "fresh" as const], ["b", "failed" as const]]);

graph("without status the output is unchanged (the API's visualize)", () => {
  assert.is(renderGraph(g, ["a", "b"], "text"), "level 0\n  a\nlevel 1\n  b  <- a#o");
  assert.is(renderGraph(g, ["a", "b"], "mermaid"), 'graph LR\n  n_a["a"]\n  n_b["b"]\n  n_a -->|o| n_b');
  assert.not.match(renderGraph(g, ["a", "b"], "json"), /status/);
});

graph("with status: text columns, mermaid classes in use, dot fills, json fields", () => {
  assert.is(renderGraph(g, ["a", "b"], "text", { status: st }), "level 0\n  ✓ a  fresh\nlevel 1\n  ✗ b  failed  <- a#o");
  const mermaid = renderGraph(g, ["a", "b"], "mermaid", { status: st });
  assert.match(mermaid, /^ {2}n_a\["a"\]$/m);
  assert.match(mermaid, /^ {2}n_b\["b"\]:::failed$/m);
  assert.equal(mermaid.match(/classDef/g), ["classDef"]);
  assert.match(renderGraph(g, ["a", "b"], "dot", { status: st }), /^ {2}"b" \[tooltip="failed", style="rounded,filled", fillcolor="#ffc9c9"\];$/m);
  assert.equal(JSON.parse(renderGraph(g, ["a", "b"], "json", { status: st })).nodes.map((n: any) => n.status), ["fresh", "failed"]);
});

graph.run();
