import { canonicalJson, digestBytes } from "../hash/digest.js";
import type { StatCache } from "../hash/stat-cache.js";
import type { Store, UnitRecord } from "./store.js";
import { latestVersion, materializeView, type MetadataFile, type ResultsFile, type ViewState } from "./views.js";

export interface SettleInput {
  experiment: string;
  /** Every unit's record, sorted by replicate then condition. */
  records: UnitRecord[];
  /** Conditions in the order of this build's plan. */
  conditions: string[];
  replicates: number;
  seed: number;
  outputs: MetadataFile["outputs"];
  /** `experiment#output` -> the upstream version this result read. */
  upstream: Record<string, number>;
  tag: string;
}

function resultsFiles(records: UnitRecord[], conditions: string[]): Record<string, ResultsFile> {
  const results: Record<string, ResultsFile> = {};
  for (const c of conditions) results[c] = { metrics: {}, replicates: [] };
  for (const r of records) {
    results[r.condition].replicates.push({ replicate: r.replicate, seed: r.seed, metrics: r.metrics });
    for (const [k, v] of Object.entries(r.metrics)) (results[r.condition].metrics[k] ??= []).push(...v);
  }
  return results;
}

/**
 * Gives a complete result its version: the one that already holds the same outputs and metrics,
 * or the next number. The version index is written before the view, so a build killed in
 * between finds the number taken and only materialises the view. A version's metadata is fixed
 * when it is first written: rebuilding its view later (after the upstream moved on, or the
 * treatments were reordered) gives the same files.
 */
export async function settleVersion(store: Store, statCache: StatCache, i: SettleInput): Promise<{ version: number; view: ViewState }> {
  const resultId = digestBytes(canonicalJson({ results: resultsFiles(i.records, i.conditions), outputs: i.records.map((r) => [r.condition, r.replicate, r.outputs]) }));
  const index = await store.readVersions(i.experiment);
  let version = index.results[resultId];
  let metadata = version === undefined ? undefined : index.metadata[version];
  const fresh = version === undefined;
  if (version === undefined || metadata === undefined) {
    version ??= Math.max(store.isNew(i.experiment) ? -1 : latestVersion(store.dataDir, i.experiment), ...Object.values(index.results)) + 1;
    metadata = { name: i.experiment, version, replicates: i.replicates, seed: i.seed, conditions: i.conditions, outputs: i.outputs, upstream: i.upstream };
    index.results[resultId] = version;
    index.units[version] = i.records.map((r) => r.key);
    index.metadata[version] = metadata;
    await store.writeVersions(i.experiment, index);
  }
  const view = await materializeView(store, statCache, i.experiment, {
    metadata,
    results: resultsFiles(i.records, metadata.conditions),
    units: i.records.map((r) => ({ condition: r.condition, replicate: r.replicate, outputs: r.outputs })),
  }, i.tag, fresh);
  return { version, view };
}
