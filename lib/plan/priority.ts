import type { Graph } from "../graph/graph.js";
import type { BuildPlan } from "./plan.js";

/**
 * Longest remaining path from each experiment to the end of the build, in estimated work:
 * when more work is ready than there are slots, the work on the critical path goes first.
 * An experiment's weight is its units times its mean unit duration from earlier builds; with
 * no history, every experiment weighs 1, so the longest chain of experiments goes first, and
 * ties go to the experiment with more direct dependents.
 */
export function criticalPathPriority(graph: Graph, plan: BuildPlan, timings: Record<string, number>): Map<string, number> {
  const inPlan = new Map(plan.experiments.map((e) => [e.name, e]));
  const known = Object.values(timings).filter((t) => t > 0).sort((a, b) => a - b);
  const typical = known.length ? known[Math.floor(known.length / 2)] : 1;
  const weight = (name: string) => (known.length ? (timings[name] ?? typical) * inPlan.get(name)!.units.length : 1);
  const priority = new Map<string, number>();
  for (const e of [...plan.experiments].reverse()) {
    const downstream = graph.node(e.name).downstream.filter((d) => inPlan.has(d));
    const longest = Math.max(0, ...downstream.map((d) => priority.get(d)!));
    // The dependents count breaks ties without ever outweighing one unit of path length.
    priority.set(e.name, weight(e.name) + longest + downstream.length * 1e-6);
  }
  return priority;
}
