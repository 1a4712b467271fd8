import type { ExperimentConfig } from "../config/types.js";
import type { CodeClosure } from "../code/modules.js";
import { canonicalJson, digestBytes, type Digest } from "./digest.js";

/** Bumped whenever the meaning of a key's parts changes: old results then never match. */
export const KEY_SCHEMA = 1;

/** A cache key: the digest of everything that can change one unit's result. */
export type UnitKey = string & { readonly __brand: "UnitKey" };

/** Facts about one experiment read from disk before planning. */
export interface ExperimentFacts {
  /** The experiment's modules and their local imports. */
  code: CodeClosure;
  /** Declared `inputs` files (workspace-relative) -> content digest. */
  inputs: Record<string, Digest>;
  /** Declared `env` names -> digest of the value, or null when unset. Values never leave the machine. */
  env: Record<string, Digest | null>;
  /** The Node major version user code runs on, e.g. "node20". */
  runtime: string;
}

/**
 * The config as it enters keys and the lock: every key that can change a result, nothing that
 * cannot (`name`, `description`, `cli`, `hypotheses`: verdicts are recomputed from metrics).
 */
export interface NormalizedConfig {
  datasource: Record<string, string> | null;
  steps: Array<{ name: string; kwargs: Record<string, unknown> }>;
  outputs: Record<string, { file_name: string; writer: string | null; loader: string | null }>;
  replicates: number;
  seed: number;
  treatments: Record<string, Record<string, unknown>>;
  inputs: string[];
  env: string[];
}

export function normalizeConfig(cfg: ExperimentConfig): NormalizedConfig {
  return {
    datasource: cfg.datasource
      ? Object.fromEntries(cfg.datasource.map((d) => [d.alias, d.ref ? `${d.ref.experiment}#${d.ref.output}` : d.exportName!]))
      : null,
    steps: cfg.steps.map((s) => ({ name: s.name, kwargs: s.kwargs })),
    outputs: Object.fromEntries(cfg.outputs.map((o) => [o.alias, { file_name: o.fileName, writer: o.writer ?? null, loader: o.loader ?? null }])),
    replicates: cfg.replicates,
    seed: cfg.seed,
    treatments: Object.fromEntries(cfg.treatments.map((t) => [t.name, t.values])),
    inputs: [...cfg.inputs],
    env: [...cfg.env],
  };
}

/** What one unit reads from one upstream output. */
export interface KeyedRead {
  alias: string;
  /** Digest of the exact file read. */
  digest: Digest;
  /** Digest of the upstream loader's code (it runs in this unit), or null for raw bytes. */
  loader: Digest | null;
}

export interface UnitKeyInput {
  config: NormalizedConfig;
  facts: ExperimentFacts;
  condition: string;
  values: Record<string, unknown>;
  replicate: number;
  seed: number;
  reads: KeyedRead[];
}

/**
 * One unit's key. Upstream outputs enter by content digest, not by upstream key: an upstream
 * that rebuilds to identical bytes leaves this key unchanged (early cutoff). The replicate
 * count and other conditions' values are left out, so adding a replicate or editing another
 * treatment keeps this unit's result.
 */
export function unitKey(k: UnitKeyInput): UnitKey {
  const { replicates: _count, treatments: _all, ...recipe } = k.config;
  return digestBytes(
    canonicalJson({
      schema: KEY_SCHEMA,
      recipe,
      code: k.facts.code,
      inputs: k.facts.inputs,
      env: k.facts.env,
      runtime: k.facts.runtime,
      condition: k.condition,
      values: k.values,
      replicate: k.replicate,
      seed: k.seed,
      reads: [...k.reads].sort((a, b) => (a.alias < b.alias ? -1 : 1)),
    }),
  ) as string as UnitKey;
}

/** The experiment's key in the lock: its units' keys, order-independent. */
export function experimentKey(unitKeys: UnitKey[]): Digest {
  return digestBytes([...unitKeys].sort().join("\n"));
}
