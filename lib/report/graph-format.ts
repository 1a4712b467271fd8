import type { Graph } from "../graph/graph.js";

export type GraphFormat = "text" | "mermaid" | "dot" | "json";
export const GRAPH_FORMATS: GraphFormat[] = ["text", "mermaid", "dot", "json"];

const quote = (s: string) => JSON.stringify(s);

/** Renders the experiments in `names` (topological order) and the edges between them. */
export function renderGraph(graph: Graph, names: readonly string[], format: GraphFormat): string {
  const keep = new Set(names);
  const edges = names.flatMap((n) =>
    graph.node(n).inputs.filter((e) => keep.has(e.experiment)).map((e) => ({ from: e.experiment, to: n, label: e.output })),
  );
  switch (format) {
    case "json":
      return JSON.stringify({ nodes: names.map((n) => ({ name: n, dir: graph.node(n).config.dir, upstream: graph.node(n).upstream.filter((u) => keep.has(u)) })), edges }, null, 2);
    case "mermaid":
      return ["graph LR", ...names.map((n) => `  ${id(n)}[${quote(n)}]`), ...edges.map((e) => `  ${id(e.from)} -->|${e.label}| ${id(e.to)}`)].join("\n");
    case "dot":
      return [
        "digraph crystallize {",
        "  rankdir=LR;",
        "  node [shape=box, style=rounded];",
        ...names.map((n) => `  ${quote(n)};`),
        ...edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.label)}];`),
        "}",
      ].join("\n");
    case "text":
      return renderText(graph, names, keep);
  }
}

/** Mermaid node ids must be plain words. */
function id(name: string): string {
  return "n_" + name.replace(/[^A-Za-z0-9_]/g, "_");
}

/** Layers by longest path from a root; each experiment lists what it reads. */
function renderText(graph: Graph, names: readonly string[], keep: Set<string>): string {
  const layer = new Map<string, number>();
  for (const n of names) layer.set(n, Math.max(-1, ...graph.node(n).upstream.filter((u) => keep.has(u)).map((u) => layer.get(u)!)) + 1);
  const lines: string[] = [];
  const depth = Math.max(-1, ...layer.values());
  for (let l = 0; l <= depth; l++) {
    lines.push(`level ${l}`);
    for (const n of names.filter((x) => layer.get(x) === l)) {
      const reads = graph.node(n).inputs.filter((e) => keep.has(e.experiment)).map((e) => `${e.experiment}#${e.output}`);
      lines.push(`  ${n}${reads.length ? `  <- ${reads.join(", ")}` : ""}`);
    }
  }
  return lines.join("\n");
}
