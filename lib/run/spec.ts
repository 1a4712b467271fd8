import { join } from "node:path";
import type { Graph } from "../graph/graph.js";
import type { Unit } from "../plan/plan.js";
import type { ExportRef, SourceSpec, UnitSpec } from "../runtime/protocol.js";

export interface SpecInput {
  id: string;
  unit: Unit;
  root: string;
  graph: Graph;
  dataDir: string;
  /** The single default data source export, when the config has no `datasource:`. */
  single: string | undefined;
  /** The version folder of an upstream experiment this build settled on. */
  versionOf(experiment: string): number;
  /** Where the worker writes an output of this unit. */
  stagingPath(alias: string): string;
}

/** The message telling a worker how to run one unit: absolute paths, exports, values. */
export function unitSpec({ id, unit, root, graph, dataDir, single, versionOf, stagingPath }: SpecInput): UnitSpec {
  const cfg = graph.node(unit.experiment).config;
  const ref = (role: "datasources" | "steps" | "outputs", name: string, modules = cfg.modules): ExportRef => ({ module: join(root, modules[role]!), name });
  let input: UnitSpec["input"] = { kind: "none" };
  if (cfg.datasource) {
    const sources: SourceSpec[] = cfg.datasource.map((d) => {
      if (d.exportName) return { kind: "local", alias: d.alias, fn: ref("datasources", d.exportName) };
      const read = unit.reads.find((r) => r.alias === d.alias)!;
      const up = graph.node(read.experiment).config;
      const out = up.outputs.find((o) => o.alias === read.output)!;
      return {
        kind: "ref",
        alias: d.alias,
        path: join(dataDir, read.experiment, `v${versionOf(read.experiment)}`, `replicate_${read.replicate}`, read.condition, out.fileName),
        loader: out.loader ? ref("outputs", out.loader, up.modules) : undefined,
      };
    });
    input = { kind: "map", sources };
  } else if (single) {
    input = { kind: "single", fn: ref("datasources", single) };
  }
  return {
    id,
    experiment: unit.experiment,
    condition: unit.condition.name,
    replicate: unit.replicate,
    seed: unit.seed,
    dir: join(root, cfg.dir),
    input,
    steps: cfg.steps.map((s) => ({ fn: ref("steps", s.name), kwargs: s.kwargs })),
    treatment: unit.condition.values,
    outputs: cfg.outputs.map((o) => ({ alias: o.alias, fileName: o.fileName, path: stagingPath(o.alias), writer: o.writer ? ref("outputs", o.writer) : undefined })),
  };
}
