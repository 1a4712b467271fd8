import { sameJson, type Digest } from "../hash/digest.js";
import type { ExperimentFacts, NormalizedConfig } from "../hash/keys.js";
import type { LockEntry } from "../lock/lockfile.js";

/** Why an experiment will run (or would, for `status` and `check`). Structured for --json. */
export type Reason =
  | { kind: "forced" }
  | { kind: "never-built" }
  | { kind: "config"; path: string; old?: unknown; new?: unknown }
  | { kind: "code"; file: string; change: Change }
  | { kind: "package"; name: string; old?: string; new?: string }
  | { kind: "input"; file: string; change: Change }
  | { kind: "env"; name: string }
  | { kind: "runtime"; old: string; new: string }
  | { kind: "upstream-output"; output: string }
  | { kind: "upstream-stale"; experiment: string }
  | { kind: "missing-output"; units: number }
  | { kind: "failed-before"; units: number; error: string }
  | { kind: "lock-only"; detail: string };

export type Change = "added" | "removed" | "modified";

function show(v: unknown): string {
  if (v === undefined) return "(none)";
  const s = JSON.stringify(v);
  return s.length > 40 ? s.slice(0, 37) + "..." : s;
}

/** A package's recorded versions (see PackageVersions): "its dependencies changed" when its own version did not. */
function packageChange(old: string | undefined, now: string | undefined): string {
  const own = (v: string | undefined) => v?.split(" deps:")[0];
  const both = `${old ?? "(none)"} → ${now ?? "(none)"}`;
  return old !== undefined && now !== undefined && own(old) === own(now) ? `its dependencies changed (${both})` : both;
}

export function describeReason(r: Reason): string {
  switch (r.kind) {
    case "forced": return "forced (--force)";
    case "never-built": return "never built";
    case "config": return `config ${r.path}: ${show(r.old)} → ${show(r.new)}`;
    case "code": return `code ${r.file} ${r.change}`;
    case "package": return `package ${r.name}: ${packageChange(r.old, r.new)}`;
    case "input": return `input ${r.file} ${r.change}`;
    case "env": return `env ${r.name} changed`;
    case "runtime": return `runtime ${r.old} → ${r.new}`;
    case "upstream-output": return `upstream output ${r.output} changed`;
    case "upstream-stale": return `upstream ${r.experiment} is stale (reruns only if its output changes)`;
    case "missing-output": return `${r.units} result${r.units === 1 ? "" : "s"} missing or corrupt in the store`;
    case "failed-before": return `${r.units} unit${r.units === 1 ? "" : "s"} failed in an earlier build: ${r.error}`;
    case "lock-only": return r.detail;
  }
}

/** Leaf-level differences between two JSON values, as dotted paths. */
export function diffValues(old: unknown, now: unknown, path = ""): Array<{ path: string; old?: unknown; new?: unknown }> {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(old) && isObj(now)) {
    const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => diffValues(old[k], now[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(old) && Array.isArray(now) && old.length === now.length) {
    return old.flatMap((v, i) => diffValues(v, now[i], `${path}[${i}]`));
  }
  return JSON.stringify(old) === JSON.stringify(now) ? [] : [{ path, old, new: now }];
}

interface RecordChange {
  name: string;
  change: Change;
  old?: unknown;
  new?: unknown;
}

function diffRecords(old: Record<string, unknown> = {}, now: Record<string, unknown> = {}): RecordChange[] {
  const names = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const out: RecordChange[] = [];
  for (const name of names) {
    if (!(name in old)) out.push({ name, change: "added", new: now[name] });
    else if (!(name in now)) out.push({ name, change: "removed", old: old[name] });
    else if (old[name] !== now[name]) out.push({ name, change: "modified", old: old[name], new: now[name] });
  }
  return out;
}

/** What differs between the locked build of an experiment and its current definition. */
export function componentReasons(entry: LockEntry, config: NormalizedConfig, facts: ExperimentFacts): Reason[] {
  const reasons: Reason[] = [];
  for (const d of diffValues(entry.params, config)) reasons.push({ kind: "config", path: d.path, old: d.old, new: d.new });
  for (const d of diffRecords(entry.code, facts.code.files)) reasons.push({ kind: "code", file: d.name, change: d.change });
  for (const d of diffRecords(entry.packages, facts.code.packages)) reasons.push({ kind: "package", name: d.name, old: d.old as string, new: d.new as string });
  for (const d of diffRecords(entry.inputs, facts.inputs)) reasons.push({ kind: "input", file: d.name, change: d.change });
  for (const d of diffRecords(entry.env as Record<string, Digest | null>, facts.env)) reasons.push({ kind: "env", name: d.name });
  if (entry.runtime !== facts.runtime) reasons.push({ kind: "runtime", old: entry.runtime, new: facts.runtime });
  return reasons;
}

/**
 * Whether componentReasons would name anything, without building the reasons: what
 * firstLikelyToRun asks of every experiment before a build runs. Kept beside componentReasons so
 * that a component added to one is added to the other; the cheap comparisons first.
 */
export function definitionChanged(entry: LockEntry, config: NormalizedConfig, facts: ExperimentFacts): boolean {
  return (
    entry.runtime !== facts.runtime ||
    !sameJson(entry.code, facts.code.files) ||
    !sameJson(entry.inputs, facts.inputs) ||
    !sameJson(entry.env, facts.env) ||
    !sameJson(entry.packages, facts.code.packages) ||
    !sameJson(entry.params, config)
  );
}

/** Upstream outputs whose digests differ from those recorded as read in the lock. */
export function upstreamReasons(entry: LockEntry, reads: Record<string, Record<string, Digest>>): Reason[] {
  const changed = new Set<string>();
  for (const [output, byUnit] of Object.entries(reads)) {
    const old = entry.upstream?.[output] ?? {};
    for (const [unit, digest] of Object.entries(byUnit)) if (old[unit] !== undefined && old[unit] !== digest) changed.add(output);
  }
  return [...changed].sort().map((output) => ({ kind: "upstream-output", output }));
}
