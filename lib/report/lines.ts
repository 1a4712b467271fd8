import type { ExperimentResult, UnitResult } from "../run/results.js";
import { formatElapsed, formatEta } from "./eta.js";
import type { ProgressRow } from "./progress.js";
import { seconds, type Paint } from "./style.js";

// The text both progress modes and the run log print for build events; the cursor handling of
// the live region and the writing are elsewhere.

/** `12:03:04`: local time of day, what a person compares with the clock and other logs. */
export function clockTime(d: Date): string {
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** Continuation lines (stack frames) are indented past the time, so the time column stays clean. */
export function stamp(time: string, text: string): string {
  return text
    .split("\n")
    .map((line, i) => (i === 0 ? `${time} ${line}` : `${" ".repeat(time.length)} ${line}`))
    .join("\n");
}

export function startedLine(name: string, units: number, paint: Paint): string {
  return `${paint("cyan", "▸")} ${name}` + paint("dim", units > 1 ? `  (${units} units)` : "");
}

/** Said as soon as a unit fails: the details come with the experiment's end. */
export function unitFailedLine(name: string, unit: UnitResult, done: number, total: number, paint: Paint): string | undefined {
  if (unit.outcome.status !== "failed") return undefined;
  return `${paint("red", "✗")} ${name} ${unit.condition}/replicate_${unit.replicate} failed (${done}/${total})`;
}

/** Error names that say nothing the message does not. */
const PLAIN_ERRORS = new Set(["Error", "ConfigError", "WorkerCrash"]);

/** How an experiment ended; for failures the first three failed units with their stacks. */
export function finishedLines(r: ExperimentResult, paint: Paint): string[] {
  if (r.status === "cached") {
    if (r.view !== "created" && r.view !== "repaired") return [];
    return [`${paint("green", "✓")} ${r.name}` + paint("dim", `  v${r.version}  ${r.view === "created" ? "restored" : "repaired"} from the store`)];
  }
  if (r.status === "built") {
    const ran = r.units.filter((u) => !u.cached).length;
    const partial = ran < r.units.length ? `  ${ran} of ${r.units.length} units ran, the rest from the store` : "";
    return [`${paint("green", "✓")} ${r.name}` + paint("dim", `  v${r.version}  ${seconds(r.durationMs)}${partial}`)];
  }
  if (r.status === "skipped") return [`${paint("yellow", "-")} ${r.name} skipped` + (r.skippedBecause ? ` (${r.skippedBecause})` : "")];
  const failed = r.units.filter((u) => u.outcome.status === "failed");
  const lines = [`${paint("red", "✗")} ${paint("bold", r.name)} failed: ${failed.length} of ${r.units.length} units`];
  for (const u of failed.slice(0, 3)) {
    if (u.outcome.status !== "failed") continue;
    const e = u.outcome.error;
    lines.push(`  ${u.condition}/replicate_${u.replicate}: ${PLAIN_ERRORS.has(e.name) ? "" : e.name + ": "}${e.message}`);
    if (e.stack) lines.push(...e.stack.split("\n").map((l) => "    " + l.trim()));
  }
  if (failed.length > 3) lines.push(paint("dim", `  ... and ${failed.length - 3} more failed units`));
  return lines;
}

export function logLine(experiment: string, line: string, paint: Paint): string {
  return paint("dim", `[${experiment}] `) + line;
}

export function warnLine(experiment: string, message: string, paint: Paint): string {
  return `${paint("yellow", "warning")} ${experiment}: ${message}`;
}

/** `producer  3/12 units  6.1s  ~12s left`, the name padded to `nameWidth` to align rows. */
export function progressLine(row: ProgressRow, paint: Paint, nameWidth = 0): string {
  const failed = row.failed > 0 ? paint("red", ` (${row.failed} failed)`) : "";
  const eta = formatEta(row.etaMs);
  return `${row.name.padEnd(nameWidth)}  ${row.done}/${row.total} units${failed}  ${paint("dim", formatElapsed(row.elapsedMs))}${eta ? "  " + eta : ""}`;
}

/** `text` without escape sequences, except colours when `colour` is set. */
export function stripEscapes(text: string, colour = false): string {
  return text
    .replace(/\x1b\[[0-9;?]*([A-Za-z])/g, (seq, final: string) => (colour && final === "m" ? seq : ""))
    .replace(/\x1b[\]P^_][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[^[]/g, "");
}

/**
 * A step's output line made safe to print: what a terminal would leave of `\r` overwrites (a
 * progress bar's last state), without cursor movement or other control codes that would break
 * the live region; colours are kept only when `colour` is set.
 */
export function cleanLogText(line: string, colour: boolean): string {
  const last = line.replace(/\r+$/, "").split("\r").pop() ?? "";
  // ESC stays only as the start of a colour that stripEscapes kept.
  return stripEscapes(last, colour).replace(/[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]|\x1b(?!\[)/g, "");
}
