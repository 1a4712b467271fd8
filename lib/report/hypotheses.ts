import { join, relative } from "node:path";
import { HYPOTHESES_FILE, type HypothesisVerdict } from "../hypotheses/types.js";
import type { ExperimentResult } from "../run/results.js";
import type { Paint } from "./style.js";

/** Four significant digits; small p-values in exponent form, where zeros would hide them. */
function pValue(p: number): string {
  return (p !== 0 && p < 1e-3 ? p.toExponential(3) : p.toPrecision(4)).replace(/\.?0+(e|$)/, "$1");
}

/** The summary's lines for an experiment's verdicts: per hypothesis, a line per treatment. */
export function hypothesesLines(verdicts: HypothesisVerdict[], paint: Paint): string[] {
  const lines = ["  hypotheses:"];
  for (const h of verdicts) {
    const best = h.best ? `  best: ${paint("bold", h.best)}` : "";
    lines.push(`    ${h.name}  ${paint("dim", `${h.verifier} on ${h.metrics.join(", ") || "(no metrics)"}`)}${best}`);
    const treatments = Object.entries(h.results);
    if (treatments.length === 0) lines.push(paint("dim", "      no treatment recorded metrics"));
    for (const [treatment, o] of treatments) {
      const label = `      ${treatment.padEnd(12)} `;
      if (!o.ok) {
        lines.push(label + paint("red", `error: ${o.error}`));
        continue;
      }
      const p = o.pValue === null ? "no p-value" : `p = ${pValue(o.pValue)}`;
      const verdict = o.significant === null ? "" : o.significant ? `  ${paint("green", "significant")}` : `  ${paint("dim", "not significant")}`;
      lines.push(label + p + verdict);
    }
  }
  return lines;
}

/** `build --json`: an experiment's verdicts, where they are on disk, and whether this build computed them. */
export function hypothesesJson(r: ExperimentResult, root: string, dataDir: string): Record<string, unknown> | null {
  if (!r.hypotheses || r.version === undefined) return null;
  return {
    path: relative(root, join(dataDir, r.name, `v${r.version}`, HYPOTHESES_FILE)),
    recomputed: r.hypotheses.recomputed,
    verdicts: r.hypotheses.verdicts,
  };
}
