// End-to-end tests of the incremental engine (issue 6, items 1-5; PRODUCT §6-§8): cache keys,
// early cutoff, the content-addressed store with its views, and crystallize.lock.
//
// What ran is counted exactly: every step appends "<experiment>:<condition>:<replicate>" to the
// file named by $RUNLOG (outside the workspace), which each CLI call gets fresh.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { exists, makeWorkspace, readJson, runCli, writeFiles, type CliResult } from "./helpers.js";
import { PackageVersions } from "../lib/code/packages.js";
import { initHasher } from "../lib/hash/digest.js";
import { StatCache } from "../lib/hash/stat-cache.js";

// ---------------------------------------------------------------------------------------------
// Fixtures

/** The statement every step starts with: one line per unit that really runs. */
const LOG = (name: string) => `appendFileSync(process.env.RUNLOG!, "${name}:" + ctx.condition + ":" + ctx.replicate + "\\n");`;

/**
 * An experiment with one output `o` (o.txt). By default it writes
 * "<name>:<condition>:<replicate>:<params as JSON>", so a treatment value shows in its bytes.
 */
function producer(name: string, opts: { config?: string; value?: string; head?: string } = {}): Record<string, string> {
  const value = opts.value ?? `"${name}:" + ctx.condition + ":" + ctx.replicate + ":" + JSON.stringify(ctx.params)`;
  return {
    [`experiments/${name}/config.yaml`]: `outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n${opts.config ?? ""}`,
    [`experiments/${name}/steps.ts`]: `import { appendFileSync } from "node:fs";
${opts.head ?? ""}
export const emit = (d: unknown, ctx: any) => {
  ${LOG(name)}
  ctx.outputs.o.write(${value});
  return d;
};
`,
  };
}

/** Reads `up#o` of each upstream (alias = upstream name) and writes what it saw into its own `o`. */
function consumer(name: string, ups: string[], opts: { config?: string; tag?: string } = {}): Record<string, string> {
  return {
    [`experiments/${name}/config.yaml`]: `datasource:\n${ups.map((u) => `  ${u}: ${u}#o\n`).join("")}outputs:\n  o:\n    file_name: o.txt\nsteps: [record]\n${opts.config ?? ""}`,
    [`experiments/${name}/steps.ts`]: `import { appendFileSync } from "node:fs";
export const record = (data: Record<string, unknown>, ctx: any) => {
  ${LOG(name)}
  const seen = Object.keys(data).sort().map((k) => k + "=" + String(data[k])).join(";");
  ctx.metrics.add("seen", seen);
  ctx.outputs.o.write("${name}${opts.tag ?? ""} saw " + seen + " as " + ctx.condition + ":" + JSON.stringify(ctx.params));
  return data;
};
`,
  };
}

interface Run extends CliResult {
  /** Units that really ran, sorted: "<experiment>:<condition>:<replicate>". */
  ran: string[];
}

/** A temp workspace plus its run log. */
class Ws {
  readonly dir: string;
  readonly log: string;

  constructor(files: Record<string, string> | string) {
    this.dir = typeof files === "string" ? files : makeWorkspace(files);
    this.log = join(mkdtempSync(join(tmpdir(), "cz-runlog-")), "run.log");
  }

  async cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    rmSync(this.log, { force: true });
    const r = await runCli(args, this.dir, { RUNLOG: this.log, ...env });
    const ran = exists(this.log) ? readFileSync(this.log, "utf8").split("\n").filter(Boolean).sort() : [];
    return { ...r, ran };
  }

  build(args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
    return this.cli(["build", ...args], env);
  }

  async status(env: Record<string, string> = {}): Promise<Run> {
    const r = await this.cli(["status"], env);
    assert.is(r.code, 0, r.output);
    assert.equal(r.ran, [], "status runs no user code");
    return r;
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  read(rel: string): string {
    return readFileSync(this.path(rel), "utf8");
  }

  write(rel: string, text: string): void {
    writeFiles(this.dir, { [rel]: text });
  }

  edit(rel: string, fn: (text: string) => string): void {
    const before = this.read(rel);
    const after = fn(before);
    assert.is.not(after, before, `the edit of ${rel} changes its text`);
    this.write(rel, after);
  }

  lockText(): string {
    return this.read("crystallize.lock");
  }

  lock(): any {
    return parseYaml(this.lockText());
  }
}

/** Builds and asserts success; returns the run. */
async function ok(ws: Ws, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const r = await ws.build(args, env);
  assert.is(r.code, 0, r.output);
  return r;
}

/** Every file below `dir` (relative path -> content), for before/after comparisons. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!exists(dir)) return out;
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isDirectory()) continue;
    const abs = join(d.parentPath, d.name);
    out[relative(dir, abs)] = readFileSync(abs, "utf8");
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Relative paths of the files below `dir`, sorted. */
function filesUnder(dir: string): string[] {
  return Object.keys(snapshot(dir));
}

/** The object file in the store holding the content with `digest`. */
function objectPath(ws: Ws, digest: string): string {
  return ws.path(join("data/.store/objects", digest.slice(0, 2), digest.slice(2)));
}

/**
 * Sets the mtime of every file below `dir` an hour back, as a tool restoring mtimes would. The
 * stat cache still does not trust them for a moment (their ctime is recent, see RACY_MS), and
 * later edits that put the old mtime back must be caught all the same. test/stat-cache.test.ts
 * covers edits caught through the stat alone, with a clock moved forward.
 */
function age(dir: string): void {
  const past = new Date(Date.now() - 3600_000);
  for (const rel of filesUnder(dir)) utimesSync(join(dir, rel), past, past);
}

/** Version folders `v<N>` of an experiment's view. */
function versions(ws: Ws, exp: string): string[] {
  if (!exists(ws.path(`data/${exp}`))) return [];
  return readdirSync(ws.path(`data/${exp}`)).filter((n) => /^v\d+$/.test(n)).sort();
}

/** The status line of one experiment. */
function statusLine(r: CliResult, exp: string): string {
  const line = r.stdout.split("\n").find((l) => new RegExp(`^(fresh|stale|blocked)\\s+${exp}\\b`).test(l));
  assert.ok(line, `status names ${exp}:\n${r.output}`);
  return line!;
}

// ---------------------------------------------------------------------------------------------
// 1. No-op builds

const noop = suite("no-op build");

noop("a second build runs nothing, says up to date and leaves the lock byte for byte", async () => {
  const ws = new Ws({ ...producer("producer", { config: "replicates: 2\ntreatments: {baseline: {}, t: {delta: 1}}\n" }), ...consumer("consumer", ["producer"]) });
  const first = await ok(ws);
  assert.equal(first.ran, ["consumer:baseline:0", "consumer:t:0", "producer:baseline:0", "producer:baseline:1", "producer:t:0", "producer:t:1"]);
  assert.match(first.stderr, /▸ producer/);
  assert.match(first.stdout, /done: 2 built in /);
  const lock = ws.lockText();
  const views = snapshot(ws.path("data/producer"));

  const second = await ok(ws);
  assert.equal(second.ran, [], "no unit ran");
  assert.not.match(second.stderr, /▸/, "no experiment announced as running");
  assert.not.match(second.stderr, /restored|repaired/, "the views were intact");
  assert.match(second.stdout, /done: 0 built, 2 up to date in /, second.output);
  assert.not.match(second.stdout, /crystallize\.lock updated/);
  assert.is(ws.lockText(), lock, "lock unchanged byte for byte");
  assert.equal(snapshot(ws.path("data/producer")), views);

  const s = await ws.status();
  assert.match(statusLine(s, "producer"), /^fresh\s+producer$/);
  assert.match(statusLine(s, "consumer"), /^fresh\s+consumer$/);
});

noop("editing description or cli changes no key", async () => {
  const ws = new Ws(producer("producer", { config: "description: first words\n" }));
  await ok(ws);
  const lock = ws.lockText();
  ws.edit("experiments/producer/config.yaml", (t) => t.replace("first words", "other words") + "cli:\n  group: demo\n");
  const r = await ok(ws);
  assert.equal(r.ran, []);
  assert.is(ws.lockText(), lock);
});

noop("YAML comments, key order and explicit defaults in config.yaml change no key", async () => {
  const ws = new Ws({ ...producer("producer", { config: "treatments:\n  baseline: {}\n  a: {p: 1, q: 2}\n" }), ...consumer("consumer", ["producer"]) });
  await ok(ws);
  const lock = ws.lockText();
  ws.edit("experiments/producer/config.yaml", (t) => "# a comment\n" + t.replace("a: {p: 1, q: 2}", "a: {q: 2, p: 1}   # reordered").replace("steps: [emit]", "steps:\n  - emit") + "replicates: 1\nseed: 0\n");
  const r = await ok(ws);
  assert.equal(r.ran, []);
  assert.is(ws.lockText(), lock);
});

noop.run();

// ---------------------------------------------------------------------------------------------
// 2. Keys identical for one workspace at two paths

const paths = suite("keys across checkouts");

paths("the same workspace at two different paths has byte-identical locks and store keys", async () => {
  const files = {
    ...producer("producer", {
      config: "replicates: 2\nseed: 7\ntreatments: {baseline: {}, t: {delta: 3}}\ninputs: [data.csv]\nenv: [CZ_ENGINE_SAME]\n",
      head: `import { helper } from "../common/util.js";\nimport { fake } from "fakepkg";`,
      value: `helper(ctx.condition) + fake() + ":" + ctx.replicate`,
    }),
    ...consumer("consumer", ["producer"]),
    "experiments/producer/data.csv": "a,b\n1,2\n",
    "experiments/common/util.ts": "export const helper = (s: string) => `[${s}]`;\n",
    "node_modules/fakepkg/package.json": JSON.stringify({ name: "fakepkg", version: "1.0.0", type: "module", main: "index.js" }),
    "node_modules/fakepkg/index.js": "export const fake = () => 'fake';\n",
  };
  const env = { CZ_ENGINE_SAME: "same-value" };
  const a = new Ws(files);
  const ra = await ok(a, [], env);
  assert.is(ra.ran.length, 6, "2 conditions x 2 replicates, then 2 conditions of the consumer");

  // A copy somewhere else, at a different depth, without data/, .crystallize/ or the lock.
  const bDir = join(mkdtempSync(join(tmpdir(), "cz-other-")), "deeper", "checkout");
  mkdirSync(dirname(bDir), { recursive: true });
  cpSync(a.dir, bDir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(a.dir, src);
      return !(rel === "data" || rel.startsWith("data/") || rel === ".crystallize" || rel.startsWith(".crystallize/") || rel === "crystallize.lock");
    },
  });
  const b = new Ws(bDir);
  assert.not.ok(exists(b.path("crystallize.lock")));
  const rb = await ok(b, [], env);
  assert.equal(rb.ran, ra.ran, "a fresh checkout runs everything");

  assert.is(b.lockText(), a.lockText(), "locks byte-identical");
  assert.equal(filesUnder(b.path("data/.store/units")), filesUnder(a.path("data/.store/units")), "same unit keys");
  assert.equal(filesUnder(b.path("data/.store/objects")), filesUnder(a.path("data/.store/objects")), "same objects");
  for (const dir of [a.dir, b.dir]) {
    assert.not.ok(a.lockText().includes(dir), "no absolute path in the lock");
    assert.not.ok(a.lockText().includes(basename(dir)), "not even the folder name");
  }
});

paths.run();

// ---------------------------------------------------------------------------------------------
// 3. Comments and whitespace are not code; real edits are

const code = suite("code edits");

const TIDY = `import { appendFileSync } from "node:fs";
export const emit = (d: unknown, ctx: any) => {
  ${LOG("producer")}
  const text = "producer says " + ctx.condition;
  ctx.outputs.o.write(text);
  return d;
};
`;

const MESSY = `// A comment that was not there before.
import { appendFileSync } from "node:fs";

/**
 * JSDoc on the step.
 */
export const emit = (d: unknown,   ctx: any) =>
{
        ${LOG("producer")}   // trailing comment
    /* a block comment */ const text = "producer says "+ctx.condition;


  ctx.outputs.o.write( text );
  return d;   
};
`;

code("a comment-only or whitespace-only edit reruns nothing; a real edit reruns it and its consumer", async () => {
  const ws = new Ws({ "experiments/producer/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n", "experiments/producer/steps.ts": TIDY, ...consumer("consumer", ["producer"]) });
  assert.equal((await ok(ws)).ran, ["consumer:baseline:0", "producer:baseline:0"]);
  const lock = ws.lockText();

  ws.write("experiments/producer/steps.ts", MESSY);
  const s0 = await ws.status();
  assert.match(statusLine(s0, "producer"), /^fresh\s+producer$/, s0.output);
  const r0 = await ok(ws);
  assert.equal(r0.ran, [], "comments and whitespace change no key");
  assert.match(r0.stdout, /done: 0 built, 2 up to date/);
  assert.is(ws.lockText(), lock, "nor the lock");

  ws.edit("experiments/producer/steps.ts", (t) => t.replace(`"producer says "`, `"producer now says "`));
  const s1 = await ws.status();
  assert.match(statusLine(s1, "producer"), /^stale\s+producer \(1\/1 units\): code experiments\/producer\/steps\.ts modified$/, s1.output);
  assert.match(statusLine(s1, "consumer"), /^blocked\s+consumer: upstream producer is stale/, s1.output);
  const r1 = await ok(ws);
  assert.equal(r1.ran, ["consumer:baseline:0", "producer:baseline:0"]);
  assert.match(r1.stderr, /✓ producer\s+v1/, r1.output);
  assert.is(ws.read("data/producer/v1/replicate_0/baseline/o.txt"), "producer now says baseline");
  assert.match(ws.read("data/consumer/v1/replicate_0/baseline/o.txt"), /producer=producer now says baseline/);
  assert.is(ws.lock().experiments.producer.version, 1);
});

code("whitespace and comment markers inside string literals are code", async () => {
  const ws = new Ws(producer("producer", { value: `"a b // c"` }));
  await ok(ws);
  ws.edit("experiments/producer/steps.ts", (t) => t.replace(`"a b // c"`, `"a  b // c"`));
  const r1 = await ok(ws);
  assert.equal(r1.ran, ["producer:baseline:0"], "doubled space in a string is a change");
  assert.is(ws.read("data/producer/v1/replicate_0/baseline/o.txt"), "a  b // c");
  ws.edit("experiments/producer/steps.ts", (t) => t.replace(`"a  b // c"`, `"a  b // d"`));
  const r2 = await ok(ws);
  assert.equal(r2.ran, ["producer:baseline:0"], "text after // inside a string is a change");
  assert.is(ws.read("data/producer/v2/replicate_0/baseline/o.txt"), "a  b // d");
});

code.run();

// ---------------------------------------------------------------------------------------------
// 4. Local modules imported by several experiments

const modules = suite("shared local modules");

function sharedHelperWorkspace(): Ws {
  return new Ws({
    ...producer("left", { head: `import { label } from "../common/util.js";`, value: `label("left")` }),
    ...producer("right", { head: `import { label } from "../common/util";`, value: `label("right")` }),
    ...producer("other"),
    ...consumer("after_left", ["left"]),
    "experiments/common/util.ts": `import { SUFFIX } from "./deep.js";\nexport const label = (s: string) => s + "-v1" + SUFFIX;\n`,
    "experiments/common/deep.ts": `export const SUFFIX = "!";\n`,
  });
}


modules("editing a shared helper reruns exactly the experiments that import it", async () => {
  const ws = sharedHelperWorkspace();
  const first = await ok(ws);
  assert.equal(first.ran, ["after_left:baseline:0", "left:baseline:0", "other:baseline:0", "right:baseline:0"]);
  assert.ok(ws.lockText().includes("experiments/common/util.ts"), "the helper is in the lock");
  assert.equal(Object.keys(ws.lock().experiments.other.code), ["experiments/other/steps.ts"]);

  ws.edit("experiments/common/util.ts", (t) => t.replace(`"-v1"`, `"-v2"`));
  const s = await ws.status();
  assert.match(statusLine(s, "left"), /code experiments\/common\/util\.ts modified/, s.output);
  assert.match(statusLine(s, "right"), /code experiments\/common\/util\.ts modified/, s.output);
  assert.match(statusLine(s, "other"), /^fresh/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["after_left:baseline:0", "left:baseline:0", "right:baseline:0"], "left, right and left's consumer; not other");
  assert.is(ws.read("data/left/v1/replicate_0/baseline/o.txt"), "left-v2!");
  assert.is(ws.read("data/right/v1/replicate_0/baseline/o.txt"), "right-v2!");
});

modules("a module imported transitively (helper of the helper) is part of the key", async () => {
  const ws = sharedHelperWorkspace();
  await ok(ws);
  assert.ok(ws.lock().experiments.right.code["experiments/common/deep.ts"], "deep.ts in right's code closure");
  ws.edit("experiments/common/deep.ts", (t) => t.replace(`"!"`, `"?"`));
  const s = await ws.status();
  assert.match(statusLine(s, "right"), /code experiments\/common\/deep\.ts modified/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["after_left:baseline:0", "left:baseline:0", "right:baseline:0"]);
  assert.is(ws.read("data/right/v1/replicate_0/baseline/o.txt"), "right-v1?");
});

modules("a comment-only edit of the shared helper reruns nothing", async () => {
  const ws = sharedHelperWorkspace();
  await ok(ws);
  const lock = ws.lockText();
  ws.edit("experiments/common/util.ts", (t) => `/* helper */\n${t}\n\n// end\n`);
  const r = await ok(ws);
  assert.equal(r.ran, []);
  assert.is(ws.lockText(), lock);
});

modules("a helper loaded with a string-literal dynamic import is part of the key", async () => {
  const ws = new Ws({
    ...producer("dyn", { value: `(await import("../common/late.js")).late()` }),
    "experiments/common/late.ts": `export const late = () => "late-1";\n`,
  });
  ws.edit("experiments/dyn/steps.ts", (t) => t.replace("export const emit = (", "export const emit = async ("));
  await ok(ws);
  assert.is(ws.read("data/dyn/v0/replicate_0/baseline/o.txt"), "late-1");
  ws.edit("experiments/common/late.ts", (t) => t.replace("late-1", "late-2"));
  assert.equal((await ok(ws)).ran, ["dyn:baseline:0"]);
  assert.is(ws.read("data/dyn/v1/replicate_0/baseline/o.txt"), "late-2");
});

modules("with a compiled x.js beside x.ts, the key covers the file that runs, as tsx resolves it", async () => {
  const ws = new Ws({
    // From TypeScript, tsx tries x.ts first for "./x.js" and for "./x".
    ...producer("from_ts", { head: `import { tag } from "../common/x.js";\nimport { tag as same } from "../common/x";`, value: `tag() + same()` }),
    // From JavaScript, Node's own order: x.js first.
    "experiments/from_js/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n",
    "experiments/from_js/steps.js": `const { appendFileSync } = require("node:fs");\nconst { tag } = require("../common/x");\nexports.emit = (d, ctx) => { ${LOG("from_js").replace("!", "")} ctx.outputs.o.write(tag()); return d; };\n`,
    "experiments/common/x.ts": `export const tag = () => "ts1";\n`,
    "experiments/common/x.js": `exports.tag = () => "js1";\n`,
  });
  await ok(ws);
  assert.is(ws.read("data/from_ts/v0/replicate_0/baseline/o.txt"), "ts1ts1");
  assert.is(ws.read("data/from_js/v0/replicate_0/baseline/o.txt"), "js1");
  assert.equal(Object.keys(ws.lock().experiments.from_ts.code).sort(), ["experiments/common/x.ts", "experiments/from_ts/steps.ts"]);
  assert.equal(Object.keys(ws.lock().experiments.from_js.code).sort(), ["experiments/common/x.js", "experiments/from_js/steps.js"]);

  ws.edit("experiments/common/x.ts", (t) => t.replace("ts1", "ts2"));
  const s = await ws.status();
  assert.match(statusLine(s, "from_ts"), /code experiments\/common\/x\.ts modified/, s.output);
  assert.match(statusLine(s, "from_js"), /^fresh/, s.output);
  assert.equal((await ok(ws)).ran, ["from_ts:baseline:0"]);
  assert.is(ws.read("data/from_ts/v1/replicate_0/baseline/o.txt"), "ts2ts2");

  ws.edit("experiments/common/x.js", (t) => t.replace("js1", "js2"));
  assert.equal((await ok(ws)).ran, ["from_js:baseline:0"], "from_ts does not load x.js");
  assert.is(ws.read("data/from_js/v1/replicate_0/baseline/o.txt"), "js2");
});

modules("a module imported through the tsconfig's paths (\"@lib/words\") is part of the key, as tsx resolves it", async () => {
  const ws = new Ws({
    "tsconfig.json": `{\n  // tsx reads this, comments and all\n  "compilerOptions": { "baseUrl": ".", "paths": { "@lib/*": ["lib/*"] } }\n}\n`,
    ...producer("aliased", { head: `import { word } from "@lib/words";`, value: `word()` }),
    "lib/words.ts": `export const word = () => "one";\n`,
  });
  await ok(ws);
  assert.is(ws.read("data/aliased/v0/replicate_0/baseline/o.txt"), "one");
  assert.equal(Object.keys(ws.lock().experiments.aliased.code).sort(), ["experiments/aliased/steps.ts", "lib/words.ts"]);
  assert.equal(ws.lock().experiments.aliased.packages, {}, "not a package");

  ws.edit("lib/words.ts", (t) => t.replace("one", "two"));
  const s = await ws.status();
  assert.match(statusLine(s, "aliased"), /code lib\/words\.ts modified/, s.output);
  assert.equal((await ok(ws)).ran, ["aliased:baseline:0"]);
  assert.is(ws.read("data/aliased/v1/replicate_0/baseline/o.txt"), "two");
});

modules("a subpath import (\"#lib/words\", package.json's imports) is part of the key: every file its conditions name, and a package it maps to", async () => {
  const ws = new Ws({
    "package.json": JSON.stringify({
      name: "lab",
      private: true,
      imports: { "#lib/*": "./lib/*.js", "#rate": { types: "./lib/rate.d.ts", import: "./lib/rate-esm.ts", default: "./lib/rate.ts" }, "#pkg": "fakepkg" },
    }),
    ...producer("subpath", { head: `import { word } from "#lib/words";\nimport { rate } from "#rate";\nimport { fake } from "#pkg";`, value: `word() + rate() + fake("")` }),
    "lib/words.ts": `export const word = () => "one";\n`,
    "lib/rate.ts": `export const rate = () => "-cjs";\n`,
    "lib/rate-esm.ts": `export const rate = () => "-esm";\n`,
    ...fakePackage("1.0.0"),
  });
  await ok(ws);
  assert.is(ws.read("data/subpath/v0/replicate_0/baseline/o.txt"), "one-cjsfake:");
  assert.equal(Object.keys(ws.lock().experiments.subpath.code).sort(), ["experiments/subpath/steps.ts", "lib/rate-esm.ts", "lib/rate.ts", "lib/words.ts"]);
  assert.equal(ws.lock().experiments.subpath.packages, { fakepkg: "1.0.0" });

  ws.edit("lib/words.ts", (t) => t.replace("one", "two"));
  const s = await ws.status();
  assert.match(statusLine(s, "subpath"), /code lib\/words\.ts modified/, s.output);
  assert.equal((await ok(ws)).ran, ["subpath:baseline:0"]);
  assert.is(ws.read("data/subpath/v1/replicate_0/baseline/o.txt"), "two-cjsfake:");
  assert.not.match((await ok(ws)).output, /warning/, "nothing loaded that the key does not follow");
});

modules("a self-reference (\"lab/words\" in the package named lab, mapped by its exports) is part of the key; the API's name never is", async () => {
  const ws = new Ws({
    "package.json": JSON.stringify({ name: "lab", private: true, exports: { "./words": "./lib/words.ts", "./package.json": "./package.json" } }),
    ...producer("self", { head: `import { word } from "lab/words";`, value: `word()` }),
    "lib/words.ts": `export const word = () => "one";\n`,
  });
  await ok(ws);
  assert.is(ws.read("data/self/v0/replicate_0/baseline/o.txt"), "one");
  assert.equal(Object.keys(ws.lock().experiments.self.code).sort(), ["experiments/self/steps.ts", "lib/words.ts"]);
  assert.equal(ws.lock().experiments.self.packages, {}, "not a package");
  ws.edit("lib/words.ts", (t) => t.replace("one", "two"));
  assert.equal((await ok(ws)).ran, ["self:baseline:0"]);
  assert.is(ws.read("data/self/v1/replicate_0/baseline/o.txt"), "two");

  // This repository is a package named crystallize whose experiments import the API.
  const api = new Ws({
    "package.json": JSON.stringify({ name: "crystallize", private: true, exports: { ".": "./lib/index.ts" } }),
    "lib/index.ts": `export const dataSource = () => "not the API";\n`,
    ...producer("uses_api", { head: `import { pipelineStep } from "crystallize";`, value: `typeof pipelineStep` }),
  });
  await ok(api);
  assert.is(api.read("data/uses_api/v0/replicate_0/baseline/o.txt"), "function");
  assert.equal(Object.keys(api.lock().experiments.uses_api.code), ["experiments/uses_api/steps.ts"]);
});

modules("a JSON file that code requires or imports is part of the key; reformatting it is not a change", async () => {
  const ws = new Ws({
    ...producer("imports_json", { head: `import table from "../common/table.json";`, value: `String(table.rate)` }),
    "experiments/requires_json/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n",
    "experiments/requires_json/steps.js": `const { appendFileSync } = require("node:fs");\nconst table = require("../common/table.json");\nexports.emit = (d, ctx) => { ${LOG("requires_json").replace("!", "")} ctx.outputs.o.write(String(table.rate * 2)); return d; };\n`,
    "experiments/common/table.json": `{"rate": 1}\n`,
  });
  assert.equal((await ok(ws)).ran, ["imports_json:baseline:0", "requires_json:baseline:0"]);
  ws.edit("experiments/common/table.json", () => `{\n  "rate": 1\n}\n`);
  assert.equal((await ok(ws)).ran, [], "whitespace only");
  ws.edit("experiments/common/table.json", () => `{"rate": 3}\n`);
  assert.equal((await ok(ws)).ran, ["imports_json:baseline:0", "requires_json:baseline:0"]);
  assert.is(ws.read("data/requires_json/v1/replicate_0/baseline/o.txt"), "6");
});

modules.run();

// ---------------------------------------------------------------------------------------------
// 5. Package versions

const packages = suite("package versions");

const fakePackage = (version: string) => ({
  "node_modules/fakepkg/package.json": JSON.stringify({ name: "fakepkg", version, type: "module", main: "index.js" }),
  "node_modules/fakepkg/index.js": "export const fake = (s) => 'fake:' + s;\n",
});

packages("a package linked in from the workspace (npm workspaces, npm link) is keyed by its files, not only its version", async () => {
  const ws = new Ws({
    ...producer("uses_lib", { head: `import { shout } from "@lab/lib";`, value: `shout(ctx.condition)` }),
    "packages/lib/package.json": JSON.stringify({ name: "@lab/lib", version: "1.0.0", main: "index.js" }),
    "packages/lib/index.js": "exports.shout = (s) => s.toUpperCase();\n",
  });
  mkdirSync(join(ws.dir, "node_modules", "@lab"), { recursive: true });
  symlinkSync(join("..", "..", "packages", "lib"), join(ws.dir, "node_modules", "@lab", "lib"));
  await ok(ws);
  assert.is(ws.read("data/uses_lib/v0/replicate_0/baseline/o.txt"), "BASELINE");
  assert.match(ws.lock().experiments.uses_lib.packages["@lab/lib"], /^1\.0\.0\+linked\.[0-9a-f]{32}$/);

  ws.edit("packages/lib/index.js", (t) => t.replace("toUpperCase()", "toUpperCase() + '!'"));
  const s = await ws.status();
  assert.match(statusLine(s, "uses_lib"), /package @lab\/lib: 1\.0\.0\+linked\.[0-9a-f]+ → 1\.0\.0\+linked\.[0-9a-f]+/, s.output);
  assert.equal((await ok(ws)).ran, ["uses_lib:baseline:0"]);
  assert.is(ws.read("data/uses_lib/v1/replicate_0/baseline/o.txt"), "BASELINE!");
  assert.equal((await ok(ws)).ran, [], "and then it is up to date");
});

packages("bumping an imported package's version (same code) reruns the experiments that import it", async () => {
  const ws = new Ws({
    ...producer("uses_pkg", { head: `import { fake } from "fakepkg";`, value: `fake(ctx.condition)` }),
    ...producer("plain"),
    ...fakePackage("1.0.0"),
  });
  const first = await ok(ws);
  assert.equal(first.ran, ["plain:baseline:0", "uses_pkg:baseline:0"]);
  assert.is(ws.read("data/uses_pkg/v0/replicate_0/baseline/o.txt"), "fake:baseline");
  assert.is(ws.lock().experiments.uses_pkg.packages.fakepkg, "1.0.0");

  writeFiles(ws.dir, fakePackage("1.0.1"));
  const s = await ws.status();
  assert.match(statusLine(s, "uses_pkg"), /^stale\s+uses_pkg \(1\/1 units\): package fakepkg: 1\.0\.0 → 1\.0\.1$/, s.output);
  assert.match(statusLine(s, "plain"), /^fresh/);
  const r = await ok(ws);
  assert.equal(r.ran, ["uses_pkg:baseline:0"]);
  assert.is(ws.lock().experiments.uses_pkg.packages.fakepkg, "1.0.1");
  assert.equal(versions(ws, "uses_pkg"), ["v0"], "same bytes: the result keeps its version");
  assert.equal((await ok(ws)).ran, [], "and then it is up to date");
});

packages("an update of a dependency of an imported package, its own version unchanged, reruns what imports it", async () => {
  const manifest = (name: string, version: string, fields: object = {}) => JSON.stringify({ name, version, main: "index.js", ...fields });
  const ws = new Ws({
    ...producer("uses_pkg", { head: `import { fake } from "fakepkg";`, value: `fake(ctx.condition)` }),
    ...producer("plain"),
    "node_modules/fakepkg/package.json": manifest("fakepkg", "1.0.0", { dependencies: { "dep-a": "^1.0.0" }, optionalDependencies: { "not-here": "1" } }),
    "node_modules/fakepkg/index.js": "const a = require('dep-a');\nexports.fake = (s) => a(s);\n",
    "node_modules/dep-a/package.json": manifest("dep-a", "1.0.0", { dependencies: { "dep-b": "^1.0.0" } }),
    "node_modules/dep-a/index.js": "const b = require('dep-b');\nmodule.exports = (s) => 'a:' + b(s);\n",
    // Nested, as npm installs a version the top level cannot take.
    "node_modules/dep-a/node_modules/dep-b/package.json": manifest("dep-b", "1.0.0"),
    "node_modules/dep-a/node_modules/dep-b/index.js": "module.exports = (s) => 'b:' + s;\n",
  });
  assert.equal((await ok(ws)).ran, ["plain:baseline:0", "uses_pkg:baseline:0"]);
  assert.is(ws.read("data/uses_pkg/v0/replicate_0/baseline/o.txt"), "a:b:baseline");
  const before = ws.lock().experiments.uses_pkg.packages.fakepkg;
  assert.match(before, /^1\.0\.0 deps:[0-9a-f]{16}$/);

  writeFiles(ws.dir, {
    "node_modules/dep-a/node_modules/dep-b/package.json": manifest("dep-b", "1.0.1"),
    "node_modules/dep-a/node_modules/dep-b/index.js": "module.exports = (s) => 'b2:' + s;\n",
  });
  const s = await ws.status();
  assert.match(statusLine(s, "uses_pkg"), /^stale\s+uses_pkg \(1\/1 units\): package fakepkg: its dependencies changed \(1\.0\.0 deps:[0-9a-f]{16} → 1\.0\.0 deps:[0-9a-f]{16}\)$/, s.output);
  assert.match(statusLine(s, "plain"), /^fresh/);
  assert.equal((await ok(ws)).ran, ["uses_pkg:baseline:0"]);
  assert.is(ws.read("data/uses_pkg/v1/replicate_0/baseline/o.txt"), "a:b2:baseline");
  assert.is.not(ws.lock().experiments.uses_pkg.packages.fakepkg, before);
  assert.equal((await ok(ws)).ran, [], "and then it is up to date");
});

packages("a package's dependencies are recorded the same from any layout and platform; a missing required one counts, a missing optional one does not", async () => {
  const manifest = (name: string, version: string, fields: object = {}) => ({ [`${name}/package.json`]: JSON.stringify({ name, version, ...fields }) });
  await initHasher();
  const recorded = async (dir: string, name = "p") => new PackageVersions(StatCache.load(undefined)).of(dir, name);
  // npm's flat layout, on Linux; p and q depend on each other.
  const flat = mkdtempSync(join(tmpdir(), "cz-pkgs-"));
  writeFiles(join(flat, "node_modules"), {
    ...manifest("p", "1.0.0", { dependencies: { q: "^2" }, optionalDependencies: { absent: "1", "p-linux-x64": "1.0.0", "p-darwin-arm64": "1.0.0" }, peerDependencies: { r: "3" } }),
    ...manifest("p-linux-x64", "1.0.0", { os: ["linux"], cpu: ["x64"] }),
    ...manifest("q", "2.0.0", { dependencies: { p: "^1" } }),
    ...manifest("r", "3.0.0"),
  });
  const value = await recorded(flat);
  assert.match(value, /^1\.0\.0 deps:[0-9a-f]{16}$/);
  assert.is(await recorded(flat, "r"), "3.0.0", "no dependencies: the version alone");

  // pnpm's, on a Mac: every package in its own store folder, its dependencies linked beside it.
  const pnpm = mkdtempSync(join(tmpdir(), "cz-pkgs-"));
  const store = (id: string) => join(pnpm, "node_modules", ".pnpm", id, "node_modules");
  writeFiles(store("p@1.0.0"), manifest("p", "1.0.0", { dependencies: { q: "^2" }, optionalDependencies: { absent: "1", "p-linux-x64": "1.0.0", "p-darwin-arm64": "1.0.0" }, peerDependencies: { r: "3" } }));
  writeFiles(store("p-darwin-arm64@1.0.0"), manifest("p-darwin-arm64", "1.0.0", { os: ["darwin"], cpu: ["arm64"] }));
  symlinkSync(join(store("p-darwin-arm64@1.0.0"), "p-darwin-arm64"), join(store("p@1.0.0"), "p-darwin-arm64"));
  writeFiles(store("q@2.0.0"), manifest("q", "2.0.0", { dependencies: { p: "^1" } }));
  writeFiles(store("r@3.0.0"), manifest("r", "3.0.0"));
  symlinkSync(join(store("q@2.0.0"), "q"), join(store("p@1.0.0"), "q"));
  symlinkSync(join(store("r@3.0.0"), "r"), join(store("p@1.0.0"), "r"));
  symlinkSync(join(store("p@1.0.0"), "p"), join(store("q@2.0.0"), "p"));
  symlinkSync(join(store("p@1.0.0"), "p"), join(pnpm, "node_modules", "p"));
  assert.is(await recorded(pnpm), value);

  writeFiles(join(flat, "node_modules"), manifest("r", "3.0.1"));
  const peerBumped = await recorded(flat);
  assert.is.not(peerBumped, value, "an installed peer dependency counts");
  writeFiles(join(flat, "node_modules"), manifest("q", "2.0.0", { dependencies: { p: "^1", gone: "1" } }));
  assert.is.not(await recorded(flat), peerBumped, "a dependency not installed is recorded as such");
  writeFiles(join(flat, "node_modules"), manifest("q", "2.0.0", { dependencies: { p: "^1" }, optionalDependencies: { gone: "1" } }));
  assert.is(await recorded(flat), peerBumped, "an optional one not installed is not");
});

packages.run();

// ---------------------------------------------------------------------------------------------
// 6. Declared inputs and env

const decl = suite("inputs and env");

decl("editing a declared input file reruns; rewriting the same bytes or adding an undeclared file does not", async () => {
  const ws = new Ws({
    ...producer("reader", { config: "inputs: [data.csv, \"extra/*.txt\"]\n", head: `import { readFileSync } from "node:fs";`, value: `readFileSync("data.csv", "utf8").trim()` }),
    "experiments/reader/data.csv": "x\n1\n",
  });
  assert.equal((await ok(ws)).ran, ["reader:baseline:0"]);
  assert.ok(ws.lock().experiments.reader.inputs["experiments/reader/data.csv"], "the input is in the lock, workspace-relative");

  ws.write("experiments/reader/data.csv", "x\n1\n");
  assert.equal((await ok(ws)).ran, [], "same bytes rewritten: nothing to do");
  ws.write("experiments/reader/notes.md", "not an input");
  assert.equal((await ok(ws)).ran, [], "an undeclared file is not an input");

  ws.write("experiments/reader/data.csv", "x\n2\n");
  const s = await ws.status();
  assert.match(statusLine(s, "reader"), /input experiments\/reader\/data\.csv modified/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["reader:baseline:0"]);
  assert.is(ws.read("data/reader/v1/replicate_0/baseline/o.txt"), "x\n2");

  ws.write("experiments/reader/extra/one.txt", "new");
  const s2 = await ws.status();
  assert.match(statusLine(s2, "reader"), /input experiments\/reader\/extra\/one\.txt added/, s2.output);
  assert.equal((await ok(ws)).ran, ["reader:baseline:0"], "a new file matching the glob reruns");

  rmSync(ws.path("experiments/reader/extra/one.txt"));
  const s3 = await ws.status();
  assert.match(statusLine(s3, "reader"), /^fresh/, "back to the earlier inputs: the store holds that key\n" + s3.output);
  const r3 = await ok(ws);
  assert.equal(r3.ran, [], "the earlier result, from the store");
  assert.is(ws.lock().experiments.reader.version, 1);
  assert.equal(Object.keys(ws.lock().experiments.reader.inputs), ["experiments/reader/data.csv"]);
});

decl("a declared env variable: a new value reruns, the same value does not, and the lock never holds the value", async () => {
  const ws = new Ws({ ...producer("envy", { config: "env: [CZ_ENGINE_VAR]\n" }), ...producer("indifferent") });
  const v1 = { CZ_ENGINE_VAR: "first-secret-9f8e7d" };
  const v2 = { CZ_ENGINE_VAR: "second-secret-1a2b3c" };
  assert.equal((await ok(ws, [], v1)).ran, ["envy:baseline:0", "indifferent:baseline:0"]);
  assert.ok(ws.lockText().includes("CZ_ENGINE_VAR"), "the name is in the lock");
  assert.equal((await ok(ws, [], v1)).ran, [], "same value: nothing runs");

  const s = await ws.status(v2);
  assert.match(statusLine(s, "envy"), /env CZ_ENGINE_VAR changed/, s.output);
  assert.not.ok(s.output.includes("secret"), "status shows no value");
  const r = await ok(ws, [], v2);
  assert.equal(r.ran, ["envy:baseline:0"], "only the experiment that declares it");
  assert.equal((await ok(ws, [], v2)).ran, []);
  const unset = await ok(ws, [], {});
  assert.equal(unset.ran, ["envy:baseline:0"], "unset differs from set");

  const text = ws.lockText();
  for (const v of [v1.CZ_ENGINE_VAR, v2.CZ_ENGINE_VAR, "secret"]) assert.not.ok(text.includes(v), `lock never holds ${v}`);
  for (const f of filesUnder(ws.path("data/.store"))) assert.not.ok(readFileSync(ws.path(join("data/.store", f)), "utf8").includes("secret"), `store file ${f} holds no value`);
});

decl("an environment variable a step reads but env: does not declare is named in a warning; a package's reads and a copy of the environment are not", async () => {
  const ws = new Ws({
    "experiments/envy/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n",
    "experiments/envy/steps.ts": [
      'import { spawnSync } from "node:child_process";',
      'import pkg from "envpkg";',
      "export const emit = (d: unknown, ctx: any) => {",
      "  const child = spawnSync(process.execPath, ['-e', ''], { env: { ...process.env, CZ_EXTRA: '1' } });",
      "  const flag = 'CZ_FLAG' in process.env;",
      "  const asObject = process.env.hasOwnProperty('CZ_RATE') && `${process.env}`;",
      "  ctx.outputs.o.write(String(process.env.CZ_RATE ?? 'none') + flag + pkg() + child.status + JSON.stringify(process.env).length + asObject);",
      "  return d;",
      "};",
      "",
    ].join("\n"),
    "node_modules/envpkg/package.json": '{"name": "envpkg", "version": "1.0.0"}',
    "node_modules/envpkg/index.js": "module.exports = () => String(process.env.CZ_PKG_ONLY ?? '');\n",
  });
  const first = await ok(ws, [], { CZ_RATE: "0.1" });
  const warnings = first.output.split("\n").filter((l) => l.includes("environment variable"));
  assert.equal(warnings.length, 1, first.output);
  assert.match(warnings[0], /envy: read the environment variables CZ_FLAG, CZ_RATE, which its key does not cover: a change to them will not make envy stale; list them under env: in experiments\/envy\/config\.yaml$/);
  ws.edit("experiments/envy/config.yaml", (t) => `${t}env: [CZ_RATE, CZ_FLAG]\n`);
  const declared = await ok(ws, [], { CZ_RATE: "0.1" });
  assert.match(declared.output, /1 built/, declared.output);
  assert.not.match(declared.output, /environment variable/, declared.output);
  assert.match((await ok(ws, [], { CZ_RATE: "0.2" })).output, /1 built/, "declared, a change reruns it");
  const version = /^ {2}envy:\n(?: {4}.*\n)*? {4}version: (\d+)$/m.exec(ws.lockText())![1];
  assert.match(readFileSync(ws.path(`data/envy/v${version}/replicate_0/baseline/o.txt`), "utf8"), /^0\.2false/);
});

decl("a file a step reads but inputs: does not declare is named in a warning, until it is declared", async () => {
  const ws = new Ws({
    "experiments/reader/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [emit]\n",
    "experiments/reader/steps.ts": `import { readFileSync } from "node:fs";\nimport { createRequire } from "node:module";\nexport const emit = (d: unknown, ctx: any) => {\n  const extra = createRequire(__filename)("../common/extra.js");\n  ctx.outputs.o.write(readFileSync("raw.csv", "utf8") + readFileSync("../../shared/table.txt", "utf8") + extra.x);\n  return d;\n};\n`,
    "experiments/reader/raw.csv": "1,2\n",
    "experiments/common/extra.js": "exports.x = 'x';\n",
    "shared/table.txt": "t\n",
  });
  const first = await ok(ws);
  const warning = first.output.split("\n").find((l) => l.includes("does not cover")) ?? "";
  assert.match(warning, /reader: read experiments\/reader\/raw\.csv, shared\/table\.txt, which its key does not cover: editing them will not make reader stale; list them under inputs: in experiments\/reader\/config\.yaml \(raw\.csv, \.\.\/\.\.\/shared\/table\.txt\)/, first.output);
  assert.not.match(warning, /extra\.js/, "a module it requires is code, not data");
  assert.not.match(warning, /data\//, "nor what it writes or what crystallize reads for it");
  // createRequire(...)("...") is no require("...") the analysis follows: a second warning.
  const loaded = first.output.split("\n").find((l) => l.includes("does not follow")) ?? "";
  assert.match(loaded, /reader: loaded experiments\/common\/extra\.js, which its key does not follow .*: editing it will not make reader stale/, first.output);
  assert.ok(first.output.split("\n").filter((l) => l.includes("extra.js")).length === 1, "said once");

  ws.edit("experiments/reader/config.yaml", (t) => `${t}inputs: [raw.csv, ../../shared/table.txt]\n`);
  const declared = await ok(ws);
  assert.match(declared.output, /1 built/, declared.output);
  assert.not.match(declared.output, /does not cover/, declared.output);
  ws.edit("shared/table.txt", () => "u\n");
  assert.match(statusLine(await ws.status(), "reader"), /input shared\/table\.txt modified/);
});

decl("a module loaded by a computed require() is named once; literal imports and upstream loaders are not", async () => {
  const ws = new Ws({
    "experiments/producer/config.yaml": "outputs:\n  o:\n    file_name: o.json\n    writer: dump\n    loader: load\nsteps: [emit]\n",
    "experiments/producer/steps.ts": "export const emit = (d: unknown, ctx: any) => { ctx.outputs.o.write({ n: 2 }); return d; };\n",
    "experiments/producer/outputs.ts": 'import { readFileSync } from "node:fs";\nimport { parse } from "../common/fmt.js";\nexport const dump = (v: unknown) => JSON.stringify(v);\nexport const load = (p: string) => parse(readFileSync(p, "utf8"));\n',
    "experiments/consumer/config.yaml": "replicates: 2\ndatasource:\n  p: producer#o\nsteps: [use]\n",
    "experiments/consumer/steps.ts": 'import { twice } from "../common/helper.js";\nconst plugin = "../common/" + "plug.js";\nexport const use = (d: any, ctx: any) => { ctx.metrics.add("v", twice(d.p.n) + require(plugin).bonus); return d; };\n',
    "experiments/common/fmt.js": "exports.parse = (t) => JSON.parse(t);\n",
    "experiments/common/helper.js": "exports.twice = (n) => 2 * n;\n",
    "experiments/common/plug.js": "exports.bonus = 1;\n",
  });
  await ok(ws, ["producer"]);
  // A new process: the consumer's worker loads the producer's loader from disk.
  const built = await ok(ws, ["consumer"]);
  const warnings = built.output.split("\n").filter((l) => l.includes("does not follow"));
  assert.is(warnings.length, 1, built.output);
  assert.match(warnings[0], /consumer: loaded experiments\/common\/plug\.js, which/);
  assert.not.match(built.output, /(helper|fmt)\.js|outputs\.ts, which/, "followed: a literal import, and the loader its key covers");

  ws.edit("experiments/consumer/config.yaml", (t) => `${t}inputs: [../common/plug.js]\n`);
  const declared = await ok(ws, ["consumer"]);
  assert.not.match(declared.output, /does not follow/, declared.output);
  ws.edit("experiments/common/plug.js", () => "exports.bonus = 2;\n");
  assert.match(statusLine(await ws.status(), "consumer"), /input experiments\/common\/plug\.js modified/);
});

decl("a folder a step lists is named until an inputs: glob reaches it: a file added there would go unseen", async () => {
  const ws = new Ws({
    "experiments/lister/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [count]\n",
    "experiments/lister/steps.ts": `import { appendFileSync, readdirSync } from "node:fs";\nexport const count = (d: unknown, ctx: any) => {\n  ${LOG("lister")}\n  ctx.outputs.o.write(String(readdirSync("raw").length));\n  return d;\n};\n`,
    "experiments/lister/raw/a.csv": "1\n",
  });
  const first = await ok(ws);
  const warning = first.output.split("\n").find((l) => l.includes("listed")) ?? "";
  assert.match(warning, /lister: listed experiments\/lister\/raw, which its key does not cover: a file added to it will not make lister stale; list it under inputs: in experiments\/lister\/config\.yaml as a glob \(raw\/\*\*\)/, first.output);

  ws.edit("experiments/lister/config.yaml", (t) => `${t}inputs: ["raw/**"]\n`);
  const declared = await ok(ws);
  assert.not.match(declared.output, /listed/, declared.output);
  ws.write("experiments/lister/raw/b.csv", "2\n");
  assert.equal((await ok(ws)).ran, ["lister:baseline:0"], "a file added under the glob reruns it");
});

decl("a file a step copies counts as read, and a folder it copies as listed", async () => {
  const ws = new Ws({
    "experiments/copier/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [copy]\n",
    "experiments/copier/steps.ts": 'import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";\nimport { tmpdir } from "node:os";\nimport { join } from "node:path";\nexport const copy = (d: unknown, ctx: any) => {\n  const to = mkdtempSync(join(tmpdir(), "cz-copy-"));\n  copyFileSync("raw.csv", join(to, "raw.csv"));\n  cpSync("tree", join(to, "tree"), { recursive: true });\n  ctx.outputs.o.write(readFileSync(join(to, "raw.csv"), "utf8") + readdirSync(join(to, "tree")).length);\n  return d;\n};\n',
    "experiments/copier/raw.csv": "1\n",
    "experiments/copier/tree/a.txt": "a\n",
  });
  const built = await ok(ws);
  assert.match(built.output, /copier: read experiments\/copier\/raw\.csv, experiments\/copier\/tree\/a\.txt, which its key does not cover/, built.output);
  assert.match(built.output, /copier: listed experiments\/copier\/tree, which its key does not cover/, built.output);
});

decl("in an ES module workspace, a module loaded by a computed import() is named too", async () => {
  const ws = new Ws({
    "package.json": '{ "type": "module" }\n',
    "experiments/consumer/config.yaml": "outputs:\n  o:\n    file_name: o.txt\nsteps: [use]\n",
    "experiments/consumer/steps.ts": 'import { twice } from "../common/helper.js";\nconst name = "plug";\nexport const use = async (d: unknown, ctx: any) => {\n  const plugin = await import(`../common/${name}.js`);\n  ctx.outputs.o.write(String(twice(plugin.bonus)));\n  return d;\n};\n',
    "experiments/common/helper.js": "export const twice = (n) => 2 * n;\n",
    "experiments/common/plug.js": "export const bonus = 1;\n",
  });
  const built = await ok(ws);
  const warnings = built.output.split("\n").filter((l) => l.includes("does not follow"));
  assert.is(warnings.length, 1, built.output);
  assert.match(warnings[0], /consumer: loaded experiments\/common\/plug\.js, which its key does not follow/);
  assert.not.match(built.output, /helper\.js, which/, "a literal import is followed");
});

decl.run();

// ---------------------------------------------------------------------------------------------
// 7. Finer than the experiment: conditions

const finer = suite("per-condition keys");

finer("editing one treatment's value reruns exactly that condition here and downstream", async () => {
  const ws = new Ws({
    ...producer("producer", { config: "replicates: 2\ntreatments:\n  baseline: {}\n  a: {delta: 1}\n  b: {delta: 2}\n" }),
    ...consumer("consumer", ["producer"], { config: "replicates: 2\n" }),
  });
  const first = await ok(ws);
  assert.is(first.ran.length, 12, first.ran.join(", "));
  const baselineBefore = ws.read("data/consumer/v0/replicate_0/baseline/o.txt");

  ws.edit("experiments/producer/config.yaml", (t) => t.replace("b: {delta: 2}", "b: {delta: 5}"));
  const s = await ws.status();
  assert.match(statusLine(s, "producer"), /^stale\s+producer \(2\/6 units\): config treatments\.b\.delta: 2 → 5$/, s.output);
  assert.match(statusLine(s, "consumer"), /^blocked/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["consumer:b:0", "consumer:b:1", "producer:b:0", "producer:b:1"]);
  assert.is(ws.read("data/producer/v1/replicate_1/b/o.txt"), `producer:b:1:{"delta":5}`);
  assert.is(ws.read("data/producer/v1/replicate_1/a/o.txt"), `producer:a:1:{"delta":1}`);
  assert.match(ws.read("data/consumer/v1/replicate_0/b/o.txt"), /producer=producer:b:0:\{"delta":5\} as b:\{"delta":5\}/);
  assert.is(ws.read("data/consumer/v1/replicate_0/baseline/o.txt"), baselineBefore);
});

finer("adding a treatment runs only the new condition", async () => {
  const ws = new Ws({ ...producer("producer", { config: "treatments:\n  baseline: {}\n  a: {delta: 1}\n" }), ...consumer("consumer", ["producer"]) });
  await ok(ws);
  ws.edit("experiments/producer/config.yaml", (t) => t + "  c: {delta: 3}\n");
  const r = await ok(ws);
  assert.equal(r.ran, ["consumer:c:0", "producer:c:0"]);
});

finer.run();

// ---------------------------------------------------------------------------------------------
// 8. A failed replicate reruns alone

const failed = suite("failed replicates");

failed("replicate 3 of 5 fails; after the fix only replicate 3 runs", async () => {
  const marker = join(mkdtempSync(join(tmpdir(), "cz-marker-")), "broken");
  writeFileSync(marker, "x");
  const ws = new Ws({
    ...producer("flaky", {
      config: "replicates: 5\n",
      head: `import { existsSync } from "node:fs";`,
      value: `(() => { if (ctx.replicate === 3 && existsSync(process.env.CZ_MARKER!)) throw new Error("replicate three is broken"); return "ok:" + ctx.replicate; })()`,
    }),
    ...consumer("after", ["flaky"]),
  });
  const env = { CZ_MARKER: marker };
  const first = await ws.build([], env);
  assert.is(first.code, 1, first.output);
  assert.equal(first.ran, ["flaky:baseline:0", "flaky:baseline:1", "flaky:baseline:2", "flaky:baseline:3", "flaky:baseline:4"]);
  assert.match(first.stderr, /replicate three is broken/);
  assert.match(first.stderr, /after skipped/);
  assert.not.ok(exists(ws.path("data/flaky/v0")), "no view for a failed experiment");

  const s = await ws.status(env);
  assert.match(statusLine(s, "flaky"), /^stale\s+flaky \(1\/5 units\): .*1 unit failed in an earlier build: replicate three is broken/, s.output);

  const stillBroken = await ws.build([], env);
  assert.is(stillBroken.code, 1);
  assert.equal(stillBroken.ran, ["flaky:baseline:3"], "the four good replicates are kept");

  rmSync(marker);
  const fixed = await ws.build([], env);
  assert.is(fixed.code, 0, fixed.output);
  assert.equal(fixed.ran, ["after:baseline:0", "flaky:baseline:3"]);
  assert.equal(readdirSync(ws.path("data/flaky/v0")).filter((n) => n.startsWith("replicate_")).sort(), ["replicate_0", "replicate_1", "replicate_2", "replicate_3", "replicate_4"]);
  assert.is(ws.read("data/flaky/v0/replicate_3/baseline/o.txt"), "ok:3");
  assert.equal(readdirSync(ws.path("data/.store/failures")), [], "the failure's note is removed once the unit succeeds");
  const s2 = await ws.status(env);
  assert.match(statusLine(s2, "flaky"), /^fresh/, s2.output);
});

failed.run();

// ---------------------------------------------------------------------------------------------
// 9. Early cutoff

const cutoff = suite("early cutoff");

cutoff("an upstream that reruns to byte-identical output does not rerun its consumers", async () => {
  const ws = new Ws({ ...producer("producer", { config: "replicates: 2\n" }), ...consumer("consumer", ["producer"], { config: "replicates: 2\n" }), ...consumer("last", ["consumer"]) });
  assert.is((await ok(ws)).ran.length, 5);
  const consumerLock = ws.lock().experiments.consumer;

  ws.edit("experiments/producer/steps.ts", (t) => t.replace("return d;", "const unused = 1;\n  return d;"));
  const s = await ws.status();
  assert.match(statusLine(s, "producer"), /^stale\s+producer \(2\/2 units\): code experiments\/producer\/steps\.ts modified$/, s.output);
  assert.match(statusLine(s, "consumer"), /^blocked\s+consumer: upstream producer is stale/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["producer:baseline:0", "producer:baseline:1"], "only the producer ran");
  assert.match(r.stdout, /done: 1 built, 2 up to date/, r.output);
  assert.equal(versions(ws, "producer"), ["v0"], "identical result, same version");
  assert.equal(ws.lock().experiments.consumer, consumerLock, "the consumer's lock entry is unchanged");
  assert.equal((await ok(ws)).ran, []);
});

cutoff("a loader runs in the consumer: editing only the loader reruns the consumer even though the bytes are identical", async () => {
  const ws = new Ws({
    "experiments/producer/config.yaml": "outputs:\n  o:\n    file_name: o.txt\n    loader: load\nsteps: [emit]\n",
    "experiments/producer/steps.ts": `import { appendFileSync } from "node:fs";\nexport const emit = (d: unknown, ctx: any) => { ${LOG("producer")} ctx.outputs.o.write("Abc"); return d; };\n`,
    "experiments/producer/outputs.ts": `import { readFileSync } from "node:fs";\nexport const load = (path: string) => readFileSync(path, "utf8").toUpperCase();\n`,
    ...consumer("consumer", ["producer"]),
  });
  await ok(ws);
  assert.match(ws.read("data/consumer/v0/replicate_0/baseline/o.txt"), /producer=ABC /);
  ws.edit("experiments/producer/outputs.ts", (t) => t.replace("toUpperCase", "toLowerCase"));
  const r = await ok(ws);
  assert.equal(r.ran, ["consumer:baseline:0", "producer:baseline:0"]);
  assert.equal(versions(ws, "producer"), ["v0"], "the producer's bytes did not change");
  assert.match(ws.read("data/consumer/v1/replicate_0/baseline/o.txt"), /producer=abc /);
});

cutoff("a version folder, once written, is not rewritten when an upstream gets a new version with identical outputs", async () => {
  // The producer's result changes (a new metric) but its output bytes do not: the consumer
  // stays cached at v0. Its v0 folder was never damaged, so it must not be rewritten or
  // reported as repaired.
  const ws = new Ws({ ...producer("producer", { value: `"same bytes"` }), ...consumer("consumer", ["producer"]) });
  await ok(ws);
  const before = snapshot(ws.path("data/consumer/v0"));
  ws.edit("experiments/producer/steps.ts", (t) => t.replace("return d;", `ctx.metrics.add("new_metric", 1);\n  return d;`));
  const r = await ok(ws);
  assert.equal(r.ran, ["producer:baseline:0"]);
  assert.equal(versions(ws, "producer"), ["v0", "v1"], "new metrics: a new producer version");
  assert.equal(versions(ws, "consumer"), ["v0"]);
  assert.not.match(r.stderr, /consumer\s+v0\s+repaired/, "an intact view is not repaired:\n" + r.stderr);
  assert.equal(snapshot(ws.path("data/consumer/v0")), before, "the consumer's v0 folder is unchanged");
});

cutoff.run();

// ---------------------------------------------------------------------------------------------
// 10. The store

const store = suite("content-addressed store");

function storeWorkspace(): Ws {
  return new Ws({
    ...producer("producer", { config: "treatments:\n  baseline: {}\n  b: {delta: 1}\n" }),
    ...consumer("consumer", ["producer"]),
  });
}

store("reverting a config edit restores the old result from the store, pointing at its old version", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const v0 = snapshot(ws.path("data/producer/v0"));
  const lock0 = ws.lockText();

  ws.edit("experiments/producer/config.yaml", (t) => t.replace("delta: 1", "delta: 2"));
  const edited = await ok(ws);
  assert.equal(edited.ran, ["consumer:b:0", "producer:b:0"]);
  assert.equal(versions(ws, "producer"), ["v0", "v1"]);
  assert.is(ws.lock().experiments.producer.version, 1);

  ws.edit("experiments/producer/config.yaml", (t) => t.replace("delta: 2", "delta: 1"));
  const s = await ws.status();
  assert.match(statusLine(s, "producer"), /^fresh/, "the store holds the old key: nothing to run\n" + s.output);
  const reverted = await ok(ws);
  assert.equal(reverted.ran, [], "nothing ran");
  assert.not.match(reverted.stderr, /▸/, "nothing announced as running");
  assert.match(reverted.stdout, /done: 0 built, 2 up to date/, reverted.output);
  const lock = ws.lock();
  assert.is(lock.experiments.producer.version, 0);
  assert.is(lock.experiments.consumer.version, 0);
  assert.is(ws.lockText(), lock0, "the lock is back to what it was, byte for byte");
  assert.equal(versions(ws, "producer"), ["v0", "v1"], "no new version");
  assert.equal(snapshot(ws.path("data/producer/v0")), v0);
  assert.equal(readJson(ws.path("data/consumer/v0/metadata.json")).upstream, { "producer#o": 0 });
});

store("a deleted view, or the whole data/<exp> folder, is restored from the store without running", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const before = snapshot(ws.path("data/producer"));
  const consumerBefore = snapshot(ws.path("data/consumer"));

  rmSync(ws.path("data/producer/v0"), { recursive: true });
  const r1 = await ok(ws);
  assert.equal(r1.ran, []);
  assert.not.match(r1.stderr, /▸/, "a restore is not a run");
  assert.match(r1.stderr, /✓ producer\s+v0\s+restored from the store/, r1.output);
  assert.equal(snapshot(ws.path("data/producer")), before);

  rmSync(ws.path("data/producer"), { recursive: true });
  rmSync(ws.path("data/consumer"), { recursive: true });
  const r2 = await ok(ws);
  assert.equal(r2.ran, []);
  assert.match(r2.stderr, /✓ producer\s+v0\s+restored from the store/, r2.output);
  assert.match(r2.stderr, /✓ consumer\s+v0\s+restored from the store/, r2.output);
  assert.equal(snapshot(ws.path("data/producer")), before);
  assert.equal(snapshot(ws.path("data/consumer")), consumerBefore);

  rmSync(ws.path("data/producer/v0/replicate_0/b/o.txt"));
  const r3 = await ok(ws);
  assert.equal(r3.ran, []);
  assert.match(r3.stderr, /✓ producer\s+v0\s+repaired from the store/, r3.output);
  assert.equal(snapshot(ws.path("data/producer")), before);

  // Every output intact, only the folder's JSON gone: the folder is there, so it is repaired.
  rmSync(ws.path("data/producer/v0/metadata.json"));
  rmSync(ws.path("data/producer/v0/b"), { recursive: true });
  const r4 = await ok(ws);
  assert.equal(r4.ran, []);
  assert.match(r4.stderr, /✓ producer\s+v0\s+repaired from the store/, r4.output);
  assert.equal(snapshot(ws.path("data/producer")), before);
});

store("with the store deleted and the views left, everything runs again into new versions; the old folders are kept", async () => {
  const ws = storeWorkspace();
  const first = await ok(ws);
  const v0 = snapshot(ws.path("data/producer/v0"));
  rmSync(ws.path("data/.store"), { recursive: true });
  const r = await ok(ws);
  assert.equal(r.ran, first.ran, "nothing to restore from: every unit runs");
  assert.equal(versions(ws, "producer"), ["v0", "v1"], "numbered after the folder found, not into it");
  assert.equal(versions(ws, "consumer"), ["v0", "v1"]);
  assert.equal(snapshot(ws.path("data/producer/v0")), v0, "the old folder is untouched");
  assert.equal(readJson(ws.path("data/consumer/v1/metadata.json")).upstream, { "producer#o": 1 });
  // The store is cold again but not empty: the next build finds everything.
  const again = await ok(ws);
  assert.equal(again.ran, []);
});

store("a view edited by hand is restored from the store, without running anything", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const before = snapshot(ws.path("data/producer"));
  const lock = ws.lockText();
  // Let the stat cache remember the view's digests, then edit with the same size and put the
  // old mtime back (as `touch -r` or a careful editor would): still caught.
  age(ws.path("data"));
  assert.equal((await ok(ws)).ran, []);
  const view = ws.path("data/producer/v0/replicate_0/baseline/o.txt");
  const { atime, mtime } = statSync(view);
  writeFileSync(view, "X".repeat(before["v0/replicate_0/baseline/o.txt"].length));
  utimesSync(view, atime, mtime);
  ws.write("data/producer/v0/baseline/results.json", "{}\n");
  const r = await ok(ws);
  assert.equal(r.ran, [], "nothing ran");
  assert.match(r.stderr, /✓ producer\s+v0\s+repaired from the store/, r.output);
  assert.equal(snapshot(ws.path("data/producer")), before);
  assert.is(ws.lockText(), lock);
});

store("a view edited by hand is restored before a rerunning consumer reads it", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const original = ws.read("data/producer/v0/replicate_0/baseline/o.txt");
  ws.write("data/producer/v0/replicate_0/baseline/o.txt", "TAMPERED");
  // The consumer's code changes, so it really runs and reads the producer's view file.
  ws.edit("experiments/consumer/steps.ts", (t) => t.replace(`"consumer saw "`, `"consumer (edited) saw "`));
  const r = await ok(ws);
  assert.equal(r.ran, ["consumer:b:0", "consumer:baseline:0"], "the producer did not run, the consumer did");
  assert.is(ws.read("data/producer/v0/replicate_0/baseline/o.txt"), original);
  const seen = ws.read("data/consumer/v1/replicate_0/baseline/o.txt");
  assert.not.match(seen, /TAMPERED/, "the consumer never read the damaged file");
  assert.ok(seen.includes(`producer=${original}`), seen);
});

store("a corrupt store object is never served: that experiment reruns", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const before = snapshot(ws.path("data/producer"));
  const digest: string = ws.lock().experiments.producer.outputs["baseline/replicate_0/o.txt"];
  const object = objectPath(ws, digest);
  assert.ok(exists(object), "the output is stored by its digest");
  const original = readFileSync(object, "utf8");
  assert.is(original, ws.read("data/producer/v0/replicate_0/baseline/o.txt"));

  // Let the stat cache remember the objects' digests first (a no-op build reads them).
  age(ws.path("data/.store/objects"));
  assert.equal((await ok(ws)).ran, []);
  // Same size, other bytes; and the view is gone, so the only copy is the corrupt object.
  chmodSync(object, 0o644);
  writeFileSync(object, "X".repeat(original.length));
  rmSync(ws.path("data/producer/v0"), { recursive: true });
  const s = await ws.status();
  assert.match(statusLine(s, "producer"), /^stale\s+producer \(1\/2 units\): 1 result missing or corrupt in the store$/, s.output);
  const r = await ok(ws);
  assert.equal(r.ran, ["producer:baseline:0"], "only the unit whose object was corrupt");
  assert.equal(snapshot(ws.path("data/producer")), before, "the view holds the right bytes");
  assert.is(readFileSync(object, "utf8"), original, "the object is repaired");
  assert.equal((await ok(ws)).ran, []);
});

store("view files are read-only and hold their objects' bytes, whether written from memory or copied out of the store", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const outputs: Record<string, string> = ws.lock().experiments.producer.outputs;
  const check = (when: string) => {
    for (const [rel, digest] of Object.entries(outputs)) {
      const [condition, replicate, file] = rel.split("/");
      const view = ws.path(`data/producer/v0/${replicate}/${condition}/${file}`);
      assert.equal(readFileSync(view), readFileSync(objectPath(ws, digest)), `${when}: ${rel}`);
      assert.is(statSync(view).mode & 0o222, 0, `${when}: ${rel} is read-only`);
      assert.is(statSync(objectPath(ws, digest)).mode & 0o777, 0o444, `${when}: the object of ${rel} is read-only`);
    }
  };
  // The build that stored the objects writes the view from the bytes it hashed; a later one copies.
  check("written with the objects");
  rmSync(ws.path("data/producer"), { recursive: true });
  assert.equal((await ok(ws)).ran, []);
  check("restored from the store");
});

store("a missing store object is detected: that experiment reruns", async () => {
  const ws = storeWorkspace();
  await ok(ws);
  const before = snapshot(ws.path("data/producer"));
  const digest: string = ws.lock().experiments.producer.outputs["b/replicate_0/o.txt"];
  rmSync(objectPath(ws, digest), { force: true });
  const r = await ok(ws);
  assert.equal(r.ran, ["producer:b:0"]);
  assert.equal(snapshot(ws.path("data/producer")), before);
  assert.ok(exists(objectPath(ws, digest)));
});

store("a damaged unit record is a miss, not an error: that unit reruns", async () => {
  const ws = new Ws(producer("producer", { config: "replicates: 2\n" }));
  await ok(ws);
  const records = filesUnder(ws.path("data/.store/units"));
  assert.is(records.length, 2, "one record per unit key");
  const record = ws.path(join("data/.store/units", records[0]));
  chmodSync(record, 0o644);
  writeFileSync(record, readFileSync(record, "utf8").slice(0, 20));
  const r = await ok(ws);
  assert.is(r.ran.length, 1, r.output);
  assert.equal((await ok(ws)).ran, []);
});

store.run();

// ---------------------------------------------------------------------------------------------
// 11. crystallize.lock

const lockSuite = suite("crystallize.lock");

lockSuite("sorted, complete per experiment, free of absolute paths, and stable under a no-op build", async () => {
  // Topological order (zeta, then mid, then alpha) differs from alphabetical order.
  const ws = new Ws({
    ...producer("zeta", { config: "replicates: 2\ntreatments: {baseline: {}, t: {delta: 1}}\n" }),
    ...consumer("mid", ["zeta"]),
    ...consumer("alpha", ["mid"]),
  });
  await ok(ws);
  const text = ws.lockText();
  const lock = ws.lock();
  assert.is(lock.version, 1);

  const names = text.split("\n").map((l) => /^  ([a-z_]+):\s*$/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
  assert.equal(names, ["alpha", "mid", "zeta"], "experiments in alphabetical order in the file");
  for (const name of names) {
    const entry = lock.experiments[name];
    for (const field of ["key", "version", "params", "code", "outputs"]) assert.ok(field in entry, `${name} has ${field}`);
    assert.equal(Object.keys(entry), [...Object.keys(entry)].sort(), `${name}'s fields are sorted`);
    assert.equal(Object.keys(entry.outputs), [...Object.keys(entry.outputs)].sort(), `${name}'s outputs are sorted`);
    assert.match(String(entry.key), /^[0-9a-f]{32}$/);
    assert.is(entry.version, 0);
    assert.equal(Object.keys(entry.code), [`experiments/${name}/steps.ts`]);
  }
  assert.equal(Object.keys(lock.experiments.zeta.outputs), ["baseline/replicate_0/o.txt", "baseline/replicate_1/o.txt", "t/replicate_0/o.txt", "t/replicate_1/o.txt"]);
  assert.equal(lock.experiments.zeta.params.treatments.t, { delta: 1 });
  assert.ok(lock.experiments.alpha.upstream["mid#o"], "the consumer records the upstream output it read");

  assert.not.ok(text.includes(ws.dir), "no absolute workspace path");
  assert.not.ok(text.includes(basename(ws.dir)), "not even the temp folder's name");
  assert.not.ok(text.includes(tmpdir()), "no temp path");
  assert.not.match(text, /\d{4}-\d\d-\d\dT\d\d:\d\d/, "no timestamp");

  const mtime = statSync(ws.path("crystallize.lock")).mtimeMs;
  const r = await ok(ws);
  assert.equal(r.ran, []);
  assert.is(ws.lockText(), text, "a no-op build leaves the lock byte for byte");
  assert.is(statSync(ws.path("crystallize.lock")).mtimeMs, mtime, "not even rewritten");
});

lockSuite("the lock is rewritten after a build that changes something, and only the changed entries differ", async () => {
  const ws = new Ws({ ...producer("one"), ...producer("two", { value: `"two-output"` }) });
  await ok(ws);
  const before = ws.lock();
  ws.edit("experiments/two/steps.ts", (t) => t.replace(`"two-output"`, `"two-output-changed"`));
  const r = await ok(ws);
  assert.match(r.stdout, /crystallize\.lock updated/, r.output);
  const after = ws.lock();
  assert.equal(after.experiments.one, before.experiments.one);
  assert.is.not(after.experiments.two.key, before.experiments.two.key);
  assert.is(after.experiments.two.version, 1);
});

lockSuite.run();
