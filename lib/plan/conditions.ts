import { BASELINE } from "../config/types.js";
import type { Graph } from "../graph/graph.js";

/** One condition an experiment runs: the baseline or a treatment, own or inherited. */
export interface Condition {
  name: string;
  /** Values in `ctx.params` for this condition: the treatment's over the baseline's. */
  values: Record<string, unknown>;
  /** The experiment that declares the treatment (itself, or an upstream for inherited ones). */
  declaredBy: string;
}

/**
 * Conditions of every experiment: the baseline, its own active treatments (config order), then
 * active treatments of its upstreams that it does not declare itself (by name, sorted).
 * A treatment switched off in an experiment's `config.state.json` runs neither there nor
 * downstream through that experiment.
 */
export function computeConditions(graph: Graph): Map<string, Condition[]> {
  const result = new Map<string, Condition[]>();
  for (const name of graph.order) {
    const cfg = graph.node(name).config;
    const baselineValues = cfg.treatments.find((t) => t.name === BASELINE)?.values ?? {};
    const own = new Set(cfg.treatments.map((t) => t.name));
    const inactive = new Set(cfg.inactiveTreatments);
    const conditions: Condition[] = [{ name: BASELINE, values: { ...baselineValues }, declaredBy: name }];
    for (const t of cfg.treatments) {
      if (t.name === BASELINE || inactive.has(t.name)) continue;
      conditions.push({ name: t.name, values: { ...baselineValues, ...t.values }, declaredBy: name });
    }
    const inherited = new Map<string, Condition>();
    for (const up of graph.node(name).upstream) {
      for (const c of result.get(up) ?? []) {
        if (c.name === BASELINE || own.has(c.name) || inactive.has(c.name) || inherited.has(c.name)) continue;
        const upstreamTreatment = graph.node(c.declaredBy).config.treatments.find((t) => t.name === c.name)?.values ?? {};
        inherited.set(c.name, { name: c.name, values: { ...baselineValues, ...upstreamTreatment }, declaredBy: c.declaredBy });
      }
    }
    for (const key of [...inherited.keys()].sort()) conditions.push(inherited.get(key)!);
    result.set(name, conditions);
  }
  return result;
}
