import { statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { Graph } from "../graph/graph.js";
import { renderGraph, type GraphFormat } from "../report/graph-format.js";
import { toPosix } from "../workspace/workspace.js";
import { buildWorkspace, type BuildOptions, type BuildOutcome } from "./build.js";
import { openWorkspace, type LoadedWorkspace } from "./open.js";

/**
 * The experiment graph of a workspace, for use from code:
 * `const g = await ExperimentGraph.fromYaml("experiments/"); await g.run();`
 */
export class ExperimentGraph {
  private constructor(
    private readonly loaded: LoadedWorkspace,
    /** Experiments this graph covers, topologically ordered. */
    readonly experiments: readonly string[],
  ) {}

  /**
   * Loads from a folder (the workspace root, its experiments folder or any folder inside it:
   * the experiments below it and their upstreams) or from one `config.yaml` (that experiment
   * and its upstreams).
   */
  static async fromYaml(path: string): Promise<ExperimentGraph> {
    const abs = resolve(path);
    const isFile = statSync(abs).isFile();
    const folder = isFile ? dirname(abs) : abs;
    // Built when the caller says, maybe long after: analyses started now could be of old code.
    const loaded = await openWorkspace(folder, { analyze: false });
    const { workspace, graph } = loaded;
    const rel = toPosix(relative(workspace.root, folder)) || ".";
    const expRoot = workspace.settings.experiments;
    let selected: string[];
    if (isFile) {
      selected = graph.closure(graph.resolveTargets([rel]));
    } else if (rel === "." || rel === expRoot) {
      selected = [...graph.order];
    } else {
      const inside = [...graph.nodes.values()].filter((n) => n.config.dir === rel || n.config.dir.startsWith(rel + "/")).map((n) => n.config.name);
      selected = graph.closure(inside);
    }
    return new ExperimentGraph(loaded, selected);
  }

  /** The workspace root this graph belongs to. */
  get root(): string {
    return this.loaded.workspace.root;
  }

  /** Names of the experiments each one reads from. */
  upstreamOf(name: string): string[] {
    return [...this.graph.node(name).upstream];
  }

  private get graph(): Graph {
    return this.loaded.graph;
  }

  /** Builds the graph's experiments (or `options.targets`) and their upstreams. */
  run(options: BuildOptions = {}): Promise<BuildOutcome> {
    return buildWorkspace(this.loaded, { ...options, targets: options.targets ?? [...this.experiments] });
  }

  visualize(format: GraphFormat = "text"): string {
    return renderGraph(this.graph, this.experiments, format);
  }
}
