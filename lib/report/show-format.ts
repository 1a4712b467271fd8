import { relative } from "node:path";
import type { ExperimentStatus } from "../api/status.js";
import type { HypothesisVerdict } from "../hypotheses/types.js";
import type { VersionFolder } from "../store/version-files.js";
import { toPosix } from "../workspace/workspace.js";
import { formatNumber, formatValue, summarize, type MetricSummary } from "./stats.js";
import { statusWord } from "./status-style.js";
import type { Paint } from "./style.js";
import { table } from "./table.js";

/** One output of a version: where its files are and how many there are. */
export interface ArtifactSummary {
  alias: string;
  file: string;
  /** `data/<exp>/v<N>/replicate_<r>/<condition>/<file>`: one file per replicate and condition. */
  pattern: string;
  /** Files present on disk. */
  files: number;
}

/** One `data/<exp>/v<N>` folder as `show --json` reports it. */
export interface VersionDetail {
  version: number;
  /** The folder, relative to the workspace root. */
  path: string;
  /** Whether this is the version `show` reports as current. */
  current: boolean;
  /** For the current version: `lock` (recorded in crystallize.lock) or `latest` (highest folder). */
  source: "lock" | "latest" | null;
  /** ISO time the version was written (its metadata.json's mtime). */
  created: string;
  replicates: number;
  seed: number;
  conditions: string[];
  /** Condition -> metric -> summary, conditions in the version's order, metrics sorted. */
  metrics: Record<string, Record<string, MetricSummary>>;
  /** The verdicts of `hypotheses.json`, as written by the build; null when there is no file. */
  hypotheses: HypothesisVerdict[] | null;
  /** Set when `hypotheses.json` exists but could not be read. */
  hypothesesError?: string;
  /**
   * True when the verdicts were computed from other hypotheses or verifier code than the
   * workspace has now (the file's digest differs); a build recomputes them without rerunning.
   */
  hypothesesOutdated?: boolean;
  artifacts: ArtifactSummary[];
  /** Upstream outputs this version read, and the upstream version read. */
  upstream: Array<{ experiment: string; output: string; version: number }>;
}

/** The document `crystallize show <exp> --json` prints. */
export interface ShowDocument {
  command: "show";
  name: string;
  /** The experiment folder, relative to the workspace root. */
  dir: string;
  description: string | null;
  status: ExperimentStatus;
  /** Why it is not fresh, as `status --json` gives them: structured fields and `message`. */
  reasons: Array<Record<string, unknown>>;
  /** Null when no version folder exists (the command then exits 1). */
  current: VersionDetail | null;
  /** Every version folder, oldest first; only with `--all-versions`. */
  versions?: VersionDetail[];
}

/** Turns what was read from a version folder into its report. Pure. */
export function versionDetail(folder: VersionFolder, root: string, current: { version: number; source: "lock" | "latest" } | undefined): VersionDetail {
  const path = toPosix(relative(root, folder.dir));
  const meta = folder.metadata;
  const metrics: VersionDetail["metrics"] = {};
  for (const condition of meta.conditions) {
    const byName = folder.metrics[condition] ?? {};
    metrics[condition] = Object.fromEntries(Object.keys(byName).sort().map((m) => [m, summarize(byName[m])]));
  }
  const isCurrent = current?.version === folder.version;
  const h = folder.hypotheses;
  return {
    version: folder.version,
    path,
    current: isCurrent,
    source: isCurrent ? current!.source : null,
    created: folder.created.toISOString(),
    replicates: meta.replicates,
    seed: meta.seed,
    conditions: [...meta.conditions],
    metrics,
    hypotheses: h && "hypotheses" in h ? h.hypotheses : null,
    ...(h && "error" in h ? { hypothesesError: h.error } : {}),
    artifacts: Object.entries(meta.outputs).map(([alias, file]) => ({ alias, file, pattern: `${path}/replicate_<r>/<condition>/${file}`, files: folder.fileCounts[alias] ?? 0 })),
    upstream: Object.entries(meta.upstream)
      .map(([ref, version]) => {
        const at = ref.lastIndexOf("#");
        return { experiment: ref.slice(0, at), output: ref.slice(at + 1), version };
      })
      .sort((a, b) => a.experiment.localeCompare(b.experiment) || a.output.localeCompare(b.output)),
  };
}

/** Local time to the minute, for people; JSON carries the exact ISO time. */
function when(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function metricCells(s: MetricSummary): string[] {
  if (s.kind === "numeric") return [String(s.n), formatNumber(s.mean), s.std === null ? "-" : formatNumber(s.std)];
  return [String(s.n), s.values.map((v) => formatValue(v)).join(", ")];
}

function metricsSection(v: VersionDetail): string[] {
  const rows = Object.entries(v.metrics).flatMap(([condition, ms]) => Object.entries(ms).map(([name, s]) => [condition, name, ...metricCells(s)]));
  if (rows.length === 0) return ["metrics: none recorded"];
  return ["metrics (n values, mean, sample standard deviation; non-numeric metrics as values):", ...table([["condition", "metric", "n", "mean", "std"], ...rows])];
}

function verdictLine(treatment: string, v: HypothesisVerdict["results"][string], paint: Paint): string[] {
  if (!v.ok) return [treatment, paint("red", `error: ${v.error}`)];
  const p = v.pValue === null ? formatValue(v.result, 60) : `p = ${formatNumber(v.pValue)}`;
  const sig = v.significant === null ? "" : v.significant ? paint("green", "significant") : "not significant";
  return [treatment, p, sig];
}

function hypothesesSection(v: VersionDetail, paint: Paint): string[] {
  if (v.hypothesesError) return [paint("yellow", `hypotheses: ${v.path}/hypotheses.json could not be read (${v.hypothesesError})`)];
  if (!v.hypotheses) return [];
  const lines = ["hypotheses:"];
  if (v.hypothesesOutdated) lines.push(paint("yellow", "  out of date: config.yaml's hypotheses or the verifiers changed since; a build recomputes them (no unit reruns)"));
  for (const h of v.hypotheses) {
    lines.push(`  ${paint("bold", h.name)}  ${h.verifier} on ${h.metrics.join(", ") || "(no metrics)"}  best: ${h.best ?? "none"}`);
    const rows = Object.entries(h.results).map(([t, r]) => verdictLine(t, r, paint));
    lines.push(...(rows.length ? table(rows, "    ") : ["    no treatment produced metrics"]));
  }
  return lines;
}

function sourceNote(v: VersionDetail): string {
  return v.source === "lock" ? "recorded in crystallize.lock" : "highest version folder; crystallize.lock records no usable version";
}

/** The full report of the current version. */
function currentSection(v: VersionDetail, paint: Paint): string[] {
  const lines = [`version: v${v.version}  ${v.path}  ${paint("dim", `(${sourceNote(v)}; written ${when(v.created)})`)}`];
  lines.push(`runs: ${v.replicates} replicate${v.replicates === 1 ? "" : "s"} x ${v.conditions.length} condition${v.conditions.length === 1 ? "" : "s"} (${v.conditions.join(", ")}), seed ${v.seed}`);
  lines.push("", ...metricsSection(v));
  const hyp = hypothesesSection(v, paint);
  if (hyp.length) lines.push("", ...hyp);
  if (v.artifacts.length) lines.push("", "artifacts:", ...table(v.artifacts.map((a) => [a.alias, a.pattern, `(${a.files} file${a.files === 1 ? "" : "s"})`])));
  if (v.upstream.length) lines.push("", "upstream read:", ...table(v.upstream.map((u) => [`${u.experiment}#${u.output}`, `v${u.version}`])));
  return lines;
}

/** A short line or two per version, for `--all-versions`. */
function versionLines(v: VersionDetail, paint: Paint): string[] {
  const ups = v.upstream.map((u) => `${u.experiment} v${u.version}`);
  const head = [
    `${v.current ? "*" : " "} v${v.version}`,
    when(v.created),
    `${v.replicates} replicate${v.replicates === 1 ? "" : "s"}`,
    `conditions: ${v.conditions.join(", ")}`,
    ...(ups.length ? [`upstream: ${[...new Set(ups)].join(", ")}`] : []),
  ].join("  ");
  const metrics = Object.entries(v.metrics)
    .filter(([, ms]) => Object.keys(ms).length > 0)
    .map(([c, ms]) => `      ${c}: ` + Object.entries(ms).map(([m, s]) => `${m} ${s.kind === "numeric" ? formatNumber(s.mean) : formatValue(s.values, 30)} (n=${s.n})`).join(", "));
  return [v.current ? paint("bold", head) : head, ...metrics.map((m) => paint("dim", m))];
}

export function renderShow(doc: ShowDocument, paint: Paint): string {
  // "never built" says it all; its reasons (upstream waits, "never built") would repeat it.
  const why = doc.status !== "never built" && doc.reasons.length ? ": " + doc.reasons.map((r) => r.message).join("; ") : "";
  const lines = [`${paint("bold", doc.name)}  ${statusWord(doc.status, paint)}${why}`];
  if (doc.description) lines.push(doc.description);
  lines.push(`folder: ${doc.dir}`);
  if (doc.current) lines.push(...currentSection(doc.current, paint));
  else lines.push(`not built yet; run crystallize build ${doc.name}`);
  if (doc.versions?.length) lines.push("", `versions (${doc.versions.length}; * current):`, ...doc.versions.flatMap((v) => versionLines(v, paint)));
  return lines.join("\n");
}
