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
  for (let i = 0; i < (n >= 500 ? 3 : REPS); i++) {
    ws = fresh(levels);
    colds.push(cli(ws, ["build"]).ms);
  }
  row(`cold build N=${n}`, fmt(median(colds)), `median of ${colds.length}`);
  const noops = Array.from({ length: REPS + 1 }, () => cli(ws, ["build"]).ms).slice(1);
  row(`no-op build N=${n}`, fmt(median(noops)), `median of ${noops.length}`);
  const node0 = median(Array.from({ length: REPS }, () => { const t = performance.now(); spawnSync(process.execPath, ["-e", "0"]); return performance.now() - t; }));
  row(`  (node -e 0 on this machine)`, fmt(node0), `no-op / node start = ${(median(noops) / node0).toFixed(2)}`);
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
