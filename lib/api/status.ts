import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../hash/digest.js";
import type { LockFile } from "../lock/lockfile.js";
import type { Assessment } from "../plan/assess.js";
import type { Reason } from "../plan/reasons.js";
import { latestVersion } from "../store/views.js";
import type { LoadedWorkspace } from "./open.js";
import { assessBuild, prepareBuild } from "./prepare.js";

/**
 * What `list`, `show` and `graph` say about an experiment. `fresh`, `stale` and `blocked` are
 * the engine's states; `failed` is a stale experiment whose current definition failed in an
 * earlier build; `never built` has neither a lock entry nor a version folder.
 */
export type ExperimentStatus = "fresh" | "stale" | "blocked" | "failed" | "never built";

export const STATUSES: readonly ExperimentStatus[] = ["fresh", "stale", "blocked", "failed", "never built"];

export interface StatusInfo {
  status: ExperimentStatus;
  reasons: Reason[];
}

/**
 * The status word for one assessment. A failure outranks "never built" (the user wants to
 * know the first build failed), and "never built" outranks "blocked" (waiting on an upstream
 * says little about an experiment that has no result at all).
 */
export function classify(a: Assessment, built: boolean): ExperimentStatus {
  if (a.state === "fresh") return "fresh";
  if (a.state === "stale" && a.reasons.some((r) => r.kind === "failed-before")) return "failed";
  if (!built) return "never built";
  return a.state;
}

/** The version folder an experiment's result lives in: the locked one if present, else the highest. */
export interface CurrentVersion {
  version: number;
  /** `lock`: recorded in crystallize.lock; `latest`: the highest `v<N>` folder (no usable lock entry). */
  source: "lock" | "latest";
}

export async function currentVersion(dataDir: string, name: string, lock: LockFile | undefined): Promise<CurrentVersion | undefined> {
  const locked = lock?.experiments[name]?.version;
  if (locked !== undefined && existsSync(join(dataDir, name, `v${locked}`))) return { version: locked, source: "lock" };
  const latest = await latestVersion(dataDir, name);
  return latest >= 0 ? { version: latest, source: "latest" } : undefined;
}

/**
 * Status of the targets and their upstreams (every experiment when `targets` is empty), from
 * the same assessment as `status`: config, code and store lookups; no user code runs.
 */
export async function experimentStatuses(
  loaded: LoadedWorkspace,
  targets: string[] = [],
): Promise<{ statuses: Map<string, StatusInfo>; lock: LockFile | undefined; hypotheses: ReadonlyMap<string, Digest> }> {
  const prepared = await prepareBuild(loaded, { targets });
  const assessments = await assessBuild(prepared);
  await prepared.statCache.save();
  const out = new Map<string, StatusInfo>();
  for (const [name, a] of assessments) {
    const built = prepared.lock?.experiments[name] !== undefined || (await latestVersion(prepared.dataDir, name)) >= 0;
    out.set(name, { status: classify(a, built), reasons: a.reasons });
  }
  return { statuses: out, lock: prepared.lock, hypotheses: prepared.hypotheses };
}
