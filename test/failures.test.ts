// End-to-end tests of how a build fails: a step's exception (with the user's .ts stack, under
// both module systems), a worker that exits, runs out of memory or is killed, an output never
// written, Ctrl-C with a grandchild process, --fail-fast and a failing replicate.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exists, makeWorkspace, readJson, runCli, startCli, waitFor } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// Building blocks

/** A producer with one output `o` (o.txt) written by its only step. */
const PRODUCER = {
  config: "outputs:\n  o:\n    file_name: o.txt\nsteps: [w]\n",
  steps: 'export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write("x"); return d; };\n',
};

/** A minimal experiment that records one metric. */
const SIMPLE = {
  config: "steps: [s]\n",
  steps: 'export const s = (data: unknown, ctx: any) => { ctx.metrics.add("m", 1); return data; };\n',
};

/** An experiment reading `<upstream>#o`. */
function consumerOf(upstream: string) {
  return {
    config: `datasource:\n  x: ${upstream}#o\nsteps: [s]\n`,
    steps: SIMPLE.steps,
  };
}

function experiment(name: string, e: { config: string; steps: string }): Record<string, string> {
  return { [`experiments/${name}/config.yaml`]: e.config, [`experiments/${name}/steps.ts`]: e.steps };
}

/**
 * A steps.ts whose throw sits on line 9, after type-only declarations that the TypeScript
 * loader erases (and, in CommonJS, after the preamble it adds): without working source maps
 * the reported line would not be 9.
 */
const THROWING_STEPS = [
  "interface Reason {", //                                                   1
  "  why: string;", //                                                       2
  "  code: number;", //                                                      3
  "}", //                                                                    4
  "type Maybe<T> = T | undefined;", //                                       5
  "", //                                                                     6
  "function explode(reason: Reason, extra: Maybe<string>): never {", //     7
  '  const text: string = `${reason.why}${extra ?? ""}`;', //               8
  "  throw new Error(text);", //                                             9
  "}", //                                                                   10
  "", //                                                                    11
  "export const fail = (data: unknown, ctx: any): unknown => {", //        12
  '  explode({ why: "boom", code: 1 }, undefined);', //                    13
  "  return data;", //                                                      14
  "};", //                                                                  15
  "",
].join("\n");

/** bad (throws, has output o) -> consumer; good is independent. */
function throwingWorkspace(extra: Record<string, string> = {}): string {
  return makeWorkspace({
    ...experiment("bad", { config: "outputs:\n  o:\n    file_name: o.txt\nsteps: [fail]\n", steps: THROWING_STEPS }),
    ...experiment("consumer", consumerOf("bad")),
    ...experiment("good", SIMPLE),
    ...extra,
  });
}

/** Files (not folders) anywhere below `dir`; empty when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!exists(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath, d.name));
}

/** `.v-tmp-*` folders in any experiment folder of `data/`. */
function versionTemps(dataDir: string): string[] {
  if (!exists(dataDir)) return [];
  const found: string[] = [];
  for (const exp of readdirSync(dataDir)) {
    if (exp.startsWith(".")) continue;
    for (const name of readdirSync(join(dataDir, exp))) if (name.startsWith(".v-tmp-")) found.push(join(exp, name));
  }
  return found;
}

/**
 * True while `pid` is a live process. A zombie (exited, not yet reaped by its new parent) counts
 * as dead: it runs nothing, and reaping orphans is init's job, not the tool's.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function assertNoToolFrames(output: string): void {
  assert.not.match(output, /dist\/lib/, "no stack frame from the tool's own files");
  assert.not.match(output, /node:internal/, "no frame from Node's internals");
  assert.not.match(output, /node_modules\/tsx/, "no frame from the TypeScript loader");
  assert.not.match(output, /internal error/, "not reported as an internal error");
}

// ---------------------------------------------------------------------------------------------
// 1, 2: a step's exception

async function assertThrowingBuild(ws: string): Promise<void> {
  const r = await runCli(["build"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ bad failed/, r.output);
  assert.match(r.stderr, /baseline\/replicate_0: boom/, r.output);
  // The throw on line 9 of the user's .ts file, then its caller on line 13.
  assert.match(r.stderr, /experiments\/bad\/steps\.ts:9:\d+/, r.output);
  assert.match(r.stderr, /experiments\/bad\/steps\.ts:13:\d+/, r.output);
  assert.ok(r.stderr.indexOf("steps.ts:9:") < r.stderr.indexOf("steps.ts:13:"), "innermost frame first");
  assert.not.match(r.stderr, /steps\.js/, "frames name the .ts source, not transpiled code");
  assertNoToolFrames(r.output);
  // The downstream consumer is skipped; the independent experiment builds.
  assert.match(r.stderr, /- consumer skipped \(upstream bad did not build\)/, r.output);
  assert.match(r.stderr, /✓ good\s+v0/, r.output);
  assert.ok(exists(join(ws, "data/good/v0/metadata.json")), "good/v0 written");
  assert.equal(readJson(join(ws, "data/good/v0/baseline/results.json")).metrics.m, [1]);
  assert.not.ok(exists(join(ws, "data/bad/v0")), "no version for the failed experiment");
  assert.not.ok(exists(join(ws, "data/consumer")), "no data folder for the skipped consumer");
  assert.match(r.stdout, /build failed: 1 built, 1 failed, 1 skipped/, r.output);
  assert.equal(filesUnder(join(ws, "data/.tmp")), [], "no staged files left");
  assert.equal(versionTemps(join(ws, "data")), [], "no half-assembled version folder");
}

test("a step's exception: exit 1, the user's .ts line, downstream skipped, independent work built (CommonJS)", async () => {
  await assertThrowingBuild(throwingWorkspace());
});

test("a step's exception in an ESM workspace (package.json type: module) points at the same .ts line", async () => {
  await assertThrowingBuild(throwingWorkspace({ "package.json": JSON.stringify({ name: "ws", private: true, type: "module" }, null, 2) + "\n" }));
});

// ---------------------------------------------------------------------------------------------
// 3, 4, 5: the worker process dies

test("a step that calls process.exit: exit 1, says the worker exited; the pool replaces the worker", async () => {
  const pids = mkdtempSync(join(tmpdir(), "cz-pids-"));
  const ws = makeWorkspace({
    ...experiment("a_exits", {
      config: "steps: [bye]\n",
      steps: `import { writeFileSync } from "node:fs";\nexport const bye = (d: unknown): unknown => { writeFileSync(${JSON.stringify(join(pids, "a"))}, String(process.pid)); process.exit(3); };\n`,
    }),
    ...experiment("b_later", {
      config: "steps: [s]\n",
      steps: `import { writeFileSync } from "node:fs";\nexport const s = (d: unknown, ctx: any): unknown => { writeFileSync(${JSON.stringify(join(pids, "b"))}, String(process.pid)); ctx.metrics.add("m", 1); return d; };\n`,
    }),
  });
  const r = await runCli(["build", "-j", "1"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ a_exits failed/, r.output);
  assert.match(r.stderr, /baseline\/replicate_0: the worker process exited with code 3/, r.output);
  assert.ok(r.stderr.indexOf("✗ a_exits failed") < r.stderr.indexOf("✓ b_later"), "b_later finished after the crash, on the same -j 1 slot");
  assert.match(r.stderr, /✓ b_later\s+v0/, r.output);
  assert.ok(exists(join(ws, "data/b_later/v0/metadata.json")));
  assert.not.ok(exists(join(ws, "data/a_exits/v0")));
  // b_later ran in a fresh worker, not the one that exited.
  assert.is.not(readFileSync(join(pids, "b"), "utf8"), readFileSync(join(pids, "a"), "utf8"));
  assert.match(r.stdout, /build failed: 1 built, 1 failed/, r.output);
  assertNoToolFrames(r.output);
});

test("a step that runs out of memory (worker_memory_mb: 32): exit 1, 'ran out of memory', quickly", async () => {
  const ws = makeWorkspace({
    "crystallize.yaml": "worker_memory_mb: 32\n",
    ...experiment("hog", {
      config: "steps: [grow]\n",
      steps: [
        "const hoard: number[][] = [];",
        "export const grow = (d: unknown): unknown => {",
        "  for (;;) hoard.push(new Array(100_000).fill(hoard.length + 0.5));",
        "};",
        "",
      ].join("\n"),
    }),
    ...experiment("other", SIMPLE),
  });
  const started = Date.now();
  const r = await runCli(["build", "-j", "1"], ws);
  const elapsed = Date.now() - started;
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ hog failed/, r.output);
  assert.match(r.stderr, /ran out of memory/, r.output);
  assert.match(r.stderr, /✓ other\s+v0/, r.output);
  assert.not.ok(exists(join(ws, "data/hog/v0")));
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  assertNoToolFrames(r.output);
});

test("a step that SIGKILLs its own process: exit 1, 'killed by SIGKILL'", async () => {
  const ws = makeWorkspace({
    ...experiment("suicide", { config: "steps: [die]\n", steps: 'export const die = (d: unknown): unknown => { process.kill(process.pid, "SIGKILL"); return d; };\n' }),
    ...experiment("survivor", SIMPLE),
  });
  const r = await runCli(["build", "-j", "1"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ suicide failed/, r.output);
  assert.match(r.stderr, /killed by SIGKILL/, r.output);
  assert.match(r.stderr, /✓ survivor\s+v0/, r.output);
  assert.not.ok(exists(join(ws, "data/suicide/v0")));
  assertNoToolFrames(r.output);
});

// ---------------------------------------------------------------------------------------------
// 6: an output never written

test("a declared output that no step writes fails the experiment, naming the output", async () => {
  const ws = makeWorkspace({
    ...experiment("forgetful", {
      config: "outputs:\n  summary:\n    file_name: summary.json\nsteps: [s]\n",
      steps: SIMPLE.steps,
    }),
    ...experiment("down", { config: "datasource:\n  x: forgetful#summary\nsteps: [s]\n", steps: SIMPLE.steps }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ forgetful failed/, r.output);
  assert.match(r.stderr, /`summary`/, r.output);
  assert.match(r.stderr, /never written/, r.output);
  assert.match(r.stderr, /- down skipped \(upstream forgetful did not build\)/, r.output);
  assert.not.ok(exists(join(ws, "data/forgetful/v0")));
  assertNoToolFrames(r.output);
});

test("an import that resolves nowhere fails the unit with Node's message, minus crystallize's own files", async () => {
  const ws = makeWorkspace({
    ...experiment("local", { config: SIMPLE.config, steps: 'import { x } from "./nothere";\nexport const s = () => x;\n' }),
    ...experiment("pkg", { config: SIMPLE.config, steps: 'import x from "no-such-package-here";\nexport const s = () => x;\n' }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /Cannot find module '\.\/nothere'/, r.output);
  assert.match(r.stderr, /Cannot find module 'no-such-package-here'/, r.output);
  assert.match(r.stderr, /- \S*experiments\/pkg\/steps\.ts/, "the user's file stays in the require stack");
  assert.not.match(r.output, /dist\/lib\/runtime|worker-bundle/, r.output);
  assertNoToolFrames(r.output);
});

// ---------------------------------------------------------------------------------------------
// 7: Ctrl-C

test("Ctrl-C: exit 130, worker and grandchild killed, nothing half-written, finished work kept", async () => {
  const pids = mkdtempSync(join(tmpdir(), "cz-pids-"));
  const ws = makeWorkspace({
    ...experiment("fast", PRODUCER),
    ...experiment("slow", {
      config: "datasource:\n  x: fast#o\noutputs:\n  p:\n    file_name: p.txt\nsteps: [hang]\n",
      steps: [
        'import { spawn } from "node:child_process";',
        'import { renameSync, writeFileSync } from "node:fs";',
        `const PIDS: string = ${JSON.stringify(pids)};`,
        "const note = (name: string, pid: number | undefined): void => {",
        "  writeFileSync(`${PIDS}/${name}.tmp`, String(pid));",
        "  renameSync(`${PIDS}/${name}.tmp`, `${PIDS}/${name}`);",
        "};",
        "export const hang = async (data: unknown, ctx: any): Promise<unknown> => {",
        '  ctx.outputs.p.write("partial");',
        '  const child = spawn("sleep", ["60"], { stdio: "ignore" });',
        '  note("worker", process.pid);',
        '  note("grandchild", child.pid);',
        "  await new Promise((r) => setTimeout(r, 60_000));",
        "  return data;",
        "};",
        "",
      ].join("\n"),
    }),
  });
  const cli = startCli(["build", "-j", "1"], ws);
  let stderr = "";
  let stdout = "";
  cli.stderr!.on("data", (c) => (stderr += c));
  cli.stdout!.on("data", (c) => (stdout += c));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  cli.on("exit", (code, signal) => (exit = { code, signal }));
  let worker = NaN;
  let grandchild = NaN;
  try {
    await waitFor(() => exists(join(pids, "grandchild")) || exit !== undefined, 20_000);
    assert.is(exit, undefined, `the CLI ended before the step started:\n${stderr}${stdout}`);
    worker = Number(readFileSync(join(pids, "worker"), "utf8"));
    grandchild = Number(readFileSync(join(pids, "grandchild"), "utf8"));
    assert.ok(alive(worker) && alive(grandchild), "both running before the interrupt");
    assert.ok(filesUnder(join(ws, "data/.tmp")).length > 0, "slow's output is staged before the interrupt");
    assert.ok(exists(join(ws, "data/fast/v0")), "fast finished before the interrupt");

    const sent = Date.now();
    cli.kill("SIGINT");
    await waitFor(() => exit !== undefined, 5_000).catch(() => assert.unreachable(`no exit 5 s after SIGINT:\n${stderr}`));
    assert.is(exit!.code, 130, `exit ${JSON.stringify(exit)}\n${stderr}${stdout}`);
    assert.ok(Date.now() - sent < 5_000);
    assert.match(stderr, /interrupted/);
    assert.not.match(stderr + stdout, /internal error/);

    await waitFor(() => !alive(worker), 3_000).catch(() => assert.unreachable(`worker ${worker} still alive`));
    await waitFor(() => !alive(grandchild), 3_000).catch(() => assert.unreachable(`grandchild ${grandchild} (sleep 60) still alive`));

    assert.not.ok(exists(join(ws, "data/slow/v0")), "no version for the interrupted experiment");
    assert.equal(filesUnder(join(ws, "data/.tmp")), [], "no staged files left under data/.tmp");
    assert.equal(versionTemps(join(ws, "data")), [], "no .v-tmp-* folder left");
    // The experiment that finished before the interrupt keeps its complete version.
    assert.is(readFileSync(join(ws, "data/fast/v0/replicate_0/baseline/o.txt"), "utf8"), "x");
    assert.is(readJson(join(ws, "data/fast/v0/metadata.json")).version, 0);
    assert.ok(exists(join(ws, "data/fast/v0/baseline/results.json")));
  } finally {
    if (exit === undefined) cli.kill("SIGKILL");
    for (const pid of [worker, grandchild]) {
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone, as expected */
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// 8: --fail-fast

function failFastWorkspace(): string {
  return makeWorkspace({
    ...experiment("a_fails", { config: "steps: [fail]\n", steps: THROWING_STEPS }),
    ...experiment("b_independent", SIMPLE),
  });
}

test("--fail-fast -j 1: after the first failure, the independent experiment is skipped", async () => {
  const ws = failFastWorkspace();
  const r = await runCli(["build", "-j", "1", "--fail-fast"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ a_fails failed/, r.output);
  assert.match(r.stderr, /- b_independent skipped/, r.output);
  assert.not.match(r.stderr, /✓ b_independent/, r.output);
  assert.not.ok(exists(join(ws, "data/b_independent/v0")));
  assert.match(r.stdout, /build failed: 0 built, 1 failed, 1 skipped/, r.output);
});

test("without --fail-fast -j 1: the independent experiment still builds", async () => {
  const ws = failFastWorkspace();
  const r = await runCli(["build", "-j", "1"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ a_fails failed/, r.output);
  assert.match(r.stderr, /✓ b_independent\s+v0/, r.output);
  assert.ok(exists(join(ws, "data/b_independent/v0/metadata.json")));
  assert.match(r.stdout, /build failed: 1 built, 1 failed/, r.output);
});

// ---------------------------------------------------------------------------------------------
// 9: one failing replicate

test("one failing replicate of 3: exit 1, names baseline/replicate_1, no version written", async () => {
  const ws = makeWorkspace({
    ...experiment("flaky", {
      config: "replicates: 3\noutputs:\n  o:\n    file_name: o.txt\nsteps: [maybe]\n",
      steps: [
        "export const maybe = (data: unknown, ctx: any): unknown => {",
        '  if (ctx.replicate === 1) throw new Error("replicate one is broken");',
        "  ctx.outputs.o.write(`r${ctx.replicate}`);",
        '  ctx.metrics.add("m", ctx.replicate);',
        "  return data;",
        "};",
        "",
      ].join("\n"),
    }),
  });
  const r = await runCli(["build"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stderr, /✗ flaky failed: 1 of 3 units/, r.output);
  assert.match(r.stderr, /baseline\/replicate_1: replicate one is broken/, r.output);
  assert.match(r.stderr, /experiments\/flaky\/steps\.ts:2:\d+/, r.output);
  assert.not.match(r.stderr, /replicate_0:|replicate_2:/, "only the failed unit is reported");
  assert.not.ok(exists(join(ws, "data/flaky/v0")), "a failed replicate is never recorded");
  assert.equal(versionTemps(join(ws, "data")), []);
  assert.equal(filesUnder(join(ws, "data/.tmp")), [], "the good replicates' staged outputs are removed");
  assertNoToolFrames(r.output);
});

test.run();
