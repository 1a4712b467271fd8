import { join, relative } from "node:path";
import type { ExperimentResult } from "../run/results.js";
import type { Graph } from "../graph/graph.js";
import { hypothesesLines } from "./hypotheses.js";
import type { Paint } from "./style.js";

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function show(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  const s = JSON.stringify(value);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** Per-metric line: the value when there is one, the mean and n when numeric, else the values. */
function metricLine(values: unknown[]): string {
  if (values.length === 1) return show(values[0]);
  if (values.every((v) => typeof v === "number")) return `mean ${show(mean(values as number[]))}  (n=${values.length})`;
  return values.map(show).join(", ");
}

/**
 * The end-of-build summary: a section per experiment with its metrics, hypotheses and
 * artifacts, for what this build ran or judged anew, or for the targets when everything was
 * already up to date.
 */
export function renderSummary(results: ExperimentResult[], targets: string[], graph: Graph, root: string, dataDir: string, paint: Paint): string {
  const lines: string[] = [];
  const worked = (r: ExperimentResult) => r.status === "built" || r.hypotheses?.recomputed === true;
  const anyWorked = results.some(worked);
  for (const r of results) {
    if (anyWorked ? !worked(r) : r.status !== "cached" || !targets.includes(r.name)) continue;
    const cfg = graph.node(r.name).config;
    lines.push(paint("bold", `${r.name}`) + paint("dim", `  v${r.version}`));
    const byCondition = new Map<string, Map<string, unknown[]>>();
    for (const u of [...r.units].sort((a, b) => a.replicate - b.replicate)) {
      if (u.outcome.status !== "ok") continue;
      const m = byCondition.get(u.condition) ?? new Map<string, unknown[]>();
      for (const [k, v] of Object.entries(u.outcome.record.metrics)) m.set(k, [...(m.get(k) ?? []), ...v]);
      byCondition.set(u.condition, m);
    }
    const withMetrics = [...byCondition].filter(([, m]) => m.size > 0);
    if (withMetrics.length > 0) {
      lines.push("  metrics:");
      for (const [condition, metrics] of withMetrics) {
        for (const [name, values] of [...metrics].sort(([a], [b]) => a.localeCompare(b))) {
          lines.push(`    ${condition.padEnd(12)} ${name.padEnd(24)} ${metricLine(values)}`);
        }
      }
    }
    if (r.hypotheses) lines.push(...hypothesesLines(r.hypotheses.verdicts, paint));
    if (cfg.outputs.length > 0) {
      lines.push("  artifacts:");
      const base = relative(root, join(dataDir, r.name, `v${r.version}`)) || ".";
      for (const o of cfg.outputs) {
        const example = `${base}/replicate_0/baseline/${o.fileName}`;
        const count = r.units.length;
        lines.push(`    ${o.alias.padEnd(16)} ${example}${count > 1 ? paint("dim", `  (+${count - 1} more: replicate_*/<condition>/)`) : ""}`);
      }
    }
    if (withMetrics.length === 0 && cfg.outputs.length === 0) lines.push(paint("dim", "  no metrics, no artifacts"));
  }
  return lines.join("\n");
}
