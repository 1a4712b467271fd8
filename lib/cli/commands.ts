import { join, relative } from "node:path";
import { assess } from "../plan/assess.js";
import { buildWorkspace, withWorkspaceLock } from "../api/build.js";
import { openWorkspace } from "../api/open.js";
import { assessBuild, prepareBuild, type PlanRequest } from "../api/prepare.js";
import { readLock } from "../lock/lockfile.js";
import { collectGarbage } from "../store/gc.js";
import { CompiledCache } from "../run/compiled-cache.js";
import { experimentStatuses, type ExperimentStatus } from "../api/status.js";
import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { verifyWorkspace } from "../api/verify.js";
import { Store } from "../store/store.js";
import type { StatCache } from "../hash/stat-cache.js";
import { reasonJson, renderAssessment } from "../report/assessment.js";
import { renderGraph, type GraphFormat } from "../report/graph-format.js";
import { renderSummary } from "../report/summary.js";
import { hypothesesJson } from "../report/hypotheses.js";
import { makePaint, seconds, useColor } from "../report/style.js";
import type { ExperimentResult } from "../run/results.js";
import type { Assessment } from "../plan/assess.js";
import { LOCK_FILE } from "../lock/lockfile.js";
import { offerReplay } from "../stamp/trace.js";
import { interruptible, startReporting, tally } from "./reporting.js";

/** Exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export interface BuildFlags extends PlanRequest {
  cwd: string;
  jobs?: number;
  failFast?: boolean;
  dryRun?: boolean;
  explain?: boolean;
  frozen?: boolean;
  json?: boolean;
}

/** What planning without a lock git left conflicts in means, for the commands that go on without it. */
function conflictNote(conflict: CrystallizeError): string {
  return `${LOCK_FILE}:${conflict.location?.line} has unresolved merge conflicts: reasons below compare with the stored results only; \`crystallize build\` writes the lock afresh`;
}

/** After a build that found the lock conflicted: whether it was written afresh, and what it records. */
function afterConflict(outcome: { lockWritten: boolean; experiments: ExperimentResult[] }, total: number): string {
  if (!outcome.lockWritten) return `${LOCK_FILE} has unresolved merge conflicts and this build did not write it: \`crystallize build\` writes it afresh`;
  const recorded = outcome.experiments.filter((r) => r.status === "built" || r.status === "cached").length;
  const missing = total - recorded;
  return `${LOCK_FILE} had merge conflicts: this build wrote it afresh` + (missing > 0 ? `, without the ${missing} experiment${missing === 1 ? "" : "s"} it did not build (\`crystallize build\` records every one)` : "") + "; commit it";
}

export function printJson(doc: unknown): void {
  process.stdout.write(jsonText(doc));
}

/** The one JSON document a `--json` command prints (docs/json.md). */
function jsonText(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + "\n";
}

function assessmentJson(a: Assessment): Record<string, unknown> {
  return { name: a.name, status: a.state, key: a.key ?? null, units: { total: a.total, toRun: a.unitsKnown ? a.toRun : null }, reasons: a.reasons.map(reasonJson) };
}

function resultJson(r: ExperimentResult, root: string, dataDir: string): Record<string, unknown> {
  const outputs: Record<string, { digest: string; path: string }> = {};
  for (const u of r.units) {
    if (u.outcome.status !== "ok" || r.version === undefined) continue;
    for (const o of Object.values(u.outcome.record.outputs)) {
      const rel = `${u.condition}/replicate_${u.replicate}/${o.file}`;
      outputs[rel] = { digest: o.digest, path: relative(root, join(dataDir, r.name, `v${r.version}`, `replicate_${u.replicate}`, u.condition, o.file)) };
    }
  }
  const failed = r.units.filter((u) => u.outcome.status === "failed");
  return {
    name: r.name,
    status: r.status,
    version: r.version ?? null,
    durationMs: Math.round(r.durationMs),
    units: { total: r.units.length, ran: r.units.filter((u) => !u.cached).length, cached: r.units.filter((u) => u.cached).length, failed: failed.length },
    errors: failed.map((u) => (u.outcome.status === "failed" ? { condition: u.condition, replicate: u.replicate, message: u.outcome.error.message, stack: u.outcome.error.stack } : null)),
    skippedBecause: r.skippedBecause ?? null,
    outputs,
    hypotheses: hypothesesJson(r, root, dataDir),
  };
}

export async function buildCommand(targets: string[], flags: BuildFlags): Promise<number> {
  const started = performance.now();
  const err = process.stderr;
  const paint = makePaint(useColor(err));
  const loaded = await openWorkspace(flags.cwd);
  const request: PlanRequest = { targets, force: flags.force, forceAll: flags.forceAll, replicates: flags.replicates, treatments: flags.treatments };

  if (flags.dryRun || flags.frozen || flags.explain) {
    const prepared = await prepareBuild(loaded, request);
    const assessments = [...(await assessBuild(prepared)).values()];
    const stale = assessments.filter((a) => a.state !== "fresh");
    if (prepared.lockConflict && !flags.json) err.write(`${paint("yellow", "warning:")} ${conflictNote(prepared.lockConflict)}\n`);
    if (flags.dryRun) {
      if (flags.json) printJson({ command: "build", dryRun: true, ok: true, experiments: assessments.map(assessmentJson) });
      else process.stdout.write((stale.length ? renderAssessment(stale, paint) : "nothing to build: everything is up to date") + "\n");
      return EXIT.ok;
    }
    if (flags.frozen && stale.length > 0) {
      if (flags.json) printJson({ command: "build", frozen: true, ok: false, experiments: assessments.map(assessmentJson) });
      else err.write(`--frozen: ${stale.length} experiment${stale.length === 1 ? "" : "s"} would run:\n${renderAssessment(stale, paint)}\n`);
      return EXIT.failed;
    }
    if (flags.explain && !flags.json) err.write((stale.length ? renderAssessment(stale, paint) : "everything is up to date") + "\n");
  }

  const reporting = startReporting(loaded.workspace.root, "build");
  const interrupt = interruptible(reporting, "interrupted: stopping workers and removing unfinished outputs");
  try {
    const outcome = await buildWorkspace(loaded, {
      ...request,
      jobs: flags.jobs,
      failFast: flags.failFast,
      events: reporting.events,
      signal: interrupt.signal,
      onWait: (m) => reporting.note(m),
    });
    if (outcome.interrupted) return EXIT.interrupted;
    const dataDir = join(loaded.workspace.root, loaded.workspace.settings.data);
    const elapsed = seconds(performance.now() - started);
    const counts = `${tally(outcome.experiments)} in ${elapsed}${outcome.lockWritten ? `; ${LOCK_FILE} updated` : ""}`;
    if (outcome.lockConflict) reporting.note(afterConflict(outcome, loaded.graph.nodes.size));
    reporting.close(`${outcome.ok ? "done" : "build failed"}: ${counts}`);
    if (flags.json) {
      const schedulingMs = outcome.schedulingMs === undefined ? null : Math.round(outcome.schedulingMs);
      printJson({ command: "build", ok: outcome.ok, durationMs: Math.round(performance.now() - started), schedulingMs, log: reporting.logPath() ?? null, experiments: outcome.experiments.map((r) => resultJson(r, loaded.workspace.root, dataDir)) });
      return outcome.ok ? EXIT.ok : EXIT.failed;
    }
    const outPaint = makePaint(useColor(process.stdout));
    const summary = renderSummary(outcome.experiments, outcome.plan.targets, loaded.graph, loaded.workspace.root, dataDir, outPaint);
    if (summary) process.stdout.write("\n" + summary + "\n");
    const verdict = outcome.ok ? outPaint("green", "done") : outPaint("red", "build failed");
    const log = reporting.logWorthShowing();
    process.stdout.write(`\n${verdict}: ${counts}\n` + (log ? outPaint("dim", `log: ${log}`) + "\n" : ""));
    const unchanged = outcome.experiments.every((r) => r.status === "cached" && (r.view ?? "intact") === "intact" && !r.hypotheses?.recomputed);
    if (outcome.ok && unchanged && !outcome.lockWritten && !outcome.lockConflict && !log) offerReplay({ root: loaded.workspace.root, exitCode: EXIT.ok, elapsed });
    // A build that left the lock as it was left check's answer as it was too.
    else if (outcome.ok && outcome.lockWritten) await (await import("./prestamp.js")).prestampCheck(loaded.workspace.root, loaded.statCache);
    return outcome.ok ? EXIT.ok : EXIT.failed;
  } finally {
    reporting.close();
    interrupt.dispose();
  }
}

export async function statusCommand(targets: string[], flags: { cwd: string; json?: boolean }): Promise<number> {
  const loaded = await openWorkspace(flags.cwd);
  const prepared = await prepareBuild(loaded, { targets });
  const assessments = [...(await assessBuild(prepared)).values()];
  await prepared.statCache.save();
  if (flags.json) printJson({ command: "status", ok: true, lockConflict: prepared.lockConflict !== undefined, experiments: assessments.map(assessmentJson) });
  else {
    const paint = makePaint(useColor(process.stdout));
    const note = prepared.lockConflict ? `${paint("yellow", "warning:")} ${conflictNote(prepared.lockConflict)}\n` : "";
    process.stdout.write(note + renderAssessment(assessments, paint) + "\n");
  }
  return EXIT.ok;
}

/**
 * The pre-commit / CI check: does crystallize.lock match config, code and the upstream digests
 * it records? Runs no user code and reads nothing under data/.
 */
export async function checkCommand(flags: { cwd: string; json?: boolean }): Promise<number> {
  const answer = await checkAnswer(flags);
  process.stdout.write(answer.stdout);
  // Either answer depends only on what the check read: a repeated check replays it.
  if (!flags.json) offerReplay({ root: answer.root, exitCode: answer.exitCode });
  return answer.exitCode;
}

/** What `check` prints and exits with, and the workspace it looked at (see openWorkspace for `statCache`). */
export async function checkAnswer(flags: { cwd: string; json?: boolean }, statCache?: StatCache): Promise<{ stdout: string; exitCode: number; root: string }> {
  const loaded = await openWorkspace(flags.cwd, { statCache });
  const root = loaded.workspace.root;
  const prepared = await prepareBuild(loaded, {});
  const assessments = [
    ...(await assess({ graph: loaded.graph, plan: prepared.plan, facts: prepared.facts, keyOf: prepared.keyOf, lock: prepared.lock, force: new Set(), source: { kind: "lock" } })).values(),
  ];
  await prepared.statCache.save();
  const orphans = Object.keys(prepared.lock?.experiments ?? {}).filter((n) => !loaded.graph.nodes.has(n)).sort();
  const stale = assessments.filter((a) => a.state !== "fresh");
  const ok = stale.length === 0 && orphans.length === 0 && prepared.lock !== undefined;
  const exitCode = ok ? EXIT.ok : EXIT.failed;
  if (flags.json) {
    const doc = { command: "check", ok, lock: prepared.lock !== undefined, lockConflict: prepared.lockConflict !== undefined, experiments: assessments.map(assessmentJson), removed: orphans };
    return { stdout: jsonText(doc), exitCode, root };
  }
  const conflict = prepared.lockConflict;
  if (conflict) return { stdout: `${LOCK_FILE}:${conflict.location?.line} has unresolved merge conflicts: run \`crystallize build\`, which writes it afresh, and commit it\n`, exitCode, root };
  if (prepared.lock === undefined) return { stdout: `no ${LOCK_FILE}: run \`crystallize build\` and commit the lock\n`, exitCode, root };
  if (ok) return { stdout: `${LOCK_FILE} matches all ${assessments.length} experiments\n`, exitCode, root };
  // Asked only now: the answer "matches" reads the same on a terminal or not, so its stamp
  // replays in a shell and in a hook that captures the output alike.
  const paint = makePaint(useColor(process.stdout));
  const lines = stale.length ? [renderAssessment(stale, paint)] : [];
  for (const o of orphans) lines.push(`${paint("yellow", "stale  ")} ${o}: in ${LOCK_FILE} but no longer in the workspace`);
  return { stdout: lines.join("\n") + `\n${LOCK_FILE} is out of date: run \`crystallize build\` and commit the lock\n`, exitCode, root };
}

/** `crystallize graph`: the DAG of the targets and their upstreams, each node with its status. */
export async function graphCommand(targets: string[], opts: { format: GraphFormat; cwd: string }): Promise<number> {
  const loaded = await openWorkspace(opts.cwd);
  const { graph } = loaded;
  const names = graph.closure(graph.resolveTargets(targets, loaded.from));
  let status: Map<string, ExperimentStatus> | undefined;
  try {
    const { statuses } = await experimentStatuses(loaded, targets);
    status = new Map([...statuses].map(([n, s]) => [n, s.status]));
  } catch (err) {
    // The structure is still worth seeing while code has an error that `build` would report.
    if (!(err instanceof CrystallizeError || err instanceof AggregateConfigError)) throw err;
    process.stderr.write(`warning: status unknown (${err.message.split("\n")[0]}); run \`crystallize status\` for details\n`);
  }
  process.stdout.write(renderGraph(graph, names, opts.format, { status, paint: makePaint(useColor(process.stdout)) }) + "\n");
  return EXIT.ok;
}

/** `crystallize gc`: drop store objects and records no lock entry or version folder uses, and compiled code no build can use. */
export async function gcCommand(flags: { cwd: string; dryRun?: boolean; json?: boolean }): Promise<number> {
  const loaded = await openWorkspace(flags.cwd, { analyze: false });
  const root = loaded.workspace.root;
  const report = await withWorkspaceLock(root, "gc", (m) => process.stderr.write(m + "\n"), async () => {
    const store = new Store(join(root, loaded.workspace.settings.data), loaded.statCache);
    const stored = await collectGarbage(store, await readLock(root, loaded.statCache), [...loaded.graph.nodes.keys()], flags.dryRun ?? false);
    return { ...stored, compiled: await CompiledCache.of(root, loaded.statCache).prune(flags.dryRun ?? false) };
  });
  if (flags.json) {
    printJson({ command: "gc", dryRun: flags.dryRun ?? false, ...report });
    return EXIT.ok;
  }
  const mb = (report.bytes / 1e6).toFixed(1);
  const verb = flags.dryRun ? "would remove" : "removed";
  process.stdout.write(`${verb} ${report.objects} objects (${mb} MB), ${report.records} records, ${report.versions} forgotten versions, ${report.compiled} compiled modules\n`);
  return EXIT.ok;
}

/** `crystallize verify`: rerun ignoring the cache and compare every output with the lock. */
export async function verifyCommand(targets: string[], flags: { cwd: string; jobs?: number; json?: boolean }): Promise<number> {
  const loaded = await openWorkspace(flags.cwd);
  const reporting = startReporting(loaded.workspace.root, "verify");
  const interrupt = interruptible(reporting, "interrupted: stopping workers");
  try {
    const outcome = await verifyWorkspace(loaded, { targets, jobs: flags.jobs, events: reporting.events, signal: interrupt.signal, onWait: (m) => reporting.note(m) });
    if (outcome.interrupted) return EXIT.interrupted;
    reporting.close(`${outcome.ok ? "reproduced" : "not reproducible"}: ${outcome.mismatches.length} mismatches`);
    if (flags.json) {
      printJson({ command: "verify", ok: outcome.ok, verified: outcome.verified, mismatches: outcome.mismatches, failed: outcome.experiments.filter((e) => e.status === "failed" || e.status === "skipped").map((e) => e.name) });
      return outcome.ok ? EXIT.ok : EXIT.failed;
    }
    const out = makePaint(useColor(process.stdout));
    const lines = outcome.mismatches.map((m) => `${out("red", "differs")}  ${m.experiment}  ${m.condition}/replicate_${m.replicate}/${m.file}  locked ${m.locked ?? "(none)"}  rebuilt ${m.rebuilt}`);
    const broken = outcome.experiments.filter((e) => e.status === "failed" || e.status === "skipped").map((e) => e.name);
    if (broken.length) lines.push(`${out("red", "not verified")}  ${broken.join(", ")}: the rebuild failed`);
    const files = outcome.mismatches.length;
    lines.push(outcome.ok
      ? `${out("green", "reproduced")}: ${outcome.verified.length} experiment${outcome.verified.length === 1 ? "" : "s"} rebuilt to the locked outputs, byte for byte`
      : `${out("red", "not reproducible")}: ${files} output${files === 1 ? "" : "s"} differ${files === 1 ? "s" : ""} from ${LOCK_FILE}; nothing was changed`);
    const log = reporting.logWorthShowing();
    if (log) lines.push(out("dim", `log: ${log}`));
    process.stdout.write(lines.join("\n") + "\n");
    return outcome.ok ? EXIT.ok : EXIT.failed;
  } finally {
    reporting.close();
    interrupt.dispose();
  }
}
