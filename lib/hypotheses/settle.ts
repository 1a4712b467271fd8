/**
 * Keeps `data/<exp>/v<N>/hypotheses.json` in step with the hypotheses config and the verifiers
 * code: evaluated when missing or computed from something else, left alone otherwise.
 */
import { readFileSync } from "node:fs";
import type { HypothesisSpec } from "../config/types.js";
import { digestValue, type Digest } from "../hash/digest.js";
import { writeFileAtomic } from "../store/atomic.js";
import type { UnitRecord } from "../store/store.js";
import { evaluateHypotheses, type CustomVerifierRunner, type Samples } from "./evaluate.js";
import type { HypothesesFile, HypothesisVerdict } from "./types.js";

/** Bumped when built-in verifiers or the evaluation change meaning: old verdicts are redone. */
const VERDICT_SCHEMA = 1;

/**
 * What an experiment's verdicts are computed from, besides its metrics (fixed per version):
 * the hypotheses as configured and the code of the verifiers module and what it imports.
 */
export function hypothesesDigest(hypotheses: HypothesisSpec[], verifiersCode: Digest | null): Digest {
  return digestValue({
    schema: VERDICT_SCHEMA,
    hypotheses: hypotheses.map(({ name, verifier, metrics, params }) => ({ name, verifier, metrics, params })),
    verifiers: verifiersCode,
  });
}

/** Condition -> metric -> values, from records sorted by replicate (as results.json has them). */
export function samplesOf(records: UnitRecord[]): Map<string, Samples> {
  const out = new Map<string, Samples>();
  for (const r of records) {
    const s = out.get(r.condition) ?? {};
    for (const [k, v] of Object.entries(r.metrics)) (s[k] ??= []).push(...v);
    out.set(r.condition, s);
  }
  return out;
}

/** An experiment's verdicts after a build, and whether this build computed them. */
export interface SettledHypotheses {
  verdicts: HypothesisVerdict[];
  recomputed: boolean;
}

export interface SettleHypothesesInput {
  /** Absolute path of the version's hypotheses.json. */
  path: string;
  digest: Digest;
  hypotheses: HypothesisSpec[];
  /** Conditions of the version, baseline first. */
  conditions: string[];
  /** The version's unit records, sorted by replicate. */
  records: UnitRecord[];
  runCustom: CustomVerifierRunner;
  /** True when the build was stopped meanwhile: its workers' deaths are not verdicts to keep. */
  stopped(): boolean;
}

function current(path: string, digest: Digest): HypothesesFile | undefined {
  try {
    const file = JSON.parse(readFileSync(path, "utf8")) as HypothesesFile;
    return file.digest === digest && Array.isArray(file.hypotheses) ? file : undefined;
  } catch {
    return undefined;
  }
}

export async function settleHypotheses(i: SettleHypothesesInput): Promise<SettledHypotheses> {
  const existing = current(i.path, i.digest);
  if (existing) return { verdicts: existing.hypotheses, recomputed: false };
  const verdicts = await evaluateHypotheses(i.hypotheses, i.conditions, samplesOf(i.records), i.runCustom);
  if (i.stopped()) return { verdicts, recomputed: false };
  const file: HypothesesFile = { digest: i.digest, hypotheses: verdicts };
  await writeFileAtomic(i.path, JSON.stringify(file, null, 2) + "\n");
  return { verdicts, recomputed: true };
}
