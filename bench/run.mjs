// Benchmarks of the incremental engine. Prints medians of several runs; run with
//   npm run bench            (N=50 and N=500)
//   npm run bench -- --quick (N=50 only, fewer repetitions)
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { layeredLevels, writeWorkspace } from "./workspace.mjs";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "crystallize.js");
const quick = process.argv.includes("--quick");
const REPS = quick ? 3 : 5;

function cli(ws, args, env = {}) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ws, encoding: "utf8", env: { ...process.env, CI: "true", ...env }, maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0 && !args.includes("--frozen")) throw new Error(`crystallize ${args.join(" ")} failed in ${ws}:\n${r.stdout}\n${r.stderr}`);
  return { ms, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Units that actually ran in a build, from its --json document. */
function ranIn(ws, args = []) {
  const r = cli(ws, ["build", "--json", ...args]);
  const doc = JSON.parse(r.stdout);
  return { ms: r.ms, experiments: doc.experiments.filter((e) => e.units.ran > 0).length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const rows = [];
function row(name, value, note = "") {
  rows.push([name, value, note]);
  console.log(`${name.padEnd(52)} ${String(value).padStart(10)}  ${note}`);
}

const workspaces = [];
function fresh(levels, opts) {
  const ws = mkdtempSync(join(tmpdir(), "cz-bench-"));
  workspaces.push(ws);
  writeWorkspace(ws, levels, opts);
  return ws;
}

/**
 * Workspaces are removed when the benchmark ends, not between measurements: on ext4 without a
 * journal (our CI machines) the inode allocator skips every inode freed in the last minute,
 * and deleting a 500-experiment workspace made the next cold build's file creations measurably
 * slower. What is measured is the tool, not the cleanup of the previous measurement.
 */
process.on("exit", () => {
  for (const ws of workspaces) rmSync(ws, { recursive: true, force: true });
});

function downstreamCone(ws, root) {
  const graph = JSON.parse(cli(ws, ["graph", "--format", "json"]).stdout);
  const down = new Map();
  for (const e of graph.edges) down.set(e.from, [...(down.get(e.from) ?? []), e.to]);
  const seen = new Set([root]);
  const stack = [root];
  while (stack.length) for (const d of down.get(stack.pop()) ?? []) if (!seen.has(d)) (seen.add(d), stack.push(d));
  return seen.size;
}

function layered(n) {
  console.log(`\n== layered graph, N=${n}, 10 levels, 1-3 parents each, trivial steps`);
  const levels = layeredLevels(n);
  const colds = [];
  let ws;
  // As many at N=500 as at N=50: three cold builds on this drifting machine gave medians 0.2 s
  // apart within an hour, against a target 0.25 s above them.
  for (let i = 0; i < REPS; i++) {
    ws = fresh(levels);
    colds.push(cli(ws, ["build"]).ms);
  }
  row(`cold build N=${n}`, fmt(median(colds)), `median of ${colds.length}`);
  const noops = Array.from({ length: REPS + 1 }, () => cli(ws, ["build"]).ms).slice(1);
  row(`no-op build N=${n}`, fmt(median(noops)), `median of ${noops.length}`);
  const node0 = median(Array.from({ length: REPS }, () => { const t = performance.now(); spawnSync(process.execPath, ["-e", "0"]); return performance.now() - t; }));
  row(`  (node -e 0 on this machine)`, fmt(node0), `no-op / node start = ${(median(noops) / node0).toFixed(2)}`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    // Set on our sandboxes: every Node process then reads and parses a certificate bundle as it
    // starts, ~45 ms here. What a machine without it sees (a stamp counts NODE_* variables, so
    // the first run stamps this environment).
    const bare = { NODE_EXTRA_CA_CERTS: undefined };
    cli(ws, ["build"], bare);
    const bareNoops = Array.from({ length: REPS }, () => cli(ws, ["build"], bare).ms);
    const bareNode = median(Array.from({ length: REPS }, () => { const t = performance.now(); spawnSync(process.execPath, ["-e", "0"], { env: { ...process.env, ...bare } }); return performance.now() - t; }));
    row(`  no-op build N=${n}, NODE_EXTRA_CA_CERTS unset`, fmt(median(bareNoops)), `node -e 0 with it unset: ${fmt(bareNode)}`);
  }
  const checks = Array.from({ length: REPS + 1 }, () => cli(ws, ["check"]).ms).slice(1);
  row(`check N=${n}`, fmt(median(checks)), `median of ${checks.length}`);
  // What a git pre-commit hook runs: git sets a new GIT_AUTHOR_DATE for every commit and puts
  // its own folder first on PATH. The check never reads them, so the stamp still answers.
  const hook = () => ({ GIT_AUTHOR_DATE: `@${Math.floor(Date.now() / 1000)} +0000`, GIT_INDEX_FILE: ".git/index", GIT_EDITOR: ":", PATH: `/usr/lib/git-core:${process.env.PATH}` });
  const hooked = Array.from({ length: REPS }, () => cli(ws, ["check"], hook()).ms);
  row(`check N=${n}, in a git hook's environment`, fmt(median(hooked)), `median of ${hooked.length}`);
  // The same two commands with stamps off: what they cost when something changed since the
  // last identical run (the engine plans everything, stat cache warm).
  const engine = { CRYSTALLIZE_NO_STAMP: "1" };
  row(`  no-op build N=${n}, engine (no stamp)`, fmt(median(Array.from({ length: REPS }, () => cli(ws, ["build"], engine).ms))), `median of ${REPS}`);
  row(`  check N=${n}, engine (no stamp)`, fmt(median(Array.from({ length: REPS }, () => cli(ws, ["check"], engine).ms))), `median of ${REPS}`);
  commitCycle(ws, levels);

  const root = levels[0][0];
  const steps = join(ws, "experiments", root, "steps.ts");
  const original = readFileSync(steps, "utf8");
  appendFileSync(steps, "// a comment only\n");
  const comment = ranIn(ws);
  row(`comment-only edit of ${root}: experiments rerun`, comment.experiments, `${fmt(comment.ms)} (target 0)`);
  writeFileSync(steps, original.replace("return data;", "const unused = 1;\n  return data;"));
  const same = ranIn(ws);
  row(`edit of ${root} with identical output: experiments rerun`, same.experiments, `${fmt(same.ms)} (target 1: early cutoff)`);
  writeFileSync(steps, original.replace("let h = 7;", "let h = 8;"));
  const cone = downstreamCone(ws, root);
  const edit = ranIn(ws);
  row(`code edit of ${root}: experiments rerun`, edit.experiments, `${fmt(edit.ms)} (its downstream cone: ${cone})`);
}

/** Milliseconds of one CLI run that may exit 1 (a check that finds the lock out of date). */
function timed(ws, args) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ws, encoding: "utf8", env: { ...process.env, CI: "true" } });
  if (r.status !== 0 && r.status !== 1) throw new Error(`crystallize ${args.join(" ")} failed in ${ws}:\n${r.stdout}\n${r.stderr}`);
  return { ms: performance.now() - t, status: r.status };
}

/**
 * The pre-commit flow: a leaf's code is edited; `check` fails until a build; the build
 * rewrites the lock; the commit's hook runs `check`. With a hook installed (`crystallize hook
 * install`), the build leaves check's stamp (lib/cli/prestamp.ts); without, the hook's first
 * check runs the engine. Builds with and without the hook alternate, on the same edits.
 */
function commitCycle(ws, levels) {
  const leaf = levels.at(-1)[0];
  const steps = join(ws, "experiments", leaf, "steps.ts");
  const original = readFileSync(steps, "utf8");
  execFileSync("git", ["init", "-q", ws]);
  cli(ws, ["hook", "install"]);
  const hookFile = join(ws, ".git", "hooks", "pre-commit");
  const hookText = readFileSync(hookFile, "utf8");
  const result = { true: { build: [], check: [] }, false: { build: [], check: [] } };
  const stale = [];
  for (let i = 0; i < REPS; i++) {
    for (const hooked of [true, false]) {
      if (hooked) writeFileSync(hookFile, hookText);
      else rmSync(hookFile);
      writeFileSync(steps, original.replace("return data;", `const edit = ${i * 2 + Number(hooked)};\n  return data;`));
      // Past the stat cache's racy window, as an edit some seconds before a build would be.
      spawnSync("sleep", ["1.6"]);
      if (hooked) {
        // The first check runs the engine and leaves a stamp; the second replays it.
        const runs = [timed(ws, ["check"]), timed(ws, ["check"])];
        if (runs.some((r) => r.status !== 1)) throw new Error("check passed after an edit");
        stale.push(runs[1].ms);
      }
      result[hooked].build.push(cli(ws, ["build"]).ms);
      result[hooked].check.push(cli(ws, ["check"]).ms);
    }
  }
  writeFileSync(steps, original);
  rmSync(join(ws, ".git"), { recursive: true });
  cli(ws, ["build"]);
  const n = levels.flat().length;
  row(`  check N=${n} after an edit, second run (exit 1)`, fmt(median(stale)), `replayed; median of ${stale.length}`);
  row(`edit, build, check N=${n} with the hook installed: check`, fmt(median(result.true.check)), `without: ${fmt(median(result.false.check))}`);
  row(`  the same: build (1 experiment reruns)`, fmt(median(result.true.build)), `without the hook: ${fmt(median(result.false.build))}`);
}

/**
 * A tighter lower bound for unit steps of `stepMs` on `jobs` slots: an experiment cannot start
 * before all its ancestors are done, which on `jobs` slots takes at least the exact optimum
 * of scheduling them alone (searched over every order, for experiments with at most 12
 * ancestors), and what hangs below it takes its longest path after. The bound,
 * max(critical path, work / jobs), ignores that the chain's ancestors cannot all run at once.
 */
function tighterBound(ws, names, jobs, stepMs) {
  const ups = new Map(names.map((n) => [n, [...readFileSync(join(ws, "experiments", n, "config.yaml"), "utf8").matchAll(/(\w+)#o/g)].map((m) => m[1])]));
  const downs = new Map(names.map((n) => [n, names.filter((d) => ups.get(d).includes(n))]));
  const height = new Map();
  const below = (n) => height.get(n) ?? (height.set(n, 1 + Math.max(0, ...downs.get(n).map(below))), height.get(n));
  const ancestors = (n, seen = new Set()) => (ups.get(n).forEach((u) => seen.has(u) || (seen.add(u), ancestors(u, seen))), seen);
  let best = 0;
  for (const n of names) {
    const anc = [...ancestors(n)];
    if (anc.length === 0 || anc.length > 12) continue;
    const bit = new Map(anc.map((a, i) => [a, 1 << i]));
    const all = (1 << anc.length) - 1;
    let frontier = new Set([0]);
    let steps = 0;
    while (!frontier.has(all)) {
      const next = new Set();
      for (const done of frontier) {
        const ready = anc.filter((a) => !(done & bit.get(a)) && ups.get(a).every((u) => done & bit.get(u)));
        const pick = (from, left, acc) => (left === 0 || from === ready.length ? next.add(acc) : (pick(from + 1, left - 1, acc | bit.get(ready[from])), ready.length - from > left && pick(from + 1, left, acc)));
        pick(0, Math.min(jobs, ready.length), done);
      }
      frontier = next;
      steps++;
    }
    best = Math.max(best, steps + below(n));
  }
  return Math.max(best * stepMs, names.length * stepMs / jobs);
}

function unbalanced() {
  console.log("\n== unbalanced graph: levels of 1, 16, 8, then a chain of 10; 200 ms steps");
  const names = (p, n) => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(2, "0")}`);
  const levels = [names("a", 1), names("b", 16), names("c", 8), ...names("d", 10).map((n) => [n])];
  const stepMs = 200;
  const total = 35 * stepMs;
  const critical = levels.length * stepMs;
  for (const jobs of [2, 4]) {
    const bound = Math.max(critical, total / jobs);
    for (const scheduler of ["critical-path", "fifo"]) {
      const walls = [];
      const sched = [];
      for (let i = 0; i < REPS; i++) {
        const ws = fresh(levels, { stepMs, seed: 7 });
        const r = cli(ws, ["build", "--json", "-j", String(jobs)], { CRYSTALLIZE_SCHEDULER: scheduler });
        walls.push(r.ms);
        sched.push(JSON.parse(r.stdout).schedulingMs);
      }
      const note = scheduler === "fifo" ? "baseline: FIFO ready queue" : "";
      row(`-j ${jobs} ${scheduler}: scheduling / lower bound`, (median(sched) / bound).toFixed(2), `${fmt(median(sched))} vs ${fmt(bound)}: first unit start to end ${note}`);
      if (scheduler === "critical-path") {
        const tight = tighterBound(fresh(levels, { stepMs, seed: 7 }), levels.flat(), jobs, stepMs);
        row(`-j ${jobs} ${scheduler}: scheduling / tighter bound`, (median(sched) / tight).toFixed(2), `the best any scheduler can do here is ${fmt(tight)} = ${(tight / bound).toFixed(3)} of the lower bound (see tighterBound)`);
      }
      row(`-j ${jobs} ${scheduler}: whole process / lower bound`, (median(walls) / bound).toFixed(2), `${fmt(median(walls))}: includes Node, planning, worker start-up`);
    }
  }
}

function bigOutputs() {
  console.log("\n== 20 experiments with 50 MB outputs each (1 GB)");
  const levels = [Array.from({ length: 20 }, (_, i) => `big${String(i).padStart(2, "0")}`)];
  const ws = fresh(levels, { outputBytes: 50 * 1024 * 1024 });
  const cold = cli(ws, ["build", "-j", "2"]).ms;
  row("cold build, 1 GB of outputs", fmt(cold));
  // The kernel is still writing that gigabyte back to disk: a stat then waited behind it (a
  // no-op measured 211 ms right after, 149 ms once written back). Measure the tool, not that.
  execFileSync("sync");
  const noops = Array.from({ length: REPS + 1 }, () => cli(ws, ["build"]).ms).slice(1);
  row("no-op build, 1 GB of outputs", fmt(median(noops)), `median of ${noops.length} (target <= 150 ms)`);
  const engine = Array.from({ length: REPS }, () => cli(ws, ["build"], { CRYSTALLIZE_NO_STAMP: "1" }).ms);
  row("  no-op build, 1 GB of outputs, engine (no stamp)", fmt(median(engine)), `median of ${engine.length}`);
}

console.log(`crystallize benchmarks, node ${process.version}, ${new Date().toISOString()}`);
execFileSync("nproc", { stdio: "inherit" });
layered(50);
if (!quick) layered(500);
unbalanced();
if (!quick) bigOutputs();
