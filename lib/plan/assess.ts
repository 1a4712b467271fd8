import type { Digest } from "../hash/digest.js";
import { experimentKey, normalizeConfig, type ExperimentFacts, type UnitKey } from "../hash/keys.js";
import type { Graph } from "../graph/graph.js";
import type { LockFile } from "../lock/lockfile.js";
import type { KeyFn } from "./plan.js";
import type { UnitRecord } from "../store/store.js";
import type { BuildPlan, Read } from "./plan.js";
import { componentReasons, upstreamReasons, type Reason } from "./reasons.js";

/** fresh: nothing to run. stale: some units will run. blocked: waits on a stale upstream. */
export type ExperimentState = "fresh" | "stale" | "blocked";

export interface Assessment {
  name: string;
  state: ExperimentState;
  /** Units that will run (for blocked experiments: unknown until the upstream has run). */
  toRun: number;
  total: number;
  /** False when only the experiment as a whole is known to be stale (`check` sees no unit keys). */
  unitsKnown: boolean;
  reasons: Reason[];
  /** The experiment key, when every upstream is fresh. */
  key?: Digest;
}

/** Where results are looked up: the store (build, status) or only the lock (check). */
export type Source =
  | { kind: "store"; lookup(key: UnitKey): Promise<UnitRecord | undefined>; failure(key: UnitKey): Promise<{ message: string } | undefined> }
  | { kind: "lock" };

export interface AssessInput {
  graph: Graph;
  plan: BuildPlan;
  facts: ReadonlyMap<string, ExperimentFacts>;
  keyOf: KeyFn;
  lock: LockFile | undefined;
  force: ReadonlySet<string>;
  source: Source;
}

/**
 * Decides, without running anything, which experiments are stale and why. With the store as
 * source each unit is looked up by key; with the lock as source (`check`) the experiment key
 * is compared with the locked one and upstream digests come from the lock, so no data is read.
 */
export async function assess(input: AssessInput): Promise<Map<string, Assessment>> {
  const { graph, plan, lock, source } = input;
  const out = new Map<string, Assessment>();
  /** `exp` -> `condition/replicate/output alias` -> digest, for experiments known fresh. */
  const known = new Map<string, Map<string, Digest>>();

  for (const exp of plan.experiments) {
    const cfg = graph.node(exp.name).config;
    const entry = lock?.experiments[exp.name];
    // Only the reasons of a stale experiment need it.
    const config = () => normalizeConfig(cfg);
    const facts = input.facts.get(exp.name)!;
    const staleUps = graph.node(exp.name).upstream.filter((u) => out.has(u) && out.get(u)!.state !== "fresh");
    const total = exp.units.length;
    const forced = input.force.has(exp.name) && source.kind === "store";
    if (forced && staleUps.length > 0) {
      out.set(exp.name, { name: exp.name, state: "stale", toRun: total, total, unitsKnown: true, reasons: [{ kind: "forced" }] });
      continue;
    }
    if (staleUps.length > 0) {
      const reasons: Reason[] = staleUps.map((u) => ({ kind: "upstream-stale", experiment: u }));
      if (entry) reasons.push(...componentReasons(entry, config(), facts));
      out.set(exp.name, { name: exp.name, state: "blocked", toRun: total, total, unitsKnown: false, reasons });
      continue;
    }
    const readDigest = (read: Read): Digest => {
      const d = known.get(read.experiment)?.get(`${read.condition}/${read.replicate}/${read.output}`);
      if (d === undefined) throw new MissingUpstream(read);
      return d;
    };
    const reads: Record<string, Record<string, Digest>> = {};
    let keys: UnitKey[];
    try {
      keys = exp.units.map((u) => input.keyOf(u, readDigest));
      for (const u of exp.units) {
        for (const r of u.reads) (reads[`${r.experiment}#${r.output}`] ??= {})[`${u.condition.name}/replicate_${u.replicate}`] = readDigest(r);
      }
    } catch (err) {
      if (!(err instanceof MissingUpstream)) throw err;
      out.set(exp.name, { name: exp.name, state: "stale", toRun: total, total, unitsKnown: false, reasons: [{ kind: "lock-only", detail: `upstream ${err.read.experiment} has no locked output ${err.read.output} for ${err.read.condition}/replicate_${err.read.replicate}` }] });
      continue;
    }
    const key = experimentKey(keys);
    const outputs = new Map<string, Digest>();
    const diffs = () => (entry ? [...componentReasons(entry, config(), facts), ...upstreamReasons(entry, reads)] : [{ kind: "never-built" } as Reason]);

    if (source.kind === "lock") {
      if (entry && entry.key === key) {
        for (const u of exp.units) {
          for (const o of cfg.outputs) {
            const d = entry.outputs[`${u.condition.name}/replicate_${u.replicate}/${o.fileName}`];
            if (d !== undefined) outputs.set(`${u.condition.name}/${u.replicate}/${o.alias}`, d);
          }
        }
        known.set(exp.name, outputs);
        out.set(exp.name, { name: exp.name, state: "fresh", toRun: 0, total, unitsKnown: true, reasons: [], key });
      } else {
        const reasons = diffs();
        if (reasons.length === 0) reasons.push({ kind: "lock-only", detail: "the locked key does not match (was the lock edited by hand?)" });
        out.set(exp.name, { name: exp.name, state: "stale", toRun: total, total, unitsKnown: false, reasons, key });
      }
      continue;
    }

    if (forced) {
      out.set(exp.name, { name: exp.name, state: "stale", toRun: total, total, unitsKnown: true, reasons: [{ kind: "forced" }], key });
      continue;
    }
    const records = await Promise.all(keys.map((k) => source.lookup(k)));
    const missing = exp.units.filter((_, i) => !records[i]);
    if (missing.length === 0) {
      exp.units.forEach((u, i) => {
        for (const [alias, o] of Object.entries(records[i]!.outputs)) outputs.set(`${u.condition.name}/${u.replicate}/${alias}`, o.digest);
      });
      known.set(exp.name, outputs);
      out.set(exp.name, { name: exp.name, state: "fresh", toRun: 0, total, unitsKnown: true, reasons: [], key });
      continue;
    }
    const reasons = diffs();
    const failures = (await Promise.all(exp.units.map((u, i) => (records[i] ? undefined : source.failure(keys[i]))))).filter((f) => f !== undefined);
    if (failures.length > 0) reasons.push({ kind: "failed-before", units: failures.length, error: failures[0]!.message });
    if (reasons.length === 0 || (entry && entry.key === key)) reasons.push({ kind: "missing-output", units: missing.length - failures.length });
    out.set(exp.name, { name: exp.name, state: "stale", toRun: missing.length, total, unitsKnown: true, reasons: reasons.filter((r) => r.kind !== "missing-output" || r.units > 0), key });
  }
  return out;
}

class MissingUpstream extends Error {
  constructor(readonly read: Read) {
    super(`no digest for ${read.experiment}#${read.output}`);
  }
}
