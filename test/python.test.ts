// Python experiments end to end: the seed tutorial as written, the `crystallize` Python API
// (injection, context, artifacts, seeding), the worker (output, tracebacks, Ctrl-C), the
// interpreter choice, mixed Python/TypeScript graphs, and the usual commands on .py code.
// Keys over .py code are in python-keys.test.ts, the static scanner in python-scan.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ExperimentGraph } from "../dist/lib/index.js";
import { BIN, copyFixture, exists, makeWorkspace, readJson, REPO, runCli, waitFor, writeFiles, type CliResult } from "./helpers.js";

/** What `python3` really is (pyenv shims resolved): the interpreter used when nothing else is set. */
const PYTHON3 = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
const HAS_NUMPY = spawnSync("python3", ["-c", "import numpy"]).status === 0;

/**
 * PATH with `python3` pointing straight at PYTHON3, so that each fresh workspace does not pay
 * for resolving a pyenv shim (seconds on a busy machine). The seed tutorial test keeps the
 * real PATH, so the shim route is exercised too.
 */
const FAST_BIN = mkdtempSync(join(tmpdir(), "cz-pybin-"));
symlinkSync(PYTHON3, join(FAST_BIN, "python3"));
const FAST = { PATH: `${FAST_BIN}${delimiter}${process.env.PATH}` };

/**
 * The CLI with FAST, killed after `limitMs`: a build that hangs (a worker reply that never
 * comes) fails its test instead of stalling the suite.
 */
function run(args: string[], cwd: string, env: Record<string, string> = {}, limitMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: "true", NO_COLOR: "1", ...FAST, ...env }, timeout: limitMs, killSignal: "SIGKILL", maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const e = err as { code?: unknown; killed?: boolean } | null;
      const code = !e ? 0 : e.killed ? -1 : typeof e.code === "number" ? e.code : 1;
      const note = e?.killed ? `\n[test] crystallize ${args.join(" ")} did not finish in ${limitMs / 1000} s: killed` : "";
      resolve({ code, stdout, stderr, output: stdout + stderr + note });
    });
  });
}

/** Lines of plain progress output without their `HH:MM:SS ` timestamps. */
const logLines = (stderr: string) => stderr.split("\n").map((l) => l.replace(/^\d\d:\d\d:\d\d /, ""));

/** The highest version folder of an experiment: the one the last build produced or pointed at. */
function latest(ws: string, exp: string): number {
  return Math.max(...readdirSync(join(ws, "data", exp)).filter((d) => /^v\d+$/.test(d)).map((d) => Number(d.slice(1))));
}
const results = (ws: string, exp: string, condition = "baseline") => readJson(join(ws, "data", exp, `v${latest(ws, exp)}`, condition, "results.json"));
/** metric name -> one value per replicate, in replicate order. */
function perReplicate(ws: string, exp: string, condition = "baseline"): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const r of results(ws, exp, condition).replicates) for (const [k, v] of Object.entries(r.metrics as Record<string, unknown[]>)) (out[k] ??= []).push(...v);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `build` once per workspace and remembers the result, for tests that share it. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

// ---------------------------------------------------------------------------------------------
// 1. The seed, verbatim

test("seed tutorial (Python, verbatim): build consumer, then nothing reruns; check, verify, an edit makes check fail", async () => {
  const ws = copyFixture("tutorial-python");
  const r = await runCli(["build", "consumer"], ws);
  assert.is(r.code, 0, r.output);
  assert.equal(readJson(join(ws, "data/producer/v0/replicate_0/baseline/summary.json")), { total: 6 });
  assert.equal(readJson(join(ws, "data/consumer/v0/baseline/results.json")).metrics.total_from_producer, [6]);
  assert.ok(r.stderr.indexOf("✓ producer") < r.stderr.indexOf("▸ consumer"), r.stderr);

  const again = await runCli(["build", "consumer"], ws);
  assert.is(again.code, 0, again.output);
  assert.match(again.stdout, /0 built, 2 up to date/);
  assert.not.match(again.stderr, /▸/, "nothing started");
  const check = await runCli(["check"], ws);
  assert.is(check.code, 0, check.output);

  const verify = await runCli(["verify"], ws);
  assert.is(verify.code, 0, verify.output);
  assert.match(verify.output, /reproduced/);

  const steps = join(ws, "experiments/producer/steps.py");
  writeFileSync(steps, readFileSync(steps, "utf8").replace('sum(data["numbers"])', 'sum(data["numbers"]) + 1'));
  const stale = await runCli(["check"], ws);
  assert.is(stale.code, 1, stale.output);
  assert.match(stale.output, /experiments\/producer\/steps\.py/);
});

// ---------------------------------------------------------------------------------------------
// 2. The Python API

const API = {
  "experiments/a/config.yaml": `
replicates: 2
outputs:
  out: {file_name: out.json, writer: dump, loader: load}
steps:
  - scale: {factor: 3}
  - record
treatments:
  baseline: {}
  big: {offset: 100}
`,
  "experiments/a/datasources.py": `
import random
from crystallize import data_source

@data_source
def numbers(ctx, condition, offset=0):
    return {"numbers": [1, 2, 3], "source_condition": condition, "source_offset": offset,
            "source_rand": random.random(), "source_ctx_replicate": ctx.replicate}
`,
  "experiments/a/outputs.py": `
import json
from pathlib import Path

def dump(value):
    return json.dumps(value).encode("utf-8")

def load(path):
    assert isinstance(path, Path), f"the loader got a {type(path).__name__}"
    return {**json.loads(path.read_text()), "path_type": type(path).__name__}
`,
  "experiments/a/steps.py": `
import random
import sys
import crystallize
from crystallize import Artifact, FrozenContext, pipeline_step

@pipeline_step()
def scale(data, *, factor, offset=0, out: Artifact, replicate, condition, seed, ctx: FrozenContext):
    out.write({"scaled": [x * factor + offset for x in data["numbers"]]})
    m = ctx.metrics
    for name, value in [("factor", factor), ("offset", offset), ("replicate", replicate), ("condition", condition),
                        ("seed", seed), ("ctx_seed", ctx.seed), ("ctx_replicate", ctx.replicate),
                        ("get_factor", ctx.get("factor")), ("get_missing", ctx.get("missing", "fallback")),
                        ("rand", random.random()), ("source_rand", data["source_rand"]),
                        ("source_condition", data["source_condition"]), ("source_offset", data["source_offset"]),
                        ("api_file", crystallize.__file__), ("executable", sys.executable)]:
        m.add(name, value)
    for attempt in ("item", "attribute"):
        try:
            if attempt == "item":
                ctx["x"] = 1
            else:
                ctx.x = 1
            m.add("mutation_" + attempt, "allowed")
        except Exception as exc:
            m.add("mutation_" + attempt, type(exc).__name__)
    return data

@pipeline_step()
def record(data):
    return data, {"sum": sum(data["numbers"])}
`,
  "experiments/b/config.yaml": "datasource:\n  a_out: a#out\nsteps: [check_loaded]\n",
  "experiments/b/steps.py": `
def check_loaded(data, ctx):
    loaded = data["a_out"]
    ctx.metrics.add("path_type", loaded["path_type"])
    return data, {"scaled": loaded["scaled"]}
`,
  "experiments/noisy/config.yaml": "steps: [talk]\n",
  "experiments/noisy/steps.py": `
import os
import sys

def talk(data):
    print("hello from print")
    os.write(1, b"raw write to fd 1\\n")
    sys.stderr.write("to stderr\\n")
    print('{"type": "done", "id": "u1", "metrics": {"forged": [1]}}')
    print("last words without a newline", end="")
    return data, {"after": 1, "nan": float("nan"), "inf": float("-inf")}
`,
};

const api = once(async () => {
  const ws = makeWorkspace(API);
  const r = await run(["build"], ws);
  return { ws, r };
});

test("API: config kwargs, keyword-only injection of outputs, treatment values and context values", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  const base = perReplicate(ws, "a");
  const big = perReplicate(ws, "a", "big");
  assert.equal(base.factor, [3, 3]);
  assert.equal(base.offset, [0, 0]);
  assert.equal(big.offset, [100, 100]);
  assert.equal(base.replicate, [0, 1]);
  assert.equal(base.ctx_replicate, [0, 1]);
  assert.equal(base.condition, ["baseline", "baseline"]);
  assert.equal(big.condition, ["big", "big"]);
  assert.equal(base.seed, base.ctx_seed);
  assert.is.not(base.seed[0], base.seed[1], "each replicate has its own seed");
  assert.equal(base.get_factor, [3, 3], "ctx.get sees step kwargs");
  assert.equal(base.get_missing, ["fallback", "fallback"]);
  assert.equal(base.sum, [6, 6], "a (data, metrics) return records the metrics");
  // Artifact.write goes through the writer, per replicate and condition.
  assert.equal(readJson(join(ws, "data/a/v0/replicate_1/baseline/out.json")), { scaled: [3, 6, 9] });
  assert.equal(readJson(join(ws, "data/a/v0/replicate_0/big/out.json")), { scaled: [103, 106, 109] });
});

test("API: the data source gets the context and treatment values by name", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  assert.equal(perReplicate(ws, "a").source_condition, ["baseline", "baseline"]);
  assert.equal(perReplicate(ws, "a", "big").source_condition, ["big", "big"]);
  assert.equal(perReplicate(ws, "a", "big").source_offset, [100, 100]);
});

test("API: a downstream Python experiment reads through the producer's loader, which gets a pathlib.Path", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  assert.equal(perReplicate(ws, "b").path_type, ["PosixPath"]);
  assert.equal(perReplicate(ws, "b").scaled, [[3, 6, 9]]);
  assert.equal(perReplicate(ws, "b", "big").scaled, [[103, 106, 109]], "b runs a's treatment and reads its output");
});

test("API: the context is read-only; `crystallize` is the CLI's own module, no package installed", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  const base = perReplicate(ws, "a");
  assert.equal(base.mutation_item, ["ContextMutationError", "ContextMutationError"]);
  assert.equal(base.mutation_attribute, ["ContextMutationError", "ContextMutationError"]);
  assert.ok(String(base.api_file[0]).startsWith(join(REPO, "dist")), String(base.api_file[0]));
  const python3 = join(FAST_BIN, "python3");
  assert.equal(base.executable, [python3, python3], "no python: and no .venv: python3 from PATH");
});

test("API: Python's random is seeded per replicate: conditions share it, replicates differ, --force repeats it", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  const base = perReplicate(ws, "a");
  const big = perReplicate(ws, "a", "big");
  assert.equal(big.rand, base.rand, "both conditions of a replicate draw the same numbers");
  assert.equal(big.source_rand, base.source_rand);
  assert.is.not(base.rand[0], base.rand[1], "replicates differ");
  const again = await run(["build", "a", "--force"], ws);
  assert.is(again.code, 0, again.output);
  assert.equal(perReplicate(ws, "a").rand, base.rand);
  assert.equal(perReplicate(ws, "a").source_rand, base.source_rand);
  assert.equal(perReplicate(ws, "a", "big").rand, big.rand);
});

test("API: inactive treatments in config.state.json are not run, here or downstream", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  writeFileSync(join(ws, "experiments/a/config.state.json"), JSON.stringify({ inactive_treatments: ["big"] }));
  const b = await run(["build", "b"], ws);
  assert.is(b.code, 0, b.output);
  assert.equal(readJson(join(ws, "data/a", `v${latest(ws, "a")}`, "metadata.json")).conditions, ["baseline"]);
  assert.equal(readJson(join(ws, "data/b", `v${latest(ws, "b")}`, "metadata.json")).conditions, ["baseline"]);
  assert.is((await run(["check"], ws)).code, 0);
});

test("worker: print() and os.write(1) appear as [exp] lines and do not break the protocol", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  for (const line of ["hello from print", "raw write to fd 1", "to stderr", "last words without a newline"]) {
    assert.ok(logLines(r.stderr).includes(`[noisy] ${line}`), `missing "[noisy] ${line}" in:\n${r.stderr}`);
  }
  assert.equal(results(ws, "noisy").metrics.after, [1], "a printed protocol-looking line is only a log line");
});

test("metrics: NaN and infinities are stored as null, as for TypeScript experiments (the build does not hang)", async () => {
  const { ws, r } = await api();
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "noisy").metrics, { after: [1], nan: [null], inf: [null] });
});

test("undeclared: a data file a Python step reads, a folder it lists and a module it imports by a computed name are named, until declared", async () => {
  const ws = makeWorkspace({
    "experiments/reader/config.yaml": "outputs:\n  o: {file_name: o.txt}\nsteps: [work]\n",
    "experiments/reader/steps.py": 'import importlib\nimport json\nimport os\nimport helpers\nfrom pathlib import Path\n\ndef work(data, *, o):\n    plug = importlib.import_module("plu" + "gin")\n    o.write(Path("raw.csv").read_text() + helpers.X + plug.Y + json.dumps(len(os.listdir("tables"))))\n',
    "experiments/reader/tables/t.txt": "t\n",
    "experiments/reader/helpers.py": 'X = "x"\n',
    "experiments/reader/plugin.py": 'Y = "y"\n',
    "experiments/reader/raw.csv": "1,2\n",
    // Its own folder, which is also the first the import system looks in.
    "experiments/lister/config.yaml": "steps: [work]\n",
    "experiments/lister/steps.py": 'import os\nimport helpers\n\ndef work(data):\n    return data, {"n": len(os.listdir(".")) + helpers.N}\n',
    "experiments/lister/helpers.py": "N = 0\n",
    // importlib.metadata lists every folder on sys.path, the experiment's own included: no data.
    "experiments/meta/config.yaml": "steps: [work]\n",
    "experiments/meta/steps.py": 'import helpers\nfrom importlib import metadata\n\ndef work(data):\n    try:\n        metadata.version("pip")\n    except metadata.PackageNotFoundError:\n        pass\n    return data, {"x": helpers.X}\n',
    "experiments/meta/helpers.py": "X = 1\n",
  });
  const first = await run(["build"], ws);
  assert.is(first.code, 0, first.output);
  const warnings = first.output.split("\n").filter((l) => l.includes("warning"));
  assert.is(warnings.length, 4, first.output);
  assert.match(first.output, /lister: listed experiments\/lister, which its key does not cover/);
  assert.not.match(first.output, /meta: /, "the import system's and importlib.metadata's listings are not named");
  assert.match(first.output, /reader: read experiments\/reader\/raw\.csv, which its key does not cover/);
  assert.match(first.output, /reader: listed experiments\/reader\/tables, which its key does not cover/);
  assert.match(first.output, /reader: loaded experiments\/reader\/plugin\.py, which its key does not follow/);
  assert.not.match(first.output, /helpers\.py|json|__pycache__|steps\.py, which/, "a literal import, the standard library and bytecode caches are not named");

  writeFileSync(join(ws, "experiments/reader/config.yaml"), "outputs:\n  o: {file_name: o.txt}\nsteps: [work]\ninputs: [raw.csv, plugin.py, 'tables/*']\n");
  writeFileSync(join(ws, "experiments/lister/config.yaml"), "steps: [work]\ninputs: ['*']\n");
  const declared = await run(["build"], ws);
  assert.is(declared.code, 0, declared.output);
  assert.not.match(declared.output, /warning/, declared.output);
});

test("undeclared: environment variables a Python step reads are named, not a package's reads or a copy of the environment", async () => {
  const ws = makeWorkspace({
    "experiments/envy/config.yaml": "steps: [work]\n",
    "experiments/envy/steps.py": [
      "import json, os, subprocess, sys",
      "import envpkg",
      "",
      "def work(data):",
      "    rate = float(os.environ.get('CZ_RATE', '1'))",
      "    flag = 'CZ_FLAG' in os.environ",
      "    other = os.getenv('CZ_OTHER')",
      "    subprocess.run([sys.executable, '-c', ''], env={**os.environ, 'CZ_EXTRA': '1'}, check=True)",
      "    json.dumps(dict(os.environ))",
      "    return data, {'rate': rate, 'flag': flag, 'pkg': envpkg.read(), 'other': other}",
      "",
    ].join("\n"),
    // A package installed in a virtual environment inside the workspace: not the experiment's code.
    ".venv/lib/python3/site-packages/envpkg/__init__.py": "import os\n\ndef read():\n    return os.environ.get('CZ_PKG_ONLY', '')\n",
  });
  const env = { PYTHONPATH: join(ws, ".venv/lib/python3/site-packages"), CZ_RATE: "2" };
  const first = await run(["build"], ws, env);
  assert.is(first.code, 0, first.output);
  const warnings = first.output.split("\n").filter((l) => l.includes("environment variable"));
  assert.equal(warnings.length, 1, first.output);
  assert.match(warnings[0], /envy: read the environment variables CZ_FLAG, CZ_OTHER, CZ_RATE, which its key does not cover: a change to them will not make envy stale; list them under env: in experiments\/envy\/config\.yaml$/);
  writeFileSync(join(ws, "experiments/envy/config.yaml"), "steps: [work]\nenv: [CZ_RATE, CZ_FLAG, CZ_OTHER]\n");
  const declared = await run(["build"], ws, env);
  assert.is(declared.code, 0, declared.output);
  assert.not.match(declared.output, /warning/, declared.output);
});

test("an upgrade of a distribution an imported package requires (its own version unchanged) reruns what imports it; one for a platform only does not", async () => {
  const dist = (name: string, version: string, requires: string[] = []) => ({
    [`site/${name}-${version}.dist-info/METADATA`]: [`Metadata-Version: 2.1`, `Name: ${name}`, `Version: ${version}`, ...requires.map((r) => `Requires-Dist: ${r}`), ""].join("\n"),
    [`site/${name}-${version}.dist-info/top_level.txt`]: `${name}\n`,
    [`site/${name}/__init__.py`]: `VERSION = ${JSON.stringify(version)}\n`,
  });
  const ws = makeWorkspace({
    "experiments/uses/config.yaml": "steps: [work]\n",
    "experiments/uses/steps.py": "import toppkg\n\ndef work(data):\n    return data, {'n': 1}\n",
    ...dist("toppkg", "1.0", ["midpkg>=1", "extrapkg; extra == 'all'", "platpkg; sys_platform == 'linux'"]),
    ...dist("platpkg", "1.0"),
    ...dist("midpkg", "1.0", ["lowpkg"]),
    ...dist("lowpkg", "1.0"),
  });
  const env = { PYTHONPATH: join(ws, "site") };
  assert.is((await run(["build"], ws, env)).code, 0);
  const recorded = () => /py:toppkg: (.*)/.exec(readFileSync(join(ws, "crystallize.lock"), "utf8"))?.[1];
  const before = recorded();
  assert.match(before ?? "", /^toppkg==1\.0 deps:[0-9a-f]{16}$/);

  rmSync(join(ws, "site/lowpkg-1.0.dist-info"), { recursive: true });
  writeFiles(ws, dist("lowpkg", "1.1"));
  const s = await run(["status"], ws, env);
  assert.match(s.stdout, /uses \(1\/1 units\): package py:toppkg: its dependencies changed \(toppkg==1\.0 deps:[0-9a-f]{16} → toppkg==1\.0 deps:[0-9a-f]{16}\)/, s.output);
  const r = await run(["build"], ws, env);
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /1 built/, r.output);
  assert.is.not(recorded(), before);
  assert.match((await run(["build"], ws, env)).output, /0 built, 1 up to date/);

  // Installed here, but not on a machine of another platform: a lock written there must match.
  rmSync(join(ws, "site/platpkg-1.0.dist-info"), { recursive: true });
  writeFiles(ws, dist("platpkg", "2.0"));
  assert.match((await run(["build"], ws, env)).output, /0 built, 1 up to date/);
});

const SYNTAX_ERROR_BELOW = {
  "experiments/up/config.yaml": "outputs:\n  o: {file_name: o.txt}\nsteps: [work]\n",
  "experiments/up/steps.py": "def work(data, *, o):\n    o.write('x')\n",
  "experiments/down/config.yaml": "datasource: {x: up#o}\nsteps: [work]\n",
  "experiments/down/steps.py": "import helpers\n\ndef work(data):\n    return data, {'n': helpers.N}\n",
  "experiments/down/helpers.py": "N = (1,\n",
};

test("a Python syntax error is found before anything runs: exit 2 at file:line:column, every time until fixed", async () => {
  const ws = makeWorkspace(SYNTAX_ERROR_BELOW);
  for (let i = 0; i < 2; i++) {
    const r = await run(["build"], ws);
    assert.is(r.code, 2, r.output);
    assert.match(r.stderr, /experiments\/down\/helpers\.py:1:5 error: syntax error: '\(' was never closed/, r.output);
    assert.match(r.stderr, /^ {2}1 \| N = \(1,\n {4}\| {5}\^$/m, r.output);
    assert.not.ok(existsSync(join(ws, "data/up")), "the upstream did not run");
  }
  assert.is((await run(["check"], ws)).code, 2, "check reads the code too");
  writeFileSync(join(ws, "experiments/down/helpers.py"), "N = (1,)\n");
  const fixed = await run(["build"], ws);
  assert.is(fixed.code, 0, fixed.output);
  assert.equal(results(ws, "down").metrics.n, [[1]]);
});

test("a Python syntax error rejects every build of one opened graph: the analysis it failed is not kept", async () => {
  const ws = makeWorkspace(SYNTAX_ERROR_BELOW);
  // Past the stat cache's racy window, so that the module's analysis would be remembered.
  await new Promise((r) => setTimeout(r, 1600));
  const graph = await ExperimentGraph.fromYaml(join(ws, "experiments"));
  for (let i = 0; i < 2; i++) {
    const error = await graph.run().then(() => undefined, (err: Error) => err);
    assert.is(error?.message, "syntax error: '(' was never closed", `run ${i + 1}`);
  }
  assert.not.ok(existsSync(join(ws, "data/up")), "the upstream never ran");
});

numpyTest();

function numpyTest(): void {
  const define = HAS_NUMPY ? test : test.skip;
  define("numpy's global generator is seeded per replicate, also when only the data source imports numpy", async () => {
    const ws = makeWorkspace({
      "experiments/n/config.yaml": "replicates: 2\nsteps: [draw]\ntreatments:\n  baseline: {}\n  t: {k: 1}\n",
      "experiments/n/datasources.py": "import numpy as np\n\ndef source(ctx):\n    return {'src': float(np.random.random())}\n",
      "experiments/n/steps.py": "import numpy as np\n\ndef draw(data):\n    return data, {'src': data['src'], 'step': float(np.random.rand()), 'array': np.array([1.5, 2.5]), 'int64': np.int64(3)}\n",
    });
    const r = await run(["build", "-j", "1"], ws);
    assert.is(r.code, 0, r.output);
    const base = perReplicate(ws, "n");
    const t = perReplicate(ws, "n", "t");
    assert.equal(base.array, [[1.5, 2.5], [1.5, 2.5]], "numpy arrays and scalars as metrics");
    assert.equal(base.int64, [3, 3]);
    assert.equal(t, base, "both conditions of a replicate draw the same numbers");
    assert.is.not(base.src[0], base.src[1]);
    assert.is.not(base.step[0], base.step[1]);
    const again = await run(["build", "--force", "-j", "1"], ws);
    assert.is(again.code, 0, again.output);
    assert.equal(perReplicate(ws, "n"), base, "identical after --force");
  });
}

// ---------------------------------------------------------------------------------------------
// 3. Failures

test("failures: a Python exception shows its traceback with the .py file and line; a kwarg the step does not take is named", async () => {
  const ws = makeWorkspace({
    "experiments/boom/config.yaml": "steps: [explode]\n",
    "experiments/boom/steps.py": "def explode(data):\n    total = 1\n    # the next line fails\n    return total / 0\n",
    "experiments/badkw/config.yaml": "steps:\n  - scale: {factr: 3}\n",
    "experiments/badkw/steps.py": "def scale(data, *, factor=1):\n    return data\n",
    "experiments/badimport/config.yaml": "steps: [s]\n",
    "experiments/badimport/steps.py": "import helpers\n\ndef s(data):\n    return data\n",
    "experiments/badimport/helpers.py": "X = 1\nimport not_installed_anywhere_xyz\n",
  });
  const r = await run(["build", "--keep-going"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.output, /ZeroDivisionError: division by zero/);
  assert.match(r.output, /File "experiments\/boom\/steps\.py", line 4, in explode/);
  assert.match(r.output, /factr/);
  assert.match(r.output, /step 'scale'[^\n]*does not take/);
  assert.match(r.output, /ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'/);
  assert.match(r.output, /File "experiments\/badimport\/helpers\.py", line 2/);
  // Only the user's frames: not the worker's, not importlib's, not the tool's.
  assert.not.match(r.output, /worker\.py|crystallize\/__init__\.py|<frozen importlib|importlib\/__init__\.py|internal error|\n\s+at /);
  assert.not.ok(exists(join(ws, "data/boom/v0")));
});

test("a worker that dies while starting fails the unit with a crash message, not an internal error", async () => {
  const site = mkdtempSync(join(tmpdir(), "cz-pysite-"));
  writeFileSync(join(site, "sitecustomize.py"), "import sys\nif sys.argv and sys.argv[0].endswith('worker.py'):\n    sys.stderr.write('dying at start-up\\n')\n    sys.exit(3)\n");
  const ws = makeWorkspace({ "experiments/e/config.yaml": "steps: [s]\n", "experiments/e/steps.py": "def s(data):\n    return data\n" });
  const r = await run(["build"], ws, { PYTHONPATH: site });
  assert.is(r.code, 1, r.output);
  assert.ok(logLines(r.stderr).includes("[e] dying at start-up"), r.output);
  assert.match(r.output, /the worker process exited with code \d+/);
  assert.not.match(r.output, /could not store the result|Cannot set properties|internal error/);
});

test("Ctrl-C during time.sleep(30): exit 130, the worker and its child are gone, nothing recorded", async () => {
  const pids = mkdtempSync(join(tmpdir(), "cz-pypids-"));
  const ws = makeWorkspace({
    "experiments/sleepy/config.yaml": "outputs:\n  o: {file_name: o.txt}\nsteps: [nap]\n",
    "experiments/sleepy/steps.py": [
      "import os, subprocess, time",
      "",
      "def nap(data, *, o):",
      "    o.write('partial')",
      "    child = subprocess.Popen(['sleep', '60'])",
      `    with open(${JSON.stringify(pids)} + '/pids.tmp', 'w') as f:`,
      "        f.write(f'{os.getpid()} {child.pid}')",
      `    os.rename(${JSON.stringify(pids)} + '/pids.tmp', ${JSON.stringify(pids)} + '/pids')`,
      "    time.sleep(30)",
      "    return data",
      "",
    ].join("\n"),
  });
  const cli = spawn(process.execPath, [BIN, "build"], { cwd: ws, env: { ...process.env, CI: "true", NO_COLOR: "1", ...FAST }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  cli.stdout!.on("data", (c) => (output += c));
  cli.stderr!.on("data", (c) => (output += c));
  let exit: number | null | undefined;
  cli.on("exit", (code) => (exit = code));
  let worker = NaN;
  let child = NaN;
  try {
    await waitFor(() => exists(join(pids, "pids")) || exit !== undefined, 20_000);
    assert.is(exit, undefined, `the CLI ended before the step started:\n${output}`);
    [worker, child] = readFileSync(join(pids, "pids"), "utf8").split(" ").map(Number);
    assert.ok(alive(worker) && alive(child), "running before the interrupt");
    cli.kill("SIGINT");
    await waitFor(() => exit !== undefined, 10_000).catch(() => assert.unreachable(`no exit after SIGINT:\n${output}`));
    assert.is(exit, 130, output);
    assert.match(output, /interrupted/);
    assert.not.match(output, /internal error/);
    await waitFor(() => !alive(worker) && !alive(child) && !groupAlive(worker), 5_000).catch(() =>
      assert.unreachable(`left behind: worker ${alive(worker)}, child ${alive(child)}, group ${groupAlive(worker)}`),
    );
    assert.not.ok(exists(join(ws, "data/sleepy/v0")));
  } finally {
    if (exit === undefined) cli.kill("SIGKILL");
    for (const pid of [worker, child]) if (Number.isInteger(pid) && pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
  }
});

// ---------------------------------------------------------------------------------------------
// 4. Which interpreter

const SHOW_EXECUTABLE = "import os, sys\n\ndef s(data):\n    return data, {'executable': sys.executable, 'prefix': sys.prefix, 'wrapped': os.environ.get('CZ_WRAPPED', 'no')}\n";

const interpreters = once(async () => {
  const ws = makeWorkspace({
    "experiments/pinned/config.yaml": "steps: [s]\npython: ./py\n",
    "experiments/pinned/steps.py": SHOW_EXECUTABLE,
    "experiments/command/config.yaml": "steps: [s]\npython: python3\n",
    "experiments/command/steps.py": SHOW_EXECUTABLE,
    "experiments/wrapped/config.yaml": "steps: [s]\npython: ./py.sh\n",
    "experiments/wrapped/py.sh": '#!/bin/sh\nCZ_WRAPPED=yes exec python3 "$@"\n',
    "experiments/wrapped/steps.py": SHOW_EXECUTABLE,
    "experiments/default/config.yaml": "steps: [s]\n",
    "experiments/default/steps.py": SHOW_EXECUTABLE,
  });
  chmodSync(join(ws, "experiments/wrapped/py.sh"), 0o755);
  symlinkSync(PYTHON3, join(ws, "experiments/pinned/py"));
  execFileSync(PYTHON3, ["-m", "venv", "--without-pip", join(ws, ".venv")]);
  return { ws, r: await run(["build"], ws) };
});

test("interpreter: `python:` as a path (relative to the experiment) or a command; else the workspace .venv", async () => {
  const { ws, r } = await interpreters();
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "pinned").metrics.executable, [join(ws, "experiments/pinned/py")]);
  assert.equal(results(ws, "command").metrics.executable, [join(FAST_BIN, "python3")]);
  assert.equal(results(ws, "default").metrics.executable, [join(ws, ".venv/bin/python")]);
  assert.equal(results(ws, "default").metrics.prefix, [join(ws, ".venv")]);
});

test("interpreter: a wrapper script given as `python:` is what runs the steps (its environment reaches them)", async () => {
  const { ws, r } = await interpreters();
  assert.is(r.code, 0, r.output);
  assert.equal(results(ws, "wrapped").metrics.wrapped, ["yes"]);
});

test("interpreter: a missing one, or a program that is not Python, is a config error naming config.yaml (exit 2)", async () => {
  const ws = makeWorkspace({
    "experiments/e/config.yaml": "steps: [s]\npython: ./nope/python\n",
    "experiments/e/steps.py": SHOW_EXECUTABLE,
  });
  const missing = await run(["build"], ws);
  assert.is(missing.code, 2, missing.output);
  assert.match(missing.stderr, /experiments\/e\/config\.yaml:2/);
  assert.match(missing.stderr, /\.\/nope\/python` not found/);
  writeFiles(ws, { "experiments/e/config.yaml": "steps: [s]\npython: \"true\"\n" }); // /usr/bin/true: runs, answers nothing
  const notPython = await run(["build"], ws);
  assert.is(notPython.code, 2, notPython.output);
  assert.match(notPython.stderr, /experiments\/e\/config\.yaml:2/);
  for (const r of [missing, notPython]) assert.not.match(r.output, /internal error|\n\s+at /);
});

// ---------------------------------------------------------------------------------------------
// 5. Mixed graphs

const MIXED = {
  // Python producer: one output read through its loader, one read as bytes.
  "experiments/pyprod/config.yaml": "outputs:\n  summary: {file_name: summary.json, writer: dump_json, loader: load_json}\n  raw: {file_name: raw.json, writer: dump_json}\nsteps: [produce]\n",
  "experiments/pyprod/outputs.py": "import json\n\ndef dump_json(payload):\n    return json.dumps(payload).encode('utf-8')\n\ndef load_json(path):\n    return json.loads(path.read_text())\n",
  "experiments/pyprod/steps.py": "def produce(data, *, summary, raw):\n    summary.write({'total': 6})\n    raw.write({'total': 7})\n    return data\n",
  "experiments/tscons/config.yaml": "datasource:\n  s: pyprod#summary\nsteps: [inspect]\n",
  "experiments/tscons/steps.ts": 'export const inspect = (data: any, ctx: any) => { ctx.metrics.add("total", data.s.total); return data; };\n',
  "experiments/tsraw/config.yaml": "datasource:\n  s: pyprod#raw\nsteps: [inspect]\n",
  "experiments/tsraw/steps.ts": 'export const inspect = (data: any, ctx: any) => { ctx.metrics.add("total", JSON.parse(Buffer.from(data.s).toString("utf8")).total); return data; };\n',
  // TypeScript producer, the same two ways.
  "experiments/tsprod/config.yaml": "outputs:\n  summary: {file_name: summary.json, writer: dump_json, loader: load_json}\n  raw: {file_name: raw.json, writer: dump_json}\nsteps: [produce]\n",
  "experiments/tsprod/outputs.ts": 'import { readFileSync } from "node:fs";\nexport const dump_json = (payload: unknown) => JSON.stringify(payload);\nexport const load_json = (path: string) => JSON.parse(readFileSync(path, "utf8"));\n',
  "experiments/tsprod/steps.ts": 'export const produce = (data: unknown, ctx: any) => { ctx.outputs.summary.write({ total: 8 }); ctx.outputs.raw.write({ total: 9 }); return data; };\n',
  "experiments/pycons/config.yaml": "datasource:\n  s: tsprod#summary\nsteps: [inspect]\n",
  "experiments/pycons/steps.py": "def inspect(data):\n    return data, {'total': data['s']['total']}\n",
  "experiments/pyraw/config.yaml": "datasource:\n  s: tsprod#raw\nsteps: [inspect]\n",
  "experiments/pyraw/steps.py": "import json\n\ndef inspect(data):\n    return data, {'total': json.loads(data['s'])['total'], 'type': type(data['s']).__name__}\n",
  // Python -> Python, with a loader that lives in a sibling module of the producer's outputs.py.
  "experiments/pycodec/config.yaml": "outputs:\n  o: {file_name: o.json, writer: dump, loader: load}\nsteps: [produce]\n",
  "experiments/pycodec/outputs.py": "from codec import dump, load\n",
  "experiments/pycodec/codec.py": "import json\n\ndef dump(value):\n    return json.dumps(value)\n\ndef load(path):\n    return json.loads(path.read_text())\n",
  "experiments/pycodec/steps.py": "def produce(data, *, o):\n    o.write({'total': 5})\n    return data\n",
  "experiments/pyreader/config.yaml": "datasource:\n  s: pycodec#o\nsteps: [inspect]\n",
  "experiments/pyreader/steps.py": "def inspect(data):\n    return data, {'total': data['s']['total']}\n",
};

const mixed = once(async () => {
  const ws = makeWorkspace(MIXED);
  const r = await run(["build", "--keep-going"], ws);
  return { ws, r };
});

test("mixed: bytes cross the language boundary both ways (outputs without a loader)", async () => {
  const { ws, r } = await mixed();
  assert.ok(exists(join(ws, "data/tsraw/v0")), r.output);
  assert.equal(results(ws, "tsraw").metrics.total, [7]);
  assert.equal(results(ws, "pyraw").metrics, { total: [9], type: ["bytes"] });
});

test("loaders: an upstream's outputs.py may import its own sibling modules (read from another experiment's worker)", async () => {
  const { ws, r } = await mixed();
  assert.not.match(r.output, /pyreader[^\n]*failed/, r.output);
  assert.equal(results(ws, "pyreader").metrics.total, [5]);
});

test("mixed: Python producer -> TypeScript consumer, through the producer's writer and loader", async () => {
  const { ws, r } = await mixed();
  assert.not.match(r.output, /tscons[^\n]*failed/, r.output);
  assert.equal(results(ws, "tscons").metrics.total, [6]);
});

test("mixed: TypeScript producer -> Python consumer, through the producer's writer and loader", async () => {
  const { ws, r } = await mixed();
  assert.not.match(r.output, /pycons[^\n]*failed/, r.output);
  assert.equal(results(ws, "pycons").metrics.total, [8]);
});

test("watch: editing a Python step rebuilds that experiment and its consumers, nothing else", async () => {
  const ws = copyFixture("tutorial-python");
  assert.is((await run(["build", "consumer"], ws)).code, 0);
  const child = spawn(process.execPath, [BIN, "watch"], { cwd: ws, env: { ...process.env, CI: "true", NO_COLOR: "1", ...FAST }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  try {
    const cycles = () => (err.match(/watching for changes/g) ?? []).length;
    await waitFor(() => cycles() >= 1, 60_000);
    const steps = join(ws, "experiments/producer/steps.py");
    writeFileSync(steps, readFileSync(steps, "utf8").replace('sum(data["numbers"])', 'sum(data["numbers"]) * 2'));
    await waitFor(() => cycles() >= 2, 60_000);
    assert.match(err, /change experiments\/producer\/steps\.py/, err);
    assert.match(err, /2 built/, err);
    assert.equal(readJson(join(ws, "data/producer", `v${latest(ws, "producer")}`, "replicate_0/baseline/summary.json")), { total: 12 });
    assert.equal(results(ws, "consumer").metrics.total_from_producer, [12]);
  } finally {
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
  }
});

test("hypotheses: a Python verifier gets the metric samples and params; one that raises fails only its hypothesis", async () => {
  const ws = makeWorkspace({
    "experiments/h/config.yaml": [
      "replicates: 3",
      "steps: [measure]",
      "treatments:",
      "  better: {delta: 1}",
      "hypotheses:",
      "  - {name: mine, verifier: compare, metrics: [score], params: {alpha: 0.2}}",
      "  - {name: broken, verifier: boom, metrics: [score]}",
      "  - {name: welch, verifier: welch_t_test, metrics: [score]}",
      "",
    ].join("\n"),
    "experiments/h/datasources.py": "from crystallize import data_source\n\n@data_source\ndef src(ctx):\n    return 0\n",
    "experiments/h/steps.py": "from crystallize import pipeline_step\n\n@pipeline_step()\ndef measure(data, replicate, delta=0):\n    return data, {\"score\": replicate + delta}\n",
    "experiments/h/verifiers.py": [
      "from crystallize import verifier",
      "",
      "@verifier",
      "def compare(baseline, treatment, alpha=0.05):",
      "    return {'p_value': 0.01, 'significant': True, 'alpha': alpha, 'seen': [baseline['score'], treatment['score']]}",
      "",
      "def boom(baseline, treatment):",
      "    raise ValueError('no verdict')",
      "",
    ].join("\n"),
  });
  const r = await run(["build"], ws);
  assert.is(r.code, 0, r.output);
  const file = readJson(join(ws, "data/h/v0/hypotheses.json"));
  const byName = Object.fromEntries(file.hypotheses.map((h: { name: string }) => [h.name, h]));
  assert.equal(byName.mine.results.better.result, { p_value: 0.01, significant: true, alpha: 0.2, seen: [[0, 1, 2], [1, 2, 3]] });
  assert.is(byName.mine.best, "better");
  assert.is(byName.broken.results.better.ok, false);
  assert.match(byName.broken.results.better.error, /ValueError: no verdict.*verifiers\.py:8/);
  assert.is(byName.welch.results.better.ok, true, "the other hypotheses still have verdicts");
  assert.match(r.output, /error: ValueError: no verdict/);
});

test.run();
