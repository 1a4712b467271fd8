// Progress output (issue: live progress): the pure pieces (ETA, progress rows, line fitting,
// the plain and live writers fed by hand), then the real CLI in both modes: plain timestamped
// lines without a single escape code when there is no terminal, CI or NO_COLOR; a live region
// with cursor handling under a real pseudo-terminal; the per-run log file and its pruning.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WriteStream } from "node:tty";
import { formatElapsed, formatEta, remainingMs, unitEstimate } from "../lib/report/eta.js";
import { cleanLogText } from "../lib/report/lines.js";
import { fitWidth, renderRegion, visibleWidth } from "../lib/report/live-view.js";
import { LiveReporter } from "../lib/report/live.js";
import { PlainReporter } from "../lib/report/plain.js";
import { Progress } from "../lib/report/progress.js";
import { wantsLive } from "../lib/report/reporter.js";
import { KEEP_LOGS, logFileName, RunLog } from "../lib/report/run-log.js";
import { makePaint } from "../lib/report/style.js";
import type { ExperimentResult, UnitResult } from "../lib/run/results.js";
import type { UnitKey } from "../lib/hash/keys.js";
import { BIN, makeWorkspace, runCli } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// Building blocks

const ESC = "\x1b";
const TIME = /^\d\d:\d\d:\d\d /;

function unit(condition: string, replicate: number, durationMs: number, opts: { cached?: boolean; failed?: boolean } = {}): UnitResult {
  const base = { condition, replicate, seed: 0, key: "k" as UnitKey, reads: {}, cached: opts.cached ?? false };
  if (opts.failed) return { ...base, outcome: { status: "failed", error: { name: "Error", message: "boom", stack: "    at f (experiments/x/steps.ts:1:1)" }, durationMs } };
  const record = { key: "k" as UnitKey, experiment: "x", condition, replicate, seed: 0, outputs: {}, metrics: {}, durationMs };
  return { ...base, outcome: { status: "ok", record } };
}

function built(name: string, units: UnitResult[]): ExperimentResult {
  return { name, status: "built", version: 0, view: "created", units, durationMs: 1234 };
}

/** A terminal stand-in: what was written; `resize` changes its width as a window would. */
function fakeTerminal(columns = 60, rows = 10) {
  let written = "";
  const listeners: Array<() => void> = [];
  const stream = { columns, rows, isTTY: true, write: (s: string) => ((written += s), true), on: (_: string, fn: () => void) => listeners.push(fn), off() {} };
  const resize = (to: number) => {
    stream.columns = to;
    for (const fn of listeners) fn();
  };
  return { stream: stream as unknown as WriteStream, text: () => written, resize };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One experiment `slow` whose single unit prints a line and sleeps `ms`. */
function slowWorkspace(ms = 1500): string {
  return makeWorkspace({
    "experiments/slow/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/slow/steps.ts": `export const w = async (d: unknown, ctx: any) => { console.log("slow step says hello"); await new Promise((r) => setTimeout(r, ${ms})); ctx.outputs.o.write("x"); return d; };\n`,
  });
}

/** Two experiments, the second reading the first, each printing a line; 4 replicates of the first. */
function chattyWorkspace(): string {
  return makeWorkspace({
    "experiments/up/config.yaml": "replicates: 4\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/up/steps.ts": 'export const w = (d: unknown, ctx: any) => { console.log("up is working"); ctx.outputs.o.write("u"); return d; };\n',
    "experiments/down/config.yaml": "datasource: {u: up#o}\nsteps: [w]\n",
    "experiments/down/steps.ts": 'export const w = (d: unknown, ctx: any) => { console.error("down is working"); ctx.metrics.add("m", 1); return d; };\n',
  });
}

/**
 * The CLI under a real pseudo-terminal of 100×30 (`script` alone gives 0 columns), without CI
 * or NO_COLOR: what a person at a terminal sees, escape codes included.
 */
function runInTerminal(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color" };
  delete env.CI;
  delete env.NO_COLOR;
  const command = `stty cols 100 rows 30; exec ${[process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" ")}`;
  return new Promise((resolve) => {
    execFile("script", ["-qfec", command, "/dev/null"], { cwd, env, maxBuffer: 1 << 26 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout });
    });
  });
}

function logsOf(ws: string): string[] {
  return readdirSync(join(ws, ".crystallize/logs")).sort();
}

// ---------------------------------------------------------------------------------------------
// ETA and progress rows

test("ETA: unknown without a unit duration; waves of queued units over the lanes", () => {
  assert.is(remainingMs({ unitMs: undefined, queued: 3, running: [], lanes: 2 }), undefined);
  assert.is(remainingMs({ unitMs: 1000, queued: 4, running: [], lanes: 4 }), 1000, "one round");
  assert.is(remainingMs({ unitMs: 1000, queued: 5, running: [], lanes: 4 }), 2000, "5 on 4 lanes is two rounds, not 1.25");
  assert.is(remainingMs({ unitMs: 1000, queued: 6, running: [], lanes: 1 }), 6000);
  assert.is(remainingMs({ unitMs: 1000, queued: 0, running: [], lanes: 1 }), 0, "nothing left");
});

test("ETA: running units count for what they have left, never below zero", () => {
  assert.is(remainingMs({ unitMs: 1000, queued: 0, running: [400], lanes: 1 }), 600);
  assert.is(remainingMs({ unitMs: 1000, queued: 1, running: [400], lanes: 1 }), 1600, "the queued unit waits for the lane");
  assert.is(remainingMs({ unitMs: 1000, queued: 1, running: [900, 200], lanes: 2 }), 1100, "it takes the lane that frees up first");
  assert.is(remainingMs({ unitMs: 1000, queued: 0, running: [5000], lanes: 1 }), 0, "an overdue unit is about to end");
  assert.is(remainingMs({ unitMs: 1000, queued: 2, running: [0, 0, 0], lanes: 1 }), 2000, "at least as many lanes as running units");
  // Placing units one at a time on the earliest free lane gives the same answer as the rounds.
  for (const [queued, running] of [[7, [100, 700, 300]], [13, [999, 0]], [2, [500, 500, 500, 500]]] as const) {
    const lanes = [...running].map((e) => 1000 - e);
    for (let i = 0; i < queued; i++) lanes.sort((a, b) => a - b)[0] += 1000;
    assert.is(remainingMs({ unitMs: 1000, queued, running: [...running], lanes: running.length }), Math.max(...lanes), `queued ${queued}`);
  }
});

test("ETA: this build's finished units win over the last build's mean", () => {
  assert.is(unitEstimate(500, { count: 0, totalMs: 0 }), 500);
  assert.is(unitEstimate(500, { count: 2, totalMs: 3000 }), 1500);
  assert.is(unitEstimate(undefined, { count: 0, totalMs: 0 }), undefined);
});

test("ETA and clock formats", () => {
  assert.is(formatEta(undefined), "");
  assert.is(formatEta(400), "<1s left");
  assert.is(formatEta(11_200), "~12s left");
  assert.is(formatEta(125_000), "~2m 05s left");
  assert.is(formatEta(3_780_000), "~1h 03m left");
  assert.is(formatElapsed(4_230), "4.2s");
  assert.is(formatElapsed(42_900), "42s");
  assert.is(formatElapsed(65_000), "1m 05s");
});

test("progress rows: only experiments that run, with an ETA from history or from finished units", () => {
  const p = new Progress({ known: 1000 });
  p.unitFinished("cachedOnly", unit("baseline", 0, 5, { cached: true }), 1, 2);
  p.started("known", 4, 0);
  p.unitStarted("known", { condition: "baseline", replicate: 0 }, 0);
  p.unitStarted("known", { condition: "baseline", replicate: 1 }, 0);
  p.started("fresh", 3, 100);
  p.unitStarted("fresh", { condition: "baseline", replicate: 0 }, 100);
  let rows = p.rows(500);
  assert.equal(rows.map((r) => r.name), ["known", "fresh"], "longest running first; a store hit alone is not running");
  assert.equal([rows[0].done, rows[0].total, rows[0].running, rows[0].elapsedMs, rows[0].etaMs], [0, 4, 2, 500, 1500]);
  assert.is(rows[1].etaMs, undefined, "no history, nothing finished: no ETA");
  p.unitFinished("fresh", unit("baseline", 0, 400), 1, 3);
  rows = p.rows(600);
  assert.is(rows[1].etaMs, 800, "two more units of 400ms on the one lane seen");
  p.unitFinished("fresh", unit("baseline", 1, 400), 2, 3);
  p.unitFinished("fresh", unit("baseline", 2, 400), 3, 3);
  assert.is(p.rows(700)[1].etaMs, undefined, "all units done: only storing is left, no estimate");
  p.finished("known");
  assert.equal(p.rows(700).map((r) => r.name), ["fresh"]);
  assert.ok(p.active);
});

// ---------------------------------------------------------------------------------------------
// Line fitting and the live region

test("fitWidth: cuts to the width with an ellipsis, keeps escape codes whole, resets style", () => {
  assert.is(fitWidth("short", 10), "short");
  assert.is(fitWidth("0123456789abc", 10), "012345678…");
  const coloured = `\x1b[36m▸\x1b[39m ${"x".repeat(30)}`;
  const cut = fitWidth(coloured, 12);
  assert.is(visibleWidth(cut), 12);
  assert.ok(cut.startsWith("\x1b[36m▸\x1b[39m"), cut);
  assert.ok(cut.endsWith("…\x1b[0m"), JSON.stringify(cut));
  assert.is(visibleWidth("日本"), 4, "wide characters take two columns");
});

test("live region: one line per experiment, narrower than the terminal, capped to its height", () => {
  const paint = makePaint(true);
  const rows = Array.from({ length: 12 }, (_, i) => ({ name: `experiment_with_a_long_name_${i}`, done: i, total: 12, failed: 0, running: 1, elapsedMs: 1000 * i, etaMs: 5000 }));
  const region = renderRegion(rows, { columns: 40, rows: 8 }, paint);
  assert.is(region.length, 6, "rows minus two");
  for (const line of region) assert.ok(visibleWidth(line) <= 39, `fits: ${JSON.stringify(line)}`);
  assert.match(region[5], /and 7 more running/);
  const wide = renderRegion(rows.slice(0, 2), { columns: 200, rows: 30 }, paint).map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));
  assert.equal(wide, ["▸ experiment_with_a_long_name_0  0/12 units  0.0s  ~5s left", "▸ experiment_with_a_long_name_1  1/12 units  1.0s  ~5s left"]);
});

test("step output: cursor codes and overwritten progress never reach the screen or the log", () => {
  assert.is(cleanLogText("10%\r50%\r100%", false), "100%");
  assert.is(cleanLogText("\x1b[2K\x1b[1Agreen \x1b[32mok\x1b[0m\x07", false), "green ok");
  assert.is(cleanLogText("green \x1b[32mok\x1b[0m", true), "green \x1b[32mok\x1b[0m");
  assert.is(cleanLogText("\x1b]0;title\x07text", false), "text");
});

test("the mode: live only for a terminal with columns, no CI, no NO_COLOR, not dumb", () => {
  const tty = (columns: number) => ({ isTTY: true, columns }) as unknown as NodeJS.WriteStream;
  assert.ok(wantsLive(tty(80), {}));
  assert.not.ok(wantsLive(tty(0), {}), "script's pty says 0 columns");
  assert.not.ok(wantsLive(tty(80), { CI: "true" }));
  assert.not.ok(wantsLive(tty(80), { NO_COLOR: "1" }));
  assert.not.ok(wantsLive(tty(80), { TERM: "dumb" }));
  assert.not.ok(wantsLive({ isTTY: false } as unknown as NodeJS.WriteStream, {}));
});

// ---------------------------------------------------------------------------------------------
// The writers, fed by hand

test("plain reporter: every line timestamped, quarter milestones, no escape codes", () => {
  let out = "";
  let now = new Date(2025, 0, 2, 9, 5, 7).getTime();
  const r = new PlainReporter({ write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, { history: { x: 100 }, now: () => now });
  r.experimentStarted("x", 8);
  for (let i = 0; i < 8; i++) {
    r.unitStarted("x", { condition: "baseline", replicate: i });
    now += 100;
    r.log("x", "\x1b[31mline\x1b[0m " + i);
    r.unitFinished("x", unit("baseline", i, 100, { failed: i === 5 }), i + 1, 8);
  }
  r.experimentFinished({ ...built("x", []), status: "failed", units: [unit("baseline", 5, 100, { failed: true })] });
  r.warn("x", "careful");
  r.note("a note\nover two lines");
  r.close();
  const lines = out.trimEnd().split("\n");
  assert.not.ok(out.includes(ESC), "no escape code");
  assert.is(lines[0], "09:05:07 ▸ x  (8 units)");
  for (const l of lines) assert.ok(TIME.test(l) || /^ {9}/.test(l), `timestamped or a continuation: ${l}`);
  assert.equal(lines.filter((l) => l.includes("· x")).map((l) => / (\d)\/8 units/.exec(l)![1]), ["2", "4", "6"], "at each quarter");
  assert.ok(lines.includes("09:05:07 [x] line 0"), "step lines keep the [exp] prefix, colour stripped");
  assert.ok(lines.some((l) => /✗ x baseline\/replicate_5 failed \(6\/8\)/.test(l)));
  assert.ok(lines.some((l) => l.endsWith("warning x: careful")));
  assert.ok(lines.includes("         over two lines"), "continuation lines indented past the time");
});

test("plain reporter: a heartbeat while a long unit runs in silence", async () => {
  let out = "";
  const r = new PlainReporter({ write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, { history: {}, heartbeatMs: 20 });
  r.experimentStarted("long", 1);
  r.unitStarted("long", { condition: "baseline", replicate: 0 });
  await sleep(120);
  r.close();
  assert.match(out, /\n\d\d:\d\d:\d\d · long {2}0\/1 units {2}\d+\.\ds\n/);
});

test("live reporter: region drawn below permanent lines, erased in place, cursor restored at the end", async () => {
  const term = fakeTerminal(60, 10);
  const r = new LiveReporter(term.stream, { x: 1000 });
  r.experimentStarted("x", 2);
  r.unitStarted("x", { condition: "baseline", replicate: 0 });
  r.log("x", "hello from x");
  await sleep(150);
  const first = term.text();
  assert.ok(first.includes("\x1b[?25l"), "cursor hidden while the region shows");
  assert.match(first, /\[x\] .*hello from x\n.*▸.* x {2}0\/2 units {2}.*~2s left\n/, JSON.stringify(first));
  r.unitFinished("x", unit("baseline", 0, 1000), 1, 2);
  r.experimentFinished(built("x", [unit("baseline", 0, 1000)]));
  await sleep(150);
  r.close();
  const all = term.text();
  const after = all.slice(first.length);
  assert.ok(after.includes("\x1b[1A\r\x1b[J"), "the one-line region is erased before the next frame");
  assert.match(after, /✓.* x.*v0/);
  assert.ok(all.lastIndexOf("\x1b[?25h") > all.lastIndexOf("\x1b[?25l"), "cursor shown again");
  for (const line of all.split("\n")) assert.ok(visibleWidth(line.replace(/\x1b\[[0-9;?]*[A-Za-z]|\r/g, "")) <= 60, line);
});

test("live reporter: after the window narrows, the region is erased as the terminal rewrapped it", async () => {
  const term = fakeTerminal(60, 10);
  const r = new LiveReporter(term.stream, {});
  r.experimentStarted("an_experiment_name", 12);
  r.unitStarted("an_experiment_name", { condition: "baseline", replicate: 0 });
  await sleep(150);
  const before = term.text().length;
  term.resize(20);
  const redraw = term.text().slice(before);
  // "▸ an_experiment_name  0/12 units  0.1s" is 39 columns: two rows at 20 columns.
  assert.ok(redraw.startsWith("\x1b[?2026h\x1b[2A\r\x1b[J"), JSON.stringify(redraw));
  assert.match(redraw, /▸.* an_experiment_na…/, "then redrawn to the new width");
  r.close();
});

test("live reporter: Ctrl-C gives the terminal back at once; later lines print plainly", async () => {
  const term = fakeTerminal();
  const r = new LiveReporter(term.stream, {});
  r.experimentStarted("x", 1);
  r.unitStarted("x", { condition: "baseline", replicate: 0 });
  await sleep(150);
  r.interrupt("interrupted: stopping");
  assert.ok(term.text().endsWith("interrupted: stopping\n\x1b[?25h\x1b[?2026l"), JSON.stringify(term.text()));
  r.note("after");
  assert.ok(term.text().endsWith("after\n"));
  r.close();
});

// ---------------------------------------------------------------------------------------------
// Run logs, fed by hand

test("run log: sortable names; entries written as they happen; keeps the newest 20", () => {
  assert.ok(logFileName(new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)), "build") === "2025-01-02T03-04-05.006Z-build.log");
  assert.ok(logFileName(new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), "build") < logFileName(new Date(Date.UTC(2025, 0, 10)), "build"));
  const dir = mkdtempSync(join(tmpdir(), "cz-logs-"));
  for (let i = 0; i < 25; i++) writeFileSync(join(dir, logFileName(new Date(Date.UTC(2020, 0, 1, 0, 0, i)), "build")), "old\n");
  const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
  const log = RunLog.open(dir, "build", ["build", "-j", "2"], () => at)!;
  const twin = RunLog.open(dir, "build", ["build"], () => at)!;
  assert.is.not(twin.path, log.path, "two logs in the same millisecond do not collide");
  twin.close();
  log.log("x", "a line", { condition: "baseline", replicate: 1 });
  log.unitFinished("x", unit("baseline", 1, 10, { failed: true }));
  // Nothing is buffered: what a crash would leave is already on disk.
  const text = readFileSync(log.path, "utf8");
  assert.match(text, /crystallize build -j 2, started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d/);
  assert.match(text, /\n\d\d:\d\d:\d\d\.\d{3} \[x baseline\/replicate_1\] a line\n/);
  assert.match(text, /✗ x baseline\/replicate_1 failed: Error: boom\n +at f \(experiments\/x\/steps\.ts:1:1\)/);
  assert.ok(log.takeNoteworthy());
  assert.not.ok(log.takeNoteworthy(), "reset once asked");
  log.close();
  const kept = readdirSync(dir).sort();
  assert.is(kept.length, KEEP_LOGS);
  assert.ok(kept.includes(logFileName(at, "build")), "the new log is kept");
  assert.not.ok(kept.includes(logFileName(new Date(Date.UTC(2020, 0, 1, 0, 0, 6)), "build")), "the oldest are gone");
});

// ---------------------------------------------------------------------------------------------
// The CLI without a terminal

async function assertPlainBuild(env: Record<string, string>, label: string): Promise<void> {
  const ws = chattyWorkspace();
  const r = await runCli(["build"], ws, env);
  assert.is(r.code, 0, r.output);
  assert.not.ok(r.output.includes(ESC), `${label}: not one escape byte:\n${JSON.stringify(r.output)}`);
  const progress = r.stderr.trimEnd().split("\n");
  for (const l of progress) assert.ok(TIME.test(l), `${label}: timestamped: ${l}`);
  assert.ok(progress.some((l) => / \[up\] up is working$/.test(l)), `${label}: step lines with their experiment:\n${r.stderr}`);
  assert.ok(progress.some((l) => / \[down\] down is working$/.test(l)), `${label}: stderr of a step too`);
  assert.ok(progress.some((l) => / · up {2}2\/4 units /.test(l)), `${label}: a milestone at half:\n${r.stderr}`);
  assert.match(r.stdout, /done: 2 built in /);
}

test("plain CLI output under CI=true and NO_COLOR (the test default)", () => assertPlainBuild({}, "CI and NO_COLOR"));
test("plain CLI output with NO_COLOR alone", () => assertPlainBuild({ CI: "" }, "NO_COLOR"));
test("plain CLI output with no CI and no NO_COLOR, piped", () => assertPlainBuild({ CI: "", NO_COLOR: "" }, "piped"));

test("CLI: a log file per build with the steps' lines; its path printed; --json prints only JSON", async () => {
  const ws = chattyWorkspace();
  const r = await runCli(["build"], ws);
  assert.is(r.code, 0, r.output);
  const [name] = logsOf(ws);
  assert.match(name, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-build\.log$/);
  assert.match(r.stdout, new RegExp(`\\nlog: \\.crystallize/logs/${name.replace(/\./g, "\\.")}\\n$`), "the path ends the output");
  const text = readFileSync(join(ws, ".crystallize/logs", name), "utf8");
  for (let i = 0; i < 4; i++) assert.ok(text.includes(`[up baseline/replicate_${i}] up is working`), text);
  assert.ok(text.includes("[down baseline/replicate_0] down is working"), text);
  assert.match(text, /✓ up built v0 in [\d.]+m?s: 4 units, 4 ran/);
  assert.match(text, /done: 2 built in /);

  const again = await runCli(["build"], ws);
  assert.not.match(again.stdout, /log: /, "nothing logged, nothing failed: no pointer");
  assert.is(logsOf(ws).length, 2, "but the build has its log all the same");
  assert.match(readFileSync(join(ws, ".crystallize/logs", logsOf(ws)[1]), "utf8"), /✓ up up to date v0/);

  const json = await runCli(["build", "--force-all", "--json"], ws);
  const doc = JSON.parse(json.stdout);
  assert.match(doc.log, /^\.crystallize\/logs\/.*-build\.log$/);
  assert.ok(readFileSync(join(ws, doc.log), "utf8").includes("up is working"));
});

test("CLI: a failure's stack goes to the log; old logs are pruned to the newest 20", async () => {
  const ws = makeWorkspace({
    "experiments/bad/config.yaml": "steps: [s]\n",
    "experiments/bad/steps.ts": 'export const s = () => { throw new Error("it broke"); };\n',
  });
  mkdirSync(join(ws, ".crystallize/logs"), { recursive: true });
  for (let i = 0; i < 30; i++) writeFileSync(join(ws, ".crystallize/logs", logFileName(new Date(Date.UTC(2020, 0, 1, 0, i)), "build")), "");
  const r = await runCli(["build"], ws);
  assert.is(r.code, 1, r.output);
  const logs = logsOf(ws);
  assert.is(logs.length, KEEP_LOGS);
  const text = readFileSync(join(ws, ".crystallize/logs", logs[logs.length - 1]), "utf8");
  assert.match(text, /✗ bad baseline\/replicate_0 failed: Error: it broke\n +at .*experiments\/bad\/steps\.ts:1:\d+/);
  assert.match(text, /build failed: 0 built, 1 failed/);
  assert.match(r.stdout, /log: \.crystallize\/logs\//, "a failure points at the log");
});

// ---------------------------------------------------------------------------------------------
// The CLI in a terminal

test("terminal: a live line while the experiment runs, the summary, the cursor restored; ETA on the next build", async () => {
  const ws = slowWorkspace();
  const first = await runInTerminal(["build"], ws);
  assert.is(first.code, 0, first.output);
  const out = first.output;
  // Colours depend on the environment (FORCE_COLOR); the cursor handling must not.
  const text = out.replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(text, /▸ slow {2}0\/1 units {2}\d\.\ds\r?\n/, `the live line:\n${JSON.stringify(out)}`);
  assert.ok(out.includes("\x1b[?25l"), "cursor hidden while drawing");
  assert.match(out, /\x1b\[1A\r\x1b\[J/, "the region is redrawn in place");
  assert.ok(out.lastIndexOf("\x1b[?25h") > out.lastIndexOf("\x1b[?25l"), "cursor restored");
  assert.match(text, /\[slow\] slow step says hello/, "the step's line above the region");
  assert.match(text, /✓ slow {2}v0/);
  assert.match(text, /slow {2}v0\r?\n {2}artifacts:/, "the summary");
  assert.match(text, /done: 1 built in .*\r?\n/);
  assert.ok(out.indexOf("artifacts:") > out.lastIndexOf("\x1b[?25h"), "the summary comes after the region is gone");
  assert.not.match(text, / left/, "no ETA without an earlier build");

  const second = await runInTerminal(["build", "--force"], ws);
  assert.is(second.code, 0, second.output);
  assert.match(second.output.replace(/\x1b\[[0-9;]*m/g, ""), /▸ slow {2}0\/1 units {2}\d\.\ds {2}(~\d+s|<1s) left\r?\n/, `an ETA from the first build:\n${JSON.stringify(second.output)}`);
});

test("terminal: Ctrl-C restores the cursor and ends the build", async () => {
  const ws = slowWorkspace(20_000);
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
  delete env.CI;
  delete env.NO_COLOR;
  // The shell sends the CLI SIGINT once its live line is up, like a Ctrl-C at the keyboard.
  const cli = [process.execPath, BIN, "build"].map((a) => `'${a}'`).join(" ");
  const command = `stty cols 80 rows 24; ${cli} & pid=$!; sleep 3; kill -INT $pid; wait $pid; echo "exit=$?"`;
  const output = await new Promise<string>((resolve) => execFile("script", ["-qfec", command, "/dev/null"], { cwd: ws, env }, (_e, stdout) => resolve(stdout)));
  assert.match(output, /interrupted/, JSON.stringify(output));
  assert.match(output, /exit=130/);
  assert.ok(output.lastIndexOf("\x1b[?25h") > output.lastIndexOf("\x1b[?25l"), "cursor restored");
});

test.run();
