/**
 * Hypothesis verdicts as they go to disk: `data/<exp>/v<N>/hypotheses.json`, written by the
 * build after all of an experiment's units are in, read by `show` and the build summary.
 * Hypotheses are not part of the cache key: their verdicts are recomputed from stored metrics
 * when the hypotheses or the verifiers change, without rerunning the experiment.
 */

/** What one verifier said about one treatment against the baseline. */
export type VerdictOutcome =
  | {
      ok: true;
      /** The verifier's whole result object, as it returned it (JSON values only). */
      result: Record<string, unknown>;
      /** `result.p_value` when it is a number: what the ranking uses. */
      pValue: number | null;
      /** `result.significant` when it is a boolean. */
      significant: boolean | null;
    }
  | {
      ok: false;
      /** Why the verifier could not give a result: its exception, or a missing metric. */
      error: string;
    };

/** One hypothesis, evaluated for every active treatment that produced metrics. */
export interface HypothesisVerdict {
  name: string;
  /** A built-in (`welch_t_test`, `mann_whitney_u`, `bootstrap_mean_diff`) or an export of `verifiers.*`. */
  verifier: string;
  metrics: string[];
  params: Record<string, unknown>;
  /** Treatment name -> outcome, in the experiment's condition order. */
  results: Record<string, VerdictOutcome>;
  /** Treatments with a result, lowest p-value first; those without a p-value last, by name. */
  ranking: Array<{ treatment: string; pValue: number | null }>;
  /** First of `ranking` when it has a p-value, else null. */
  best: string | null;
}

/** `data/<exp>/v<N>/hypotheses.json`. */
export interface HypothesesFile {
  /**
   * Digest of what the verdicts were computed from: the hypotheses config and the verifiers
   * module's code. A different digest means the file is out of date and is recomputed.
   */
  digest: string;
  hypotheses: HypothesisVerdict[];
}

/** The file name inside a version folder. */
export const HYPOTHESES_FILE = "hypotheses.json";
