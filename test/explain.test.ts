// End-to-end tests of explained staleness (issue 6, items 6-8): the reasons `status`,
// `build --dry-run` and `build --explain` give, in text and in --json; `crystallize check`
// (lock versus config and code only, no data, no user code); and the build flags --force,
// --force-all, --frozen, --keep-going, -j and --json.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { exists, makeWorkspace, runCli, type CliResult } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// The workspace: producer (two conditions, a declared input and env) -> consumer; x independent.
// Every step appends "<experiment> <condition>" to $RUNLOG, so a test sees exactly what ran.

const LOG_LINE = `if (process.env.RUNLOG) appendFileSync(process.env.RUNLOG, NAME + " " + ctx.condition + "\\n");`;

const FILES: Record<string, string> = {
  "experiments/producer/config.yaml": [
    "outputs: {o: {file_name: o.txt}}",
    "steps: [emit]",
    "inputs: [table.csv]",
    "env: [CZ_TEST_MODE]",
    "treatments:",
    "  plus_one: {delta: 1}",
    "",
  ].join("\n"),
  "experiments/producer/table.csv": "a,b\n1,2\n",
  "experiments/producer/steps.ts": `import { appendFileSync } from "node:fs";
const NAME = "producer";
export const emit = (d: unknown, ctx: any) => {
  ${LOG_LINE}
  ctx.outputs.o.write("delta=" + (ctx.params.delta ?? 0));
  return d;
};
`,
  "experiments/consumer/config.yaml": "datasource: {x: producer#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [use]\n",
  "experiments/consumer/steps.ts": `import { appendFileSync } from "node:fs";
const NAME = "consumer";
export const use = (d: any, ctx: any) => {
  ${LOG_LINE}
  ctx.outputs.o.write("read " + String(d.x));
  return d;
};
`,
  "experiments/x/config.yaml": "outputs: {r: {file_name: r.txt}}\nsteps: [solo]\n",
  // Top level: writes $CZ_MARKER when the module is imported, to catch commands that run user code.
  "experiments/x/steps.ts": `import { appendFileSync, writeFileSync } from "node:fs";
if (process.env.CZ_MARKER) writeFileSync(process.env.CZ_MARKER, "x/steps.ts was imported");
const NAME = "x";
export const solo = (d: unknown, ctx: any) => {
  ${LOG_LINE}
  ctx.outputs.r.write("solo");
  return d;
};
`,
};

const BLOCKED_CONSUMER = "blocked consumer: upstream producer is stale (reruns only if its output changes)";
const UPSTREAM_STALE = { kind: "upstream-stale", experiment: "producer", message: "upstream producer is stale (reruns only if its output changes)" };

function workspace(extra: Record<string, string> = {}): string {
  return makeWorkspace({ ...FILES, ...extra });
}

/** Runs the CLI with $RUNLOG pointing into the workspace (outside data/ and experiments/). */
function cli(ws: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, ws, { RUNLOG: join(ws, "run.log"), ...env });
}

/** What ran since the last call, sorted; clears the log. */
function ran(ws: string): string[] {
  const file = join(ws, "run.log");
  if (!exists(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n").filter(Boolean).sort();
  rmSync(file);
  return lines;
}

function sortedLines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "").sort();
}

async function built(ws: string, env: Record<string, string> = {}): Promise<void> {
  const r = await cli(ws, ["build"], env);
  assert.is(r.code, 0, r.output);
  ran(ws);
}

function edit(ws: string, rel: string, from: string | RegExp, to: string): void {
  const file = join(ws, rel);
  const before = readFileSync(file, "utf8");
  const after = before.replace(from, to);
  assert.is.not(after, before, `edit of ${rel} changed nothing`);
  writeFileSync(file, after);
}

function lockOf(ws: string): any {
  return parse(readFileSync(join(ws, "crystallize.lock"), "utf8"));
}

/** Files (not folders) below `dir`, relative, sorted; empty when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!exists(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

interface Expected {
  status: "fresh" | "stale" | "blocked";
  total: number;
  /** null when not known: blocked experiments wait on their upstream's output. */
  toRun: number | null;
  reasons: Array<Record<string, unknown>>;
}

function byName(doc: any): Record<string, any> {
  return Object.fromEntries((doc.experiments as any[]).map((e) => [e.name, e]));
}

/** Asserts one experiment of a status/check/dry-run JSON document. */
function assertAssessment(e: any, want: Expected, label: string): void {
  assert.ok(e, `${label}: experiment missing from the JSON document`);
  assert.equal(Object.keys(e).sort(), ["key", "name", "reasons", "status", "units"], `${label}: fields`);
  assert.is(e.status, want.status, `${label}: status`);
  assert.equal(e.units, { total: want.total, toRun: want.toRun }, `${label}: units`);
  assert.equal(e.reasons, want.reasons, `${label}: reasons`);
  if (want.status === "blocked") assert.is(e.key, null, `${label}: a blocked experiment has no key yet`);
  else assert.match(String(e.key), /^[0-9a-f]{16,}$/, `${label}: key`);
}

/**
 * Runs `status`, `status --json`, `build --dry-run` and `build --dry-run --json` (with `extra`
 * build flags for the latter two), asserts the lines and the JSON, and that nothing ran.
 * `lines` holds every experiment's line (fresh ones too); dry-run shows only the others.
 */
async function assertExplained(
  ws: string,
  opts: { targets?: string[]; env?: Record<string, string>; buildFlags?: string[]; skipStatus?: boolean },
  lines: string[],
  json: Record<string, Expected>,
): Promise<void> {
  const targets = opts.targets ?? [];
  const env = opts.env ?? {};
  const dataBefore = filesUnder(join(ws, "data"));
  const lockBefore = exists(join(ws, "crystallize.lock")) ? readFileSync(join(ws, "crystallize.lock"), "utf8") : undefined;

  if (!opts.skipStatus) {
    const s = await cli(ws, ["status", ...targets], env);
    assert.is(s.code, 0, s.output);
    assert.equal(sortedLines(s.stdout), [...lines].sort(), "status lines");

    const sj = await cli(ws, ["status", ...targets, "--json"], env);
    assert.is(sj.code, 0, sj.output);
    const doc = JSON.parse(sj.stdout);
    assert.is(doc.command, "status");
    assert.is(doc.ok, true);
    assert.equal(Object.keys(byName(doc)).sort(), Object.keys(json).sort(), "status --json experiments");
    for (const [name, want] of Object.entries(json)) assertAssessment(byName(doc)[name], want, `status --json ${name}`);
  }

  const stale = lines.filter((l) => !l.startsWith("fresh"));
  const d = await cli(ws, ["build", ...targets, ...(opts.buildFlags ?? []), "--dry-run"], env);
  assert.is(d.code, 0, d.output);
  assert.equal(sortedLines(d.stdout), stale.length ? [...stale].sort() : ["nothing to build: everything is up to date"], "dry-run lines");

  const dj = await cli(ws, ["build", ...targets, ...(opts.buildFlags ?? []), "--dry-run", "--json"], env);
  assert.is(dj.code, 0, dj.output);
  const ddoc = JSON.parse(dj.stdout);
  assert.is(ddoc.command, "build");
  assert.is(ddoc.ok, true);
  assert.equal(Object.keys(byName(ddoc)).sort(), Object.keys(json).sort(), "dry-run --json experiments");
  for (const [name, want] of Object.entries(json)) assertAssessment(byName(ddoc)[name], want, `dry-run --json ${name}`);

  assert.equal(ran(ws), [], "status and --dry-run run nothing");
  assert.equal(filesUnder(join(ws, "data")), dataBefore, "status and --dry-run write nothing under data/");
  const lockAfter = exists(join(ws, "crystallize.lock")) ? readFileSync(join(ws, "crystallize.lock"), "utf8") : undefined;
  assert.is(lockAfter, lockBefore, "status and --dry-run leave the lock alone");
}

/**
 * `build --explain`: the stale/blocked lines first on stderr, before any progress line; then
 * the build runs `expectRan` and leaves everything fresh.
 */
async function assertExplainBuild(ws: string, opts: { targets?: string[]; env?: Record<string, string>; buildFlags?: string[] }, lines: string[], expectRan: string[]): Promise<CliResult> {
  const targets = opts.targets ?? [];
  const env = opts.env ?? {};
  const stale = lines.filter((l) => !l.startsWith("fresh"));
  const r = await cli(ws, ["build", ...targets, ...(opts.buildFlags ?? []), "--explain"], env);
  assert.is(r.code, 0, r.output);
  const err = r.stderr.split("\n");
  assert.equal(err.slice(0, stale.length).sort(), [...stale].sort(), "--explain prints the reasons first, on stderr");
  assert.ok(err.slice(stale.length).some((l) => l.trim() !== ""), "then the build's progress");
  for (const l of stale) assert.not.ok(r.stdout.includes(l), "the reasons are not on stdout");
  assert.equal(ran(ws), [...expectRan].sort(), "what --explain built");
  const after = await cli(ws, ["status", ...targets], env);
  assert.ok(sortedLines(after.stdout).every((l) => l.startsWith("fresh")), `fresh after the build:\n${after.stdout}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
const reasons = suite("reasons: status, build --dry-run, build --explain, --json");

reasons("never built", async () => {
  const ws = workspace();
  const lines = [
    "stale   producer (2/2 units): never built",
    BLOCKED_CONSUMER,
    "stale   x (1/1 units): never built",
  ];
  await assertExplained(ws, {}, lines, {
    producer: { status: "stale", total: 2, toRun: 2, reasons: [{ kind: "never-built", message: "never built" }] },
    consumer: { status: "blocked", total: 2, toRun: null, reasons: [UPSTREAM_STALE] },
    x: { status: "stale", total: 1, toRun: 1, reasons: [{ kind: "never-built", message: "never built" }] },
  });
  assert.not.ok(exists(join(ws, "data")), "--dry-run on a new workspace creates no data/");
  assert.not.ok(exists(join(ws, "crystallize.lock")), "nor a lock");
  await assertExplainBuild(ws, {}, lines, ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one", "x baseline"]);
  assert.ok(exists(join(ws, "crystallize.lock")));
});

reasons("up to date: every line fresh, dry-run says nothing to build", async () => {
  const ws = workspace();
  await built(ws);
  await assertExplained(ws, {}, ["fresh   producer", "fresh   consumer", "fresh   x"], {
    producer: { status: "fresh", total: 2, toRun: 0, reasons: [] },
    consumer: { status: "fresh", total: 2, toRun: 0, reasons: [] },
    x: { status: "fresh", total: 1, toRun: 0, reasons: [] },
  });
  const keys = Object.fromEntries(Object.entries(lockOf(ws).experiments).map(([n, e]: [string, any]) => [n, e.key]));
  const doc = JSON.parse((await cli(ws, ["status", "--json"])).stdout);
  for (const e of doc.experiments) assert.is(e.key, keys[e.name], `status key of ${e.name} is the locked key`);
  const r = await cli(ws, ["build", "--explain"]);
  assert.is(r.code, 0, r.output);
  assert.equal(ran(ws), []);
});

reasons("a treatment value edit: config treatments.plus_one.delta: 1 → 2, only that condition reruns", async () => {
  const ws = workspace();
  await built(ws);
  edit(ws, "experiments/producer/config.yaml", "delta: 1", "delta: 2");
  const lines = ["stale   producer (1/2 units): config treatments.plus_one.delta: 1 → 2", BLOCKED_CONSUMER, "fresh   x"];
  await assertExplained(ws, {}, lines, {
    producer: {
      status: "stale",
      total: 2,
      toRun: 1,
      reasons: [{ kind: "config", path: "treatments.plus_one.delta", old: 1, new: 2, message: "config treatments.plus_one.delta: 1 → 2" }],
    },
    consumer: { status: "blocked", total: 2, toRun: null, reasons: [UPSTREAM_STALE] },
    x: { status: "fresh", total: 1, toRun: 0, reasons: [] },
  });
  await assertExplainBuild(ws, {}, lines, ["consumer plus_one", "producer plus_one"]);
});

reasons("a code file edit: code experiments/x/steps.ts modified", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const lines = ["fresh   producer", "fresh   consumer", "stale   x (1/1 units): code experiments/x/steps.ts modified"];
  await assertExplained(ws, {}, lines, {
    producer: { status: "fresh", total: 2, toRun: 0, reasons: [] },
    consumer: { status: "fresh", total: 2, toRun: 0, reasons: [] },
    x: {
      status: "stale",
      total: 1,
      toRun: 1,
      reasons: [{ kind: "code", file: "experiments/x/steps.ts", change: "modified", message: "code experiments/x/steps.ts modified" }],
    },
  });
  await assertExplainBuild(ws, {}, lines, ["x baseline"]);
});

reasons("an upstream output change: the consumer names producer#o after the producer was rebuilt alone", async () => {
  const ws = workspace();
  await built(ws);
  edit(ws, "experiments/producer/config.yaml", "delta: 1", "delta: 2");
  const p = await cli(ws, ["build", "producer"]);
  assert.is(p.code, 0, p.output);
  assert.equal(ran(ws), ["producer plus_one"]);
  const lines = ["fresh   producer", "stale   consumer (1/2 units): upstream output producer#o changed"];
  await assertExplained(ws, { targets: ["consumer"] }, lines, {
    producer: { status: "fresh", total: 2, toRun: 0, reasons: [] },
    consumer: {
      status: "stale",
      total: 2,
      toRun: 1,
      reasons: [{ kind: "upstream-output", output: "producer#o", message: "upstream output producer#o changed" }],
    },
  });
  await assertExplainBuild(ws, { targets: ["consumer"] }, lines, ["consumer plus_one"]);
});

reasons("an input file edit: input experiments/producer/table.csv modified", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/producer/table.csv"), "3,4\n");
  const lines = ["stale   producer (2/2 units): input experiments/producer/table.csv modified", BLOCKED_CONSUMER, "fresh   x"];
  await assertExplained(ws, {}, lines, {
    producer: {
      status: "stale",
      total: 2,
      toRun: 2,
      reasons: [{ kind: "input", file: "experiments/producer/table.csv", change: "modified", message: "input experiments/producer/table.csv modified" }],
    },
    consumer: { status: "blocked", total: 2, toRun: null, reasons: [UPSTREAM_STALE] },
    x: { status: "fresh", total: 1, toRun: 0, reasons: [] },
  });
  // The producer's output does not depend on the table: byte-identical, the consumer is cut off.
  await assertExplainBuild(ws, {}, lines, ["producer baseline", "producer plus_one"]);
});

reasons("an env change: env CZ_TEST_MODE changed, and the value is never printed", async () => {
  const ws = workspace();
  await built(ws);
  const env = { CZ_TEST_MODE: "secret-value-123" };
  const lines = ["stale   producer (2/2 units): env CZ_TEST_MODE changed", BLOCKED_CONSUMER, "fresh   x"];
  await assertExplained(ws, { env }, lines, {
    producer: { status: "stale", total: 2, toRun: 2, reasons: [{ kind: "env", name: "CZ_TEST_MODE", message: "env CZ_TEST_MODE changed" }] },
    consumer: { status: "blocked", total: 2, toRun: null, reasons: [UPSTREAM_STALE] },
    x: { status: "fresh", total: 1, toRun: 0, reasons: [] },
  });
  const r = await assertExplainBuild(ws, { env }, lines, ["producer baseline", "producer plus_one"]);
  assert.not.ok(r.output.includes("secret-value-123"));
  assert.not.ok(readFileSync(join(ws, "crystallize.lock"), "utf8").includes("secret-value-123"), "no env value in the lock");
});

reasons("a deleted store: N results missing or corrupt in the store", async () => {
  const ws = workspace();
  await built(ws);
  assert.ok(exists(join(ws, "data/.store")), "the store lives in data/.store");
  rmSync(join(ws, "data/.store"), { recursive: true, force: true });
  const lines = [
    "stale   producer (2/2 units): 2 results missing or corrupt in the store",
    BLOCKED_CONSUMER,
    "stale   x (1/1 units): 1 result missing or corrupt in the store",
  ];
  await assertExplained(ws, {}, lines, {
    producer: { status: "stale", total: 2, toRun: 2, reasons: [{ kind: "missing-output", units: 2, message: "2 results missing or corrupt in the store" }] },
    consumer: { status: "blocked", total: 2, toRun: null, reasons: [UPSTREAM_STALE] },
    x: { status: "stale", total: 1, toRun: 1, reasons: [{ kind: "missing-output", units: 1, message: "1 result missing or corrupt in the store" }] },
  });
  await assertExplainBuild(ws, {}, lines, ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one", "x baseline"]);
});

reasons("a failed earlier run: N units failed in an earlier build: <message>; only that unit reruns", async () => {
  const ws = makeWorkspace({
    "experiments/f/config.yaml": "steps: [s]\ntreatments:\n  t: {k: 1}\n",
    "experiments/f/steps.ts": `import { appendFileSync } from "node:fs";
const NAME = "f";
export const s = (d: unknown, ctx: any) => {
  ${LOG_LINE}
  if (ctx.condition === "t" && process.env.CZ_FAIL_T === "1") throw new Error("t refuses to run");
  ctx.metrics.add("k", ctx.params.k ?? 0);
  return d;
};
`,
  });
  await built(ws);
  edit(ws, "experiments/f/config.yaml", "k: 1", "k: 2");
  const failing = await cli(ws, ["build"], { CZ_FAIL_T: "1" });
  assert.is(failing.code, 1, failing.output);
  assert.equal(ran(ws), ["f t"]);
  const lines = ["stale   f (1/2 units): config treatments.t.k: 1 → 2; 1 unit failed in an earlier build: t refuses to run"];
  await assertExplained(ws, {}, lines, {
    f: {
      status: "stale",
      total: 2,
      toRun: 1,
      reasons: [
        { kind: "config", path: "treatments.t.k", old: 1, new: 2, message: "config treatments.t.k: 1 → 2" },
        { kind: "failed-before", units: 1, error: "t refuses to run", message: "1 unit failed in an earlier build: t refuses to run" },
      ],
    },
  });
  await assertExplainBuild(ws, {}, lines, ["f t"]);
});

reasons("a failure in the very first build is named too", async () => {
  const ws = makeWorkspace({
    "experiments/f/config.yaml": "steps: [s]\nreplicates: 3\n",
    "experiments/f/steps.ts": `export const s = (d: unknown, ctx: any) => { if (ctx.replicate === 1) throw new Error("replicate one broke"); return d; };\n`,
  });
  const r = await cli(ws, ["build"]);
  assert.is(r.code, 1, r.output);
  const s = await cli(ws, ["status"]);
  assert.is(s.code, 0);
  assert.match(s.stdout, /^stale   f \(1\/3 units\): .*1 unit failed in an earlier build: replicate one broke$/m);
  const doc = JSON.parse((await cli(ws, ["status", "--json"])).stdout);
  assert.ok(
    doc.experiments[0].reasons.some((x: any) => x.kind === "failed-before" && x.units === 1 && x.message === "1 unit failed in an earlier build: replicate one broke"),
    JSON.stringify(doc.experiments[0].reasons),
  );
});

reasons("--force on a target: forced (--force), in --dry-run, --dry-run --json and --explain", async () => {
  const ws = workspace();
  await built(ws);
  const lines = ["stale   producer (2/2 units): forced (--force)"];
  await assertExplained(ws, { targets: ["producer"], buildFlags: ["--force"], skipStatus: true }, lines, {
    producer: { status: "stale", total: 2, toRun: 2, reasons: [{ kind: "forced", message: "forced (--force)" }] },
  });
  await assertExplainBuild(ws, { targets: ["producer"], buildFlags: ["--force"] }, lines, ["producer baseline", "producer plus_one"]);
});

reasons("--force without targets: every experiment says forced, the consumer too", async () => {
  const ws = workspace();
  await built(ws);
  const d = await cli(ws, ["build", "--force", "--dry-run"]);
  assert.is(d.code, 0, d.output);
  const out = sortedLines(d.stdout);
  assert.ok(out.includes("stale   producer (2/2 units): forced (--force)"), d.stdout);
  assert.ok(out.includes("stale   x (1/1 units): forced (--force)"), d.stdout);
  // The consumer is forced as well: it will run whatever its upstream produces, and says so.
  const consumerLine = out.find((l) => / consumer\b/.test(l)) ?? "";
  assert.match(consumerLine, /forced \(--force\)/, `the consumer's line names --force: ${consumerLine}`);
  const doc = JSON.parse((await cli(ws, ["build", "--force", "--dry-run", "--json"])).stdout);
  const consumer = byName(doc).consumer;
  assert.ok(consumer.reasons.some((x: any) => x.kind === "forced"), JSON.stringify(consumer));
  assert.equal(ran(ws), []);
});

reasons.run();

// ---------------------------------------------------------------------------------------------
const dry = suite("--dry-run and --explain");

dry("--dry-run on a stale workspace runs nothing, writes no data, leaves the lock", async () => {
  const ws = workspace();
  await built(ws);
  edit(ws, "experiments/producer/config.yaml", "delta: 1", "delta: 2");
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const data = filesUnder(join(ws, "data"));
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  for (const args of [["build", "--dry-run"], ["build", "--dry-run", "--json"], ["build", "--dry-run", "-j", "1"], ["build", "--dry-run", "--force-all"]]) {
    const r = await cli(ws, args);
    assert.is(r.code, 0, r.output);
  }
  assert.equal(ran(ws), []);
  assert.equal(filesUnder(join(ws, "data")), data);
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lock);
  const r = await cli(ws, ["build", "--dry-run"]);
  assert.is(r.stderr, "", "--dry-run prints its lines on stdout, nothing on stderr");
});

dry("--explain prints the reasons on stderr, then builds; on a fresh workspace it says so and runs nothing", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const r = await cli(ws, ["build", "--explain"]);
  assert.is(r.code, 0, r.output);
  const err = r.stderr.split("\n");
  assert.is(err[0], "stale   x (1/1 units): code experiments/x/steps.ts modified");
  assert.equal(ran(ws), ["x baseline"]);
  assert.match(r.stdout, /done: 1 built, 2 up to date/);
  const again = await cli(ws, ["build", "--explain"]);
  assert.is(again.code, 0, again.output);
  assert.is(again.stderr.split("\n")[0], "everything is up to date");
  assert.equal(ran(ws), []);
});

dry.run();

// ---------------------------------------------------------------------------------------------
const check = suite("crystallize check");

check("exit 0 on a freshly built workspace", async () => {
  const ws = workspace();
  await built(ws);
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 0, r.output);
  assert.is(r.stdout, "crystallize.lock matches all 3 experiments\n");
});

check("exit 1 after a config edit: one line per stale experiment with its reason", async () => {
  const ws = workspace();
  await built(ws);
  edit(ws, "experiments/producer/config.yaml", "delta: 1", "delta: 2");
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 1, r.output);
  const lines = r.stdout.split("\n").filter(Boolean);
  assert.is(lines.length, 3, r.stdout);
  // check sees no unit keys, so it names the experiment without a unit count.
  assert.match(r.stdout, /^stale   producer: config treatments\.plus_one\.delta: 1 → 2$/m);
  assert.ok(lines.includes(BLOCKED_CONSUMER), r.stdout);
  assert.not.ok(lines.some((l) => /^\S+\s+x\b/.test(l)), "x is up to date: not listed");
  assert.is(lines.at(-1), "crystallize.lock is out of date: run `crystallize build` and commit the lock");
  assert.equal(ran(ws), []);
});

check("exit 1 after a code edit, naming the file", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 1, r.output);
  assert.is(r.stdout, "stale   x: code experiments/x/steps.ts modified\ncrystallize.lock is out of date: run `crystallize build` and commit the lock\n");
});

check("exit 1 when the lock names an experiment whose folder was deleted", async () => {
  const ws = workspace();
  await built(ws);
  rmSync(join(ws, "experiments/x"), { recursive: true });
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 1, r.output);
  assert.match(r.stdout, /^stale   x: in crystallize\.lock but no longer in the workspace$/m);
  assert.match(r.stdout, /crystallize\.lock is out of date/);
  const j = await cli(ws, ["check", "--json"]);
  assert.is(j.code, 1);
  const doc = JSON.parse(j.stdout);
  assert.is(doc.ok, false);
  assert.equal(doc.removed, ["x"]);
});

check("exit 1 without crystallize.lock", async () => {
  const ws = workspace();
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 1, r.output);
  assert.match(r.stdout, /^no crystallize\.lock/);
  await built(ws);
  rmSync(join(ws, "crystallize.lock"));
  const again = await cli(ws, ["check"]);
  assert.is(again.code, 1, again.output);
  assert.match(again.stdout, /^no crystallize\.lock/);
});

check("exit 2 on a config error (unknown key), with the error, not a verdict", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/consumer/config.yaml"), "bogus: 1\n");
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 2, r.output);
  assert.match(r.stderr, /experiments\/consumer\/config\.yaml:\d+:\d+ error: unknown key "bogus"/);
  assert.not.match(r.output, /matches all|is out of date|internal error/);
  const j = await cli(ws, ["check", "--json"]);
  assert.is(j.code, 2, j.output);
});

check("works with no data/ at all and never imports user code", async () => {
  const ws = workspace();
  const marker = join(ws, "marker.txt");
  await built(ws, { CZ_MARKER: marker });
  assert.ok(exists(marker), "the build imported x/steps.ts (the marker mechanism works)");
  rmSync(marker);
  rmSync(join(ws, "data"), { recursive: true, force: true });
  rmSync(join(ws, ".crystallize"), { recursive: true, force: true });

  const ok = await cli(ws, ["check"], { CZ_MARKER: marker });
  assert.is(ok.code, 0, ok.output);
  assert.is(ok.stdout, "crystallize.lock matches all 3 experiments\n");
  const okJson = await cli(ws, ["check", "--json"], { CZ_MARKER: marker });
  assert.is(okJson.code, 0, okJson.output);
  assert.is(JSON.parse(okJson.stdout).ok, true);

  // Stale, still without data: the reason comes from the lock alone.
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const stale = await cli(ws, ["check"], { CZ_MARKER: marker });
  assert.is(stale.code, 1, stale.output);
  assert.match(stale.stdout, /^stale   x: code experiments\/x\/steps\.ts modified$/m);

  assert.not.ok(exists(marker), "check imported no user module");
  assert.not.ok(exists(join(ws, "data")), "check created no data/");
  assert.equal(ran(ws), []);
});

check("ignores the state of data/: a deleted store does not make check fail", async () => {
  const ws = workspace();
  await built(ws);
  rmSync(join(ws, "data/.store"), { recursive: true, force: true });
  rmSync(join(ws, "data/producer"), { recursive: true, force: true });
  const r = await cli(ws, ["check"]);
  assert.is(r.code, 0, r.output);
});

check.run();

// ---------------------------------------------------------------------------------------------
const checkJson = suite("crystallize check --json");

checkJson("document shape and ok flag: fresh, stale, no lock", async () => {
  const ws = workspace();
  await built(ws);
  const lock = lockOf(ws);

  const fresh = await cli(ws, ["check", "--json"]);
  assert.is(fresh.code, 0, fresh.output);
  assert.is(fresh.stderr, "");
  const doc = JSON.parse(fresh.stdout);
  assert.is(doc.command, "check");
  assert.is(doc.ok, true);
  assert.equal(Object.keys(byName(doc)).sort(), ["consumer", "producer", "x"]);
  assertAssessment(byName(doc).producer, { status: "fresh", total: 2, toRun: 0, reasons: [] }, "producer");
  assertAssessment(byName(doc).consumer, { status: "fresh", total: 2, toRun: 0, reasons: [] }, "consumer");
  assertAssessment(byName(doc).x, { status: "fresh", total: 1, toRun: 0, reasons: [] }, "x");
  for (const e of doc.experiments) assert.is(e.key, lock.experiments[e.name].key, `${e.name}: the locked key`);

  edit(ws, "experiments/producer/config.yaml", "delta: 1", "delta: 2");
  const stale = await cli(ws, ["check", "--json"]);
  assert.is(stale.code, 1, stale.output);
  const sdoc = JSON.parse(stale.stdout);
  assert.is(sdoc.command, "check");
  assert.is(sdoc.ok, false);
  const p = byName(sdoc).producer;
  assert.is(p.status, "stale");
  assert.equal(p.reasons, [{ kind: "config", path: "treatments.plus_one.delta", old: 1, new: 2, message: "config treatments.plus_one.delta: 1 → 2" }]);
  assert.is(byName(sdoc).consumer.status, "blocked");
  assert.equal(byName(sdoc).consumer.reasons, [UPSTREAM_STALE]);
  assert.is(byName(sdoc).x.status, "fresh");

  rmSync(join(ws, "crystallize.lock"));
  const none = await cli(ws, ["check", "--json"]);
  assert.is(none.code, 1, none.output);
  const ndoc = JSON.parse(none.stdout);
  assert.is(ndoc.command, "check");
  assert.is(ndoc.ok, false);
  assert.ok(Array.isArray(ndoc.experiments));
});

checkJson.run();

// ---------------------------------------------------------------------------------------------
const flags = suite("build flags");

/** Parses a `build --json` document and returns experiments by name. */
async function buildJson(ws: string, args: string[], code = 0): Promise<{ doc: any; exps: Record<string, any> }> {
  const r = await cli(ws, ["build", ...args, "--json"]);
  assert.is(r.code, code, r.output);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.command, "build");
  return { doc, exps: byName(doc) };
}

flags("--force consumer reruns only the consumer", async () => {
  const ws = workspace();
  await built(ws);
  const { doc, exps } = await buildJson(ws, ["--force", "consumer"]);
  assert.is(doc.ok, true);
  assert.equal(Object.keys(exps).sort(), ["consumer", "producer"]);
  assert.equal(exps.producer.units, { total: 2, ran: 0, cached: 2, failed: 0 });
  assert.is(exps.producer.status, "cached");
  assert.equal(exps.consumer.units, { total: 2, ran: 2, cached: 0, failed: 0 });
  assert.equal(ran(ws), ["consumer baseline", "consumer plus_one"]);
});

flags("--force without targets reruns everything", async () => {
  const ws = workspace();
  await built(ws);
  const { exps } = await buildJson(ws, ["--force"]);
  assert.equal(exps.producer.units.ran, 2);
  assert.equal(exps.consumer.units.ran, 2);
  assert.equal(exps.x.units.ran, 1);
  assert.equal(ran(ws), ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one", "x baseline"]);
});

flags("--force-all consumer reruns the consumer and its upstream, nothing else", async () => {
  const ws = workspace();
  await built(ws);
  const { exps } = await buildJson(ws, ["--force-all", "consumer"]);
  assert.equal(Object.keys(exps).sort(), ["consumer", "producer"]);
  assert.equal(exps.producer.units.ran, 2);
  assert.equal(exps.consumer.units.ran, 2);
  assert.equal(ran(ws), ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one"]);
});

flags("--frozen on a fresh workspace runs nothing and restores deleted views from the store", async () => {
  const ws = workspace();
  await built(ws);
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const views = ["producer", "consumer", "x"].flatMap((e) => filesUnder(join(ws, "data", e, "v0")).map((f) => join("data", e, "v0", f)));
  assert.ok(views.includes(join("data/producer/v0/replicate_0/plus_one/o.txt")), views.join("\n"));
  const contents = Object.fromEntries(views.map((f) => [f, readFileSync(join(ws, f), "utf8")]));
  rmSync(join(ws, "data/producer/v0"), { recursive: true });
  rmSync(join(ws, "data/consumer/v0"), { recursive: true });
  const r = await cli(ws, ["build", "--frozen"]);
  assert.is(r.code, 0, r.output);
  assert.equal(ran(ws), [], "--frozen ran nothing");
  for (const f of views) {
    assert.ok(exists(join(ws, f)), `${f} restored`);
    assert.is(readFileSync(join(ws, f), "utf8"), contents[f], `${f} restored with its content`);
  }
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lock, "the lock is unchanged");
});

flags("--frozen on a stale workspace exits 1 naming what would run, and runs nothing", async () => {
  const ws = workspace();
  await built(ws);
  appendFileSync(join(ws, "experiments/x/steps.ts"), "export const another = () => 2;\n");
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const data = filesUnder(join(ws, "data"));
  const r = await cli(ws, ["build", "--frozen"]);
  assert.is(r.code, 1, r.output);
  assert.is(r.stderr, "--frozen: 1 experiment would run:\nstale   x (1/1 units): code experiments/x/steps.ts modified\n");
  const j = await cli(ws, ["build", "--frozen", "--json"]);
  assert.is(j.code, 1, j.output);
  const doc = JSON.parse(j.stdout);
  assert.is(doc.command, "build");
  assert.is(doc.ok, false);
  assert.is(byName(doc).x.status, "stale");
  assert.equal(byName(doc).x.reasons, [{ kind: "code", file: "experiments/x/steps.ts", change: "modified", message: "code experiments/x/steps.ts modified" }]);
  assert.equal(ran(ws), []);
  assert.equal(filesUnder(join(ws, "data")), data);
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lock);
});

flags("--frozen on a never-built workspace exits 1 and runs nothing", async () => {
  const ws = workspace();
  const r = await cli(ws, ["build", "--frozen"]);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /^--frozen: \d experiments would run:\n/);
  assert.match(r.stderr, /^stale   producer \(2\/2 units\): never built$/m);
  assert.equal(ran(ws), []);
  assert.not.ok(exists(join(ws, "crystallize.lock")));
});

flags("-j 1, --keep-going and --fail-fast are accepted", async () => {
  const ws = workspace();
  const r = await cli(ws, ["build", "-j", "1"]);
  assert.is(r.code, 0, r.output);
  assert.equal(ran(ws), ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one", "x baseline"]);
  const k = await cli(ws, ["build", "--keep-going", "-j", "2"]);
  assert.is(k.code, 0, k.output);
  const f = await cli(ws, ["build", "--fail-fast", "--jobs", "1"]);
  assert.is(f.code, 0, f.output);
  assert.equal(ran(ws), []);
});

flags("build --json: built then cached, outputs digests equal the lock's", async () => {
  const ws = workspace();
  const first = await buildJson(ws, ["-j", "1"]);
  assert.is(first.doc.ok, true);
  const lock = lockOf(ws);
  for (const name of ["producer", "consumer", "x"]) {
    const e = first.exps[name];
    assert.equal(
      Object.keys(e).sort(),
      ["durationMs", "errors", "hypotheses", "name", "outputs", "skippedBecause", "status", "units", "version"],
      `${name}: fields`,
    );
    assert.is(e.status, "built", name);
    assert.is(e.version, lock.experiments[name].version, `${name}: version`);
    assert.equal(e.errors, []);
    assert.is(e.skippedBecause, null);
    assert.is(typeof e.durationMs, "number");
    const digests = Object.fromEntries(Object.entries(e.outputs).map(([k, v]: [string, any]) => [k, v.digest]));
    assert.equal(digests, lock.experiments[name].outputs, `${name}: output digests are the lock's`);
    for (const [k, v] of Object.entries(e.outputs) as Array<[string, any]>) {
      const [cond, rep, file] = k.split("/");
      assert.is(v.path, `data/${name}/v${e.version}/${rep}/${cond}/${file}`, `${name}: path of ${k}`);
      assert.ok(exists(join(ws, v.path)), v.path);
    }
  }
  assert.equal(Object.keys(first.exps.producer.outputs).sort(), ["baseline/replicate_0/o.txt", "plus_one/replicate_0/o.txt"]);
  assert.equal(first.exps.producer.units, { total: 2, ran: 2, cached: 0, failed: 0 });
  assert.equal(Object.keys(first.exps.x.outputs), ["baseline/replicate_0/r.txt"]);
  ran(ws);

  const second = await buildJson(ws, ["--keep-going"]);
  assert.is(second.doc.ok, true);
  for (const name of ["producer", "consumer", "x"]) {
    const e = second.exps[name];
    assert.is(e.status, "cached", name);
    assert.is(e.units.ran, 0);
    assert.is(e.units.cached, e.units.total);
    assert.equal(e.outputs, first.exps[name].outputs, `${name}: same outputs`);
  }
  assert.equal(ran(ws), []);
});

flags("build --json on a failure: status failed and skipped, errors, exit 1", async () => {
  const ws = workspace({
    "experiments/producer/steps.ts": `export const emit = (d: unknown, ctx: any) => { if (ctx.condition === "plus_one") throw new Error("no plus one"); ctx.outputs.o.write("x"); return d; };\n`,
  });
  const { doc, exps } = await buildJson(ws, [], 1);
  assert.is(doc.ok, false);
  assert.is(exps.producer.status, "failed");
  assert.equal(exps.producer.units, { total: 2, ran: 2, cached: 0, failed: 1 });
  assert.is(exps.producer.errors.length, 1);
  assert.is(exps.producer.errors[0].condition, "plus_one");
  assert.is(exps.producer.errors[0].replicate, 0);
  assert.match(exps.producer.errors[0].message, /no plus one/);
  assert.is(exps.consumer.status, "skipped");
  assert.ok(exps.consumer.skippedBecause, "skippedBecause says why");
  assert.is(exps.x.status, "built");
});

flags("a target can be a folder, as a path from where the command runs", async () => {
  const ws = workspace();
  mkdirSync(join(ws, "experiments/consumer/notes"));
  const r = await runCli(["build", "."], join(ws, "experiments/consumer/notes"), { RUNLOG: join(ws, "run.log") });
  assert.is(r.code, 0, r.output);
  assert.equal(ran(ws), ["consumer baseline", "consumer plus_one", "producer baseline", "producer plus_one"], "the experiment holding the folder, and its upstream; not x");
  const show = await runCli(["show", ".."], join(ws, "experiments/consumer/notes"));
  assert.is(show.code, 0, show.output);
  assert.match(show.stdout, /^consumer {2}fresh$/m);
  const all = await runCli(["status", "experiments", "--json"], ws);
  assert.equal(JSON.parse(all.stdout).experiments.map((e: any) => e.name).sort(), ["consumer", "producer", "x"]);
});

flags("usage errors exit 2: -j 0, -j abc, an unknown flag, a flag watch mode would drop", async () => {
  const ws = workspace();
  const refused = [["build", "-j", "0"], ["build", "-j", "abc"], ["build", "--no-such-flag"], ["status", "--frozen"], ["build", "--watch", "--treatment", "plus_one"], ["build", "--force", "--watch"]];
  for (const args of refused) {
    const r = await cli(ws, args);
    assert.is(r.code, 2, `${args.join(" ")}: ${r.output}`);
    assert.not.match(r.output, /internal error|\n\s+at /, "no stack trace");
  }
  assert.match((await cli(ws, ["build", "--watch", "--json"])).stderr, /'--watch' cannot be used with option '--json'/);
  assert.equal(ran(ws), []);
  assert.not.ok(exists(join(ws, "data")));
});

flags.run();
