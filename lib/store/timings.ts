import { readFileSync } from "node:fs";
import type { ExperimentResult } from "../run/results.js";
import { writeFileAtomic } from "./atomic.js";

/** File name under the tool's state folder. */
export const TIMINGS_FILE = "timings.json";

/**
 * `.crystallize/timings.json`: per experiment name, the mean duration in milliseconds of one of
 * its units (one condition × replicate) in the last build that ran any. Orders the ready queue
 * (critical path first) and gives live progress its ETA. Only the last build counts: an edit
 * to the code makes older durations wrong, and the file stays one number per experiment.
 */
export type Timings = Record<string, number>;

export function readTimings(path: string): Timings {
  try {
    const doc = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return {};
    return Object.fromEntries(Object.entries(doc).filter(([, v]) => typeof v === "number" && Number.isFinite(v) && v >= 0));
  } catch {
    return {};
  }
}

/** `timings` with the experiments whose units ran in this build updated; undefined if none ran. */
export function updatedTimings(timings: Timings, experiments: ExperimentResult[]): Timings | undefined {
  const next = { ...timings };
  let changed = false;
  for (const e of experiments) {
    const ran = e.units.flatMap((u) => (!u.cached && u.outcome.status === "ok" ? [u.outcome.record.durationMs] : []));
    if (ran.length === 0) continue;
    next[e.name] = Math.round(ran.reduce((s, ms) => s + ms, 0) / ran.length);
    changed = true;
  }
  return changed ? next : undefined;
}

/** Written whole and atomically at the end of a build: a crash leaves the previous file. */
export async function saveTimings(path: string, timings: Timings, experiments: ExperimentResult[]): Promise<void> {
  const next = updatedTimings(timings, experiments);
  if (next) await writeFileAtomic(path, JSON.stringify(next));
}
