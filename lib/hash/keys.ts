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
 *
 * The digest is of canonicalJson({schema, recipe, code, inputs, env, runtime, condition, values,
 * replicate, seed, reads}), written out here field by field in canonical order: keys are
 * computed for every unit of every command, in code that has not been optimised yet, where
 * the generic walk was most of `check`'s time. Parts whose shape we do not control (kwargs,
 * treatment values) still go through canonicalJson; test/keys.test.ts holds the two equal.
 */
export function unitKey(k: UnitKeyInput): UnitKey {
  const reads = [...k.reads].sort((a, b) => (a.alias < b.alias ? -1 : 1));
  let readsJson = "[";
  for (let i = 0; i < reads.length; i++) {
    const r = reads[i];
    const plain = r.loader !== undefined && Object.keys(r).length === 3;
    readsJson += (i ? "," : "") + (plain ? `{"alias":${JSON.stringify(r.alias)},"digest":${JSON.stringify(r.digest)},"loader":${JSON.stringify(r.loader)}}` : canonicalJson(r));
  }
  readsJson += "]";
  return digestBytes(
    `{"code":${codeJson(k.facts.code)},"condition":${JSON.stringify(k.condition)},"env":${flatJson(k.facts.env)},"inputs":${flatJson(k.facts.inputs)},` +
      `"reads":${readsJson},"recipe":${recipeJson(k.config)},"replicate":${JSON.stringify(k.replicate)},"runtime":${JSON.stringify(k.facts.runtime)},` +
      `"schema":${KEY_SCHEMA},"seed":${JSON.stringify(k.seed)},"values":${userJson(k.values)}}`,
  ) as string as UnitKey;
}

/**
 * canonicalJson of a record of strings or null. JSON.stringify writes keys in the object's own
 * order, which is canonical order when the keys are already ascending (as sorted records are).
 */
function flatJson(r: Record<string, string | null>): string {
  const keys = Object.keys(r);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] >= keys[i]) return canonicalJson(r);
  return JSON.stringify(r);
}

function codeJson(code: CodeClosure): string {
  const keys = Object.keys(code);
  // A closure with more fields than these two: the generic walk includes them all.
  if (keys.length !== 2) return canonicalJson(code);
  return `{"files":${flatJson(code.files)},"packages":${flatJson(code.packages)}}`;
}

/** canonicalJson of values from a config (kwargs, treatment values): most are empty. */
function userJson(v: Record<string, unknown>): string {
  for (const _ in v) return canonicalJson(v);
  return "{}";
}

function outputsJson(outputs: NormalizedConfig["outputs"]): string {
  const aliases = Object.keys(outputs);
  let out = "{";
  for (let i = 0; i < aliases.length; i++) {
    const o = outputs[aliases[i]];
    const plain = Object.keys(o).length === 3 && o.file_name !== undefined && o.loader !== undefined && o.writer !== undefined;
    if ((i > 0 && aliases[i - 1] >= aliases[i]) || !plain) return canonicalJson(outputs);
    out += `${i ? "," : ""}${JSON.stringify(aliases[i])}:{"file_name":${JSON.stringify(o.file_name)},"loader":${JSON.stringify(o.loader)},"writer":${JSON.stringify(o.writer)}}`;
  }
  return out + "}";
}

/** canonicalJson of the config without the replicate count and the treatments. */
function recipeJson(config: NormalizedConfig): string {
  const { replicates: _count, treatments: _all, ...recipe } = config;
  // A NormalizedConfig with fields this function does not know: the generic walk includes them.
  if (Object.keys(recipe).length !== 6) return canonicalJson(recipe);
  let steps = "[";
  for (let i = 0; i < recipe.steps.length; i++) {
    const s = recipe.steps[i];
    steps += `${i ? "," : ""}{"kwargs":${userJson(s.kwargs)},"name":${JSON.stringify(s.name)}}`;
  }
  steps += "]";
  return (
    `{"datasource":${recipe.datasource === null ? "null" : flatJson(recipe.datasource)},"env":${JSON.stringify(recipe.env)},` +
    `"inputs":${JSON.stringify(recipe.inputs)},"outputs":${outputsJson(recipe.outputs)},"seed":${JSON.stringify(recipe.seed)},"steps":${steps}}`
  );
}

/** The experiment's key in the lock: its units' keys, order-independent. */
export function experimentKey(unitKeys: UnitKey[]): Digest {
  return digestBytes([...unitKeys].sort().join("\n"));
}
