import type { Assessment } from "../plan/assess.js";
import { describeReason } from "../plan/reasons.js";
import type { Paint } from "./style.js";

/** One line per experiment: state, name, units to run, and every reason, for humans. */
export function renderAssessment(assessments: Iterable<Assessment>, paint: Paint, { onlyStale = false } = {}): string {
  const lines: string[] = [];
  for (const a of assessments) {
    if (onlyStale && a.state === "fresh") continue;
    const state = a.state === "fresh" ? paint("green", "fresh  ") : a.state === "stale" ? paint("yellow", "stale  ") : paint("yellow", "blocked");
    const units = a.state === "stale" && a.unitsKnown ? paint("dim", ` (${a.toRun}/${a.total} units)`) : "";
    lines.push(`${state} ${a.name}${units}${a.reasons.length ? ": " + a.reasons.map(describeReason).join("; ") : ""}`);
  }
  return lines.join("\n");
}

/** The JSON form of a reason: the structured fields plus the sentence. */
export function reasonJson(r: Parameters<typeof describeReason>[0]): Record<string, unknown> {
  return { ...r, message: describeReason(r) };
}
