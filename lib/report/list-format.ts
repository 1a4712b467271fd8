import type { ExperimentStatus } from "../api/status.js";
import type { ExperimentConfig } from "../config/types.js";
import { statusMark, statusWord } from "./status-style.js";
import type { Paint } from "./style.js";
import { table } from "./table.js";

/** Group of an experiment without `cli.group`, as in Crystallize 0.x. */
export const DEFAULT_GROUP = "Experiments";
/** Group of a graph experiment (one reading another's output) without `cli.group`. */
export const DEFAULT_GRAPH_GROUP = "Graphs";

/** One experiment as `crystallize list --json` reports it. */
export interface ListEntry {
  name: string;
  /** The experiment folder, relative to the workspace root. */
  dir: string;
  /** `cli.group`, else `Graphs` for a graph experiment, else `Experiments`. */
  group: string;
  /** `cli.priority`; null when unset (listed after those with one). */
  priority: number | null;
  /** `cli.hidden`; hidden experiments appear only with `--all`. */
  hidden: boolean;
  /** True when it reads another experiment's output. */
  graph: boolean;
  /** Experiments it reads from, sorted. */
  upstream: string[];
  status: ExperimentStatus;
  /** The current version folder (`v<N>`), null when there is none. */
  version: number | null;
  description: string | null;
  /** `cli.icon` and `cli.color`, for tools that draw their own lists. */
  icon: string | null;
  color: string | null;
}

/** The document `crystallize list --json` prints: experiments in display order. */
export interface ListDocument {
  command: "list";
  experiments: ListEntry[];
}

export function listEntry(cfg: ExperimentConfig, upstream: string[], status: ExperimentStatus, version: number | null): ListEntry {
  const graph = upstream.length > 0;
  return {
    name: cfg.name,
    dir: cfg.dir,
    group: cfg.cli.group ?? (graph ? DEFAULT_GRAPH_GROUP : DEFAULT_GROUP),
    priority: cfg.cli.priority ?? null,
    hidden: cfg.cli.hidden ?? false,
    graph,
    upstream: [...upstream],
    status,
    version,
    description: cfg.description ?? null,
    icon: cfg.cli.icon ?? null,
    color: cfg.cli.color ?? null,
  };
}

/** Groups by name; inside a group by priority (lower first, unset last), then by name. */
export function orderEntries(entries: readonly ListEntry[]): ListEntry[] {
  const byPriority = (e: ListEntry) => e.priority ?? Infinity;
  return [...entries].sort((a, b) => cmp(a.group, b.group) || byPriority(a) - byPriority(b) || cmp(a.name, b.name));
}

/** Code-unit order: the same on every machine, whatever its locale. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A heading per group, then one line per experiment: name, status, version, reads, description. */
export function renderList(entries: readonly ListEntry[], paint: Paint): string {
  if (entries.length === 0) return "no experiments";
  const lines: string[] = [];
  const ordered = orderEntries(entries);
  const groups = [...new Set(ordered.map((e) => e.group))];
  // One table for every group, so that columns line up down the whole list.
  const rows = ordered.map((e) => [
    `${statusMark(e.status, paint)} ${e.name}`,
    statusWord(e.status, paint) + (e.hidden ? paint("dim", " (hidden)") : ""),
    e.version === null ? "" : paint("dim", `v${e.version}`),
    e.graph ? `graph <- ${e.upstream.join(", ")}` : "",
    e.description ?? "",
  ]);
  const rendered = table(rows, "  ");
  for (const g of groups) {
    lines.push(paint("bold", g));
    ordered.forEach((e, i) => e.group === g && lines.push(rendered[i]));
  }
  return lines.join("\n");
}
