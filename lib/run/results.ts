/**
 * What an execution reports, as it happens and at its end: the data the reporters, the lock,
 * the timings and the JSON document are made from (see Executor in executor.ts).
 */
import type { Digest } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import type { SettledHypotheses } from "../hypotheses/settle.js";
import type { UserError } from "../runtime/protocol.js";
import type { UnitRecord } from "../store/store.js";
import type { ViewState } from "../store/views.js";

export interface UnitResult {
  condition: string;
  replicate: number;
  seed: number;
  key: UnitKey;
  /** `experiment#output` -> digest of the upstream file this unit read. */
  reads: Record<string, Digest>;
  /** True when the result came from the store without running. */
  cached: boolean;
  outcome: { status: "ok"; record: UnitRecord } | { status: "failed"; error: UserError; durationMs: number };
}

/** built: at least one unit ran; cached: every unit came from the store. */
export type ExperimentStatus = "built" | "cached" | "failed" | "skipped";

export interface ExperimentResult {
  name: string;
  status: ExperimentStatus;
  /** Version folder holding the result, for built and cached experiments. */
  version?: number;
  /** Whether the version folder had to be created or repaired. */
  view?: ViewState;
  units: UnitResult[];
  /** For skipped experiments: why, as a phrase ("upstream producer did not build"). */
  skippedBecause?: string;
  /** Wall time from the first unit's start to the view's write. */
  durationMs: number;
  /** Verdicts of the experiment's hypotheses, for a built or cached experiment that has some. */
  hypotheses?: SettledHypotheses;
}

/** Which unit of an experiment: what its log lines and progress are attributed to. */
export interface UnitLabel {
  condition: string;
  replicate: number;
}

/** What the executor tells the reporter, as it happens. */
export interface ExecutionEvents {
  /** The first unit of an experiment that is not in the store starts running. */
  experimentStarted(name: string, units: number): void;
  /** A worker received the unit: it runs from now on (store hits never start). */
  unitStarted(name: string, unit: UnitLabel): void;
  unitFinished(name: string, unit: UnitResult, done: number, total: number): void;
  experimentFinished(result: ExperimentResult): void;
  log(experiment: string, line: string, unit?: UnitLabel): void;
  warn(experiment: string, message: string): void;
}
