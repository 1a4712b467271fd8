import { posix } from "node:path";
import { BASELINE, type ExperimentConfig } from "../config/types.js";
import { AggregateConfigError, CrystallizeError, didYouMean } from "../errors/error.js";

/** One resolved `experiment#output` read by a datasource alias. */
export interface Edge {
  alias: string;
  /** Name of the upstream experiment. */
  experiment: string;
  /** Output alias in the upstream experiment. */
  output: string;
}

export interface GraphNode {
  config: ExperimentConfig;
  /** References read by this experiment, in datasource order. */
  inputs: Edge[];
  /** Names of upstream experiments, sorted, unique. */
  upstream: string[];
  /** Names of downstream experiments, sorted, unique. */
  downstream: string[];
}

/** The experiment DAG: every reference resolved, names unique, no cycles. */
export class Graph {
  readonly nodes: ReadonlyMap<string, GraphNode>;
  /** Every experiment name in a topological order (upstream first, ties by name). */
  readonly order: readonly string[];

  private constructor(nodes: Map<string, GraphNode>, order: string[]) {
    this.nodes = nodes;
    this.order = order;
  }

  static build(experiments: ExperimentConfig[]): Graph {
    const errors: CrystallizeError[] = [];
    const byName = new Map<string, ExperimentConfig>();
    for (const cfg of experiments) {
      const other = byName.get(cfg.name);
      if (other) {
        errors.push(new CrystallizeError("DUPLICATE_NAME", `two experiments are named "${cfg.name}": ${other.configFile} and ${cfg.configFile}`, {
          location: cfg.nameLocation ?? cfg.location,
          hint: "set a distinct `name:` in one of them (names identify experiments in references and under data/)",
        }));
      } else byName.set(cfg.name, cfg);
    }
    const byFolder = new Map(experiments.map((c) => [c.folderId, c]));
    const nodes = new Map<string, GraphNode>();
    for (const cfg of byName.values()) nodes.set(cfg.name, { config: cfg, inputs: [], upstream: [], downstream: [] });

    for (const node of nodes.values()) {
      for (const entry of node.config.datasource ?? []) {
        if (!entry.ref) continue;
        const target = byName.get(entry.ref.experiment) ?? byFolder.get(entry.ref.experiment);
        const text = `${entry.ref.experiment}#${entry.ref.output}`;
        if (!target) {
          const guess = didYouMean(entry.ref.experiment, [...byName.keys()]);
          errors.push(new CrystallizeError("BAD_REFERENCE", `datasource.${entry.alias}: no experiment "${entry.ref.experiment}" (in ${text})`, {
            location: entry.location,
            hint: guess ? `did you mean \`${guess}#${entry.ref.output}\`?` : `known experiments: ${[...byName.keys()].join(", ") || "none"}`,
          }));
          continue;
        }
        if (!target.outputs.some((o) => o.alias === entry.ref!.output)) {
          const names = target.outputs.map((o) => o.alias);
          const guess = didYouMean(entry.ref.output, names);
          errors.push(new CrystallizeError("BAD_REFERENCE", `datasource.${entry.alias}: experiment "${target.name}" has no output "${entry.ref.output}" (in ${text})`, {
            location: entry.location,
            hint: guess ? `did you mean \`${target.name}#${guess}\`?` : names.length ? `its outputs: ${names.join(", ")}` : `${target.configFile} declares no \`outputs:\``,
          }));
          continue;
        }
        if (target.name === node.config.name) {
          errors.push(new CrystallizeError("CYCLE", `experiment "${target.name}" reads its own output (${text})`, { location: entry.location, hint: "an experiment cannot depend on itself" }));
          continue;
        }
        node.inputs.push({ alias: entry.alias, experiment: target.name, output: entry.ref.output });
      }
      node.upstream = [...new Set(node.inputs.map((e) => e.experiment))].sort();
    }
    for (const node of nodes.values()) for (const up of node.upstream) nodes.get(up)?.downstream.push(node.config.name);
    for (const node of nodes.values()) node.downstream.sort();

    if (errors.length === 0) {
      const cycle = findCycle(nodes);
      if (cycle) {
        const first = nodes.get(cycle[0])!;
        errors.push(new CrystallizeError("CYCLE", `dependency cycle: ${cycle.join(" -> ")}`, {
          location: first.config.datasourceLocation ?? first.config.location,
          hint: "experiments must form a DAG; remove one of these references",
        }));
      }
    }
    const order = errors.length === 0 ? topoOrder(nodes) : [];
    errors.push(...hypothesesWithoutTreatments(nodes, order));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateConfigError(errors);
    return new Graph(nodes, order);
  }

  node(name: string): GraphNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`unknown experiment ${name}`);
    return n;
  }

  /**
   * Resolves targets given on the command line: experiment names, folder ids, or folders as
   * paths from `from` (where the command runs, relative to the workspace root). A folder in or
   * of an experiment (`.` in its folder) is that experiment; a folder holding experiments (a
   * group, the experiments folder) is all of them.
   */
  resolveTargets(targets: string[], from = ""): string[] {
    const names: string[] = [];
    const nodes = [...this.nodes.values()];
    for (const t of targets) {
      const byName = this.nodes.get(t) ?? nodes.find((n) => n.config.folderId === t || n.config.dir === t.replace(/\/+$/, ""));
      if (byName) {
        names.push(byName.config.name);
        continue;
      }
      const path = posix.normalize(posix.join(from, t)).replace(/\/+$/, "");
      const containing = nodes.filter((n) => path === n.config.dir || path.startsWith(n.config.dir + "/")).sort((a, b) => b.config.dir.length - a.config.dir.length)[0];
      if (containing) {
        names.push(containing.config.name);
        continue;
      }
      const contained = nodes.filter((n) => path === "." || n.config.dir.startsWith(path + "/"));
      if (contained.length > 0) names.push(...contained.map((n) => n.config.name));
      else {
        const guess = didYouMean(t, [...this.nodes.keys()]);
        throw new CrystallizeError("UNKNOWN_TARGET", `no experiment "${t}"`, {
          hint: guess ? `did you mean \`${guess}\`?` : `known experiments: ${[...this.nodes.keys()].join(", ") || "none"}`,
        });
      }
    }
    return [...new Set(names)];
  }

  /** The one experiment a command about a single experiment is given (see resolveTargets). */
  resolveTarget(target: string, from = ""): string {
    const names = this.resolveTargets([target], from);
    if (names.length > 1) throw new CrystallizeError("USAGE", `"${target}" holds ${names.length} experiments: ${names.join(", ")}`, { hint: "name one of them" });
    return names[0];
  }

  /** The targets and everything upstream of them, in topological order. Empty targets: all. */
  closure(targets: string[]): string[] {
    if (targets.length === 0) return [...this.order];
    const keep = new Set<string>();
    const visit = (name: string) => {
      if (keep.has(name)) return;
      keep.add(name);
      for (const up of this.node(name).upstream) visit(up);
    };
    targets.forEach(visit);
    return this.order.filter((n) => keep.has(n));
  }
}

function findCycle(nodes: Map<string, GraphNode>): string[] | undefined {
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, "active");
    stack.push(name);
    for (const up of nodes.get(name)!.upstream) {
      if (state.get(up) === "active") return [...stack.slice(stack.indexOf(up)), up];
      if (!state.has(up)) {
        const c = visit(up);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of [...nodes.keys()].sort()) {
    if (!state.has(name)) {
      const c = visit(name);
      // The walk follows upstream edges; show the cycle in data-flow order.
      if (c) return c.reverse();
    }
  }
  return undefined;
}

function topoOrder(nodes: Map<string, GraphNode>): string[] {
  const order: string[] = [];
  const indegree = new Map([...nodes].map(([n, node]) => [n, node.upstream.length]));
  // Kept sorted in reverse, so the next name is popped off the end; a name is inserted at its
  // place rather than re-sorting the whole list each time.
  const ready = [...nodes.keys()].filter((n) => indegree.get(n) === 0).sort().reverse();
  while (ready.length > 0) {
    const n = ready.pop()!;
    order.push(n);
    for (const d of nodes.get(n)!.downstream) {
      indegree.set(d, indegree.get(d)! - 1);
      if (indegree.get(d) === 0) ready.splice(insertionPoint(ready, d), 0, d);
    }
  }
  return order;
}

/** Where `name` goes in `desc` (sorted descending) to keep it sorted. */
function insertionPoint(desc: string[], name: string): number {
  let lo = 0;
  let hi = desc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (desc[mid] > name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A hypothesis compares treatments with the baseline. Treatments flow downstream, so an
 * experiment may test its upstreams' treatments; with none declared here or upstream, its
 * hypotheses could never be evaluated.
 */
function hypothesesWithoutTreatments(nodes: Map<string, GraphNode>, order: string[]): CrystallizeError[] {
  const hasTreatment = new Map<string, boolean>();
  const errors: CrystallizeError[] = [];
  for (const name of order) {
    const node = nodes.get(name)!;
    const own = node.config.treatments.some((t) => t.name !== BASELINE);
    hasTreatment.set(name, own || node.upstream.some((u) => hasTreatment.get(u)));
    if (node.config.hypotheses.length > 0 && !hasTreatment.get(name)) {
      errors.push(new CrystallizeError("CONFIG_VALUE", "hypotheses: a hypothesis compares treatments with the baseline, but no treatment is declared here or upstream", {
        location: node.config.hypotheses[0].location,
        hint: "add a treatment under `treatments:` (here or in an experiment this one reads) or remove `hypotheses:`",
      }));
    }
  }
  return errors;
}
