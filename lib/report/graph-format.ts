import type { ExperimentStatus } from "../api/status.js";
import type { Graph } from "../graph/graph.js";
import { statusMark, statusWord } from "./status-style.js";
import { makePaint, type Paint } from "./style.js";
import { table } from "./table.js";

export type GraphFormat = "text" | "mermaid" | "dot" | "json";
export const GRAPH_FORMATS: GraphFormat[] = ["text", "mermaid", "dot", "json"];

export interface GraphRenderOptions {
  /** Status per experiment; without it the graph shows structure only. */
  status?: ReadonlyMap<string, ExperimentStatus>;
  /** Colours for the text format (the others are files for other tools: never coloured). */
  paint?: Paint;
}

const quote = (s: string) => JSON.stringify(s);

/** Mermaid class per status that is not fresh: class names must be plain words. */
const MERMAID_CLASS: Record<Exclude<ExperimentStatus, "fresh">, { name: string; style: string }> = {
  stale: { name: "stale", style: "fill:#fff3b0,stroke:#b08800,color:#000" },
  blocked: { name: "blocked", style: "fill:#fff9db,stroke:#b08800,stroke-dasharray:4 2,color:#000" },
  failed: { name: "failed", style: "fill:#ffc9c9,stroke:#c92a2a,color:#000" },
  "never built": { name: "neverbuilt", style: "fill:#f1f3f5,stroke:#868e96,stroke-dasharray:4 2,color:#495057" },
};

/** Graphviz node attributes per status. */
const DOT_ATTRS: Record<ExperimentStatus, string> = {
  fresh: "",
  stale: `style="rounded,filled", fillcolor="#fff3b0"`,
  blocked: `style="rounded,filled,dashed", fillcolor="#fff9db"`,
  failed: `style="rounded,filled", fillcolor="#ffc9c9"`,
  "never built": `style="rounded,dashed", color="#868e96", fontcolor="#495057"`,
};

/** Renders the experiments in `names` (topological order) and the edges between them. */
export function renderGraph(graph: Graph, names: readonly string[], format: GraphFormat, options: GraphRenderOptions = {}): string {
  const { status } = options;
  const keep = new Set(names);
  const edges = names.flatMap((n) =>
    graph.node(n).inputs.filter((e) => keep.has(e.experiment)).map((e) => ({ from: e.experiment, to: n, label: e.output })),
  );
  switch (format) {
    case "json":
      return JSON.stringify(
        {
          nodes: names.map((n) => ({ name: n, dir: graph.node(n).config.dir, upstream: graph.node(n).upstream.filter((u) => keep.has(u)), ...(status ? { status: status.get(n) } : {}) })),
          edges,
        },
        null,
        2,
      );
    case "mermaid":
      return renderMermaid(names, edges, status);
    case "dot":
      return [
        "digraph crystallize {",
        "  rankdir=LR;",
        "  node [shape=box, style=rounded];",
        ...names.map((n) => {
          const s = status?.get(n);
          const attrs = s ? [`tooltip=${quote(s)}`, DOT_ATTRS[s]].filter(Boolean).join(", ") : "";
          return `  ${quote(n)}${attrs ? ` [${attrs}]` : ""};`;
        }),
        ...edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.label)}];`),
        "}",
      ].join("\n");
    case "text":
      return renderText(graph, names, keep, status, options.paint ?? makePaint(false));
  }
}

/** Mermaid node ids must be plain words. */
function id(name: string): string {
  return "n_" + name.replace(/[^A-Za-z0-9_]/g, "_");
}

function renderMermaid(names: readonly string[], edges: Array<{ from: string; to: string; label: string }>, status: GraphRenderOptions["status"]): string {
  const classOf = (n: string) => {
    const s = status?.get(n);
    return s && s !== "fresh" ? MERMAID_CLASS[s].name : undefined;
  };
  const used = new Set(names.map((n) => status?.get(n)).filter((s): s is Exclude<ExperimentStatus, "fresh"> => s !== undefined && s !== "fresh"));
  return [
    "graph LR",
    ...names.map((n) => `  ${id(n)}[${quote(n)}]${classOf(n) ? `:::${classOf(n)}` : ""}`),
    ...edges.map((e) => `  ${id(e.from)} -->|${e.label}| ${id(e.to)}`),
    ...[...used].map((s) => `  classDef ${MERMAID_CLASS[s].name} ${MERMAID_CLASS[s].style}`),
  ].join("\n");
}

/** Layers by longest path from a root; each experiment lists what it reads (and its status). */
function renderText(graph: Graph, names: readonly string[], keep: Set<string>, status: GraphRenderOptions["status"], paint: Paint): string {
  const layer = new Map<string, number>();
  for (const n of names) layer.set(n, Math.max(-1, ...graph.node(n).upstream.filter((u) => keep.has(u)).map((u) => layer.get(u)!)) + 1);
  const readsOf = (n: string) => {
    const reads = graph.node(n).inputs.filter((e) => keep.has(e.experiment)).map((e) => `${e.experiment}#${e.output}`);
    return reads.length ? `<- ${reads.join(", ")}` : "";
  };
  // With status, one table over every node so that columns line up across levels.
  const rows = status ? table(names.map((n) => [`${statusMark(status.get(n)!, paint)} ${n}`, statusWord(status.get(n)!, paint), readsOf(n)]), "  ") : undefined;
  const lines: string[] = [];
  const depth = Math.max(-1, ...layer.values());
  for (let l = 0; l <= depth; l++) {
    lines.push(`level ${l}`);
    names.forEach((n, i) => {
      if (layer.get(n) !== l) return;
      lines.push(rows ? rows[i] : `  ${n}${readsOf(n) ? `  ${readsOf(n)}` : ""}`);
    });
  }
  return lines.join("\n");
}
