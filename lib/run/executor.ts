import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Graph } from "../graph/graph.js";
import type { BuildPlan, ExperimentPlan, Unit } from "../plan/plan.js";
import type { ExportRef, SourceSpec, UnitSpec } from "../runtime/protocol.js";
import { writeVersion, type ResultsFile } from "../store/views.js";
import { WorkerPool, type UnitOutcome } from "./pool.js";

export interface UnitResult {
  condition: string;
  replicate: number;
  seed: number;
  outcome: UnitOutcome;
}

export type ExperimentStatus = "built" | "failed" | "skipped";

export interface ExperimentResult {
  name: string;
  status: ExperimentStatus;
  /** Version written, for built experiments. */
  version?: number;
  units: UnitResult[];
  /** For skipped experiments: why, as a phrase ("upstream producer did not build"). */
  skippedBecause?: string;
  /** Wall time from the first unit's start to the version's write. */
  durationMs: number;
}

/** What the executor tells the reporter, as it happens. */
export interface ExecutionEvents {
  experimentStarted(name: string, units: number): void;
  unitFinished(name: string, unit: UnitResult, done: number, total: number): void;
  experimentFinished(result: ExperimentResult): void;
  log(experiment: string, line: string): void;
  warn(experiment: string, message: string): void;
}

export interface ExecuteOptions {
  root: string;
  dataDir: string;
  graph: Graph;
  plan: BuildPlan;
  /** Single default data source export per experiment (see checkExports). */
  singles: Map<string, string | undefined>;
  jobs: number;
  /** Stop starting new units after the first failure. */
  failFast: boolean;
  workerMemoryMb?: number;
  events: ExecutionEvents;
  /** Unique per build: names the staging folder. */
  tag: string;
}

interface RunningExperiment {
  plan: ExperimentPlan;
  pending: Unit[];
  results: UnitResult[];
  started?: number;
}

/**
 * Runs a plan: a ready queue of units bounded by `jobs`. An experiment's units become ready the
 * moment its last upstream is built; when it fails, everything downstream is skipped while
 * independent experiments go on.
 */
export class Executor {
  private readonly pool: WorkerPool;
  private readonly staging: string;
  private readonly running = new Map<string, RunningExperiment>();
  private readonly results = new Map<string, ExperimentResult>();
  private readonly ready: Array<{ exp: RunningExperiment; unit: Unit }> = [];
  private active = 0;
  private failed = false;
  private aborted = false;
  private unitCounter = 0;
  private readonly unitExperiment = new Map<string, string>();

  constructor(private readonly o: ExecuteOptions) {
    this.staging = join(o.dataDir, ".tmp", o.tag);
    this.pool = new WorkerPool({ onLog: (id, line) => o.events.log(this.unitExperiment.get(id) ?? "?", line) }, o.workerMemoryMb);
  }

  async run(): Promise<ExperimentResult[]> {
    try {
      for (const plan of this.o.plan.experiments) this.running.set(plan.name, { plan, pending: [...plan.units], results: [] });
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        this.release();
        this.pump();
      });
      return this.o.plan.experiments.map(
        (p) => this.results.get(p.name) ?? { name: p.name, status: "skipped", units: [], skippedBecause: "interrupted", durationMs: 0 },
      );
    } finally {
      await this.pool.close();
      await rm(this.staging, { recursive: true, force: true });
    }
  }

  /** Stops everything now (Ctrl-C): kills the workers and removes staged files. */
  async abort(): Promise<void> {
    this.aborted = true;
    this.onIdle();
    await this.pool.close(true);
    await rm(this.staging, { recursive: true, force: true });
  }

  private onIdle: () => void = () => {};

  /** Moves experiments whose upstreams are all built into the ready queue. */
  private release(): void {
    for (const [name, exp] of this.running) {
      if (exp.started !== undefined || this.results.has(name)) continue;
      const node = this.o.graph.node(name);
      const ups = node.upstream.filter((u) => this.running.has(u) || this.results.has(u));
      const blocked = ups.find((u) => this.results.get(u)?.status === "failed" || this.results.get(u)?.status === "skipped");
      if (blocked) {
        this.finish({ name, status: "skipped", units: [], skippedBecause: `upstream ${blocked} did not build`, durationMs: 0 });
        continue;
      }
      if (ups.every((u) => this.results.get(u)?.status === "built")) {
        exp.started = performance.now();
        this.o.events.experimentStarted(name, exp.plan.units.length);
        for (const unit of exp.pending) this.ready.push({ exp, unit });
        exp.pending = [];
      }
    }
  }

  private pump(): void {
    while (this.active < this.o.jobs && this.ready.length > 0 && !(this.failed && this.o.failFast)) {
      const { exp, unit } = this.ready.shift()!;
      this.active++;
      void this.runUnit(exp, unit);
    }
    if (this.active === 0 && (this.ready.length === 0 || (this.failed && this.o.failFast))) {
      for (const [name, exp] of this.running) {
        if (!this.results.has(name)) this.finish({ name, status: "skipped", units: exp.results, skippedBecause: "stopped after the first failure (--fail-fast)", durationMs: 0 });
      }
      this.onIdle();
    }
  }

  private async runUnit(exp: RunningExperiment, unit: Unit): Promise<void> {
    const id = `u${++this.unitCounter}`;
    this.unitExperiment.set(id, exp.plan.name);
    for (const read of unit.reads) {
      if (read.fallback && unit.replicate === 0) {
        this.o.events.warn(exp.plan.name, `condition "${unit.condition.name}": ${read.experiment} has no active "${unit.condition.name}", reading its baseline for ${read.alias}`);
      }
    }
    const outcome = await this.pool.run(this.unitSpec(id, unit));
    if (this.aborted) return;
    if (outcome.status === "failed") {
      outcome.error = { ...outcome.error, stack: relativiseStack(outcome.error.stack, this.o.root) };
      this.failed = true;
    }
    const result: UnitResult = { condition: unit.condition.name, replicate: unit.replicate, seed: unit.seed, outcome };
    exp.results.push(result);
    this.o.events.unitFinished(exp.plan.name, result, exp.results.length, exp.plan.units.length);
    if (exp.results.length === exp.plan.units.length) await this.complete(exp);
    this.active--;
    this.release();
    this.pump();
  }

  private async complete(exp: RunningExperiment): Promise<void> {
    const { plan } = exp;
    const duration = performance.now() - (exp.started ?? performance.now());
    if (exp.results.some((r) => r.outcome.status === "failed")) {
      this.finish({ name: plan.name, status: "failed", units: exp.results, durationMs: duration });
      return;
    }
    const cfg = this.o.graph.node(plan.name).config;
    const results: Record<string, ResultsFile> = {};
    for (const c of plan.conditions) results[c.name] = { metrics: {}, replicates: [] };
    const sorted = [...exp.results].sort((a, b) => a.replicate - b.replicate);
    for (const r of sorted) {
      const metrics = (r.outcome as { metrics: Record<string, unknown[]> }).metrics;
      const file = results[r.condition];
      file.replicates.push({ replicate: r.replicate, seed: r.seed, metrics });
      for (const [k, v] of Object.entries(metrics)) (file.metrics[k] ??= []).push(...v);
    }
    const files = plan.units.flatMap((u) =>
      cfg.outputs.map((o) => ({ from: this.stagingPath(u, o.fileName), to: `replicate_${u.replicate}/${u.condition.name}/${o.fileName}` })),
    );
    const upstream: Record<string, number> = {};
    for (const edge of this.o.graph.node(plan.name).inputs) upstream[`${edge.experiment}#${edge.output}`] = this.results.get(edge.experiment)!.version!;
    const version = await writeVersion(this.o.dataDir, plan.name, {
      metadata: {
        name: plan.name,
        replicates: plan.replicates,
        seed: cfg.seed,
        conditions: plan.conditions.map((c) => c.name),
        outputs: Object.fromEntries(cfg.outputs.map((o) => [o.alias, o.fileName])),
        upstream,
      },
      results,
      files,
    }, this.o.tag);
    this.finish({ name: plan.name, status: "built", version, units: exp.results, durationMs: duration });
  }

  private finish(result: ExperimentResult): void {
    this.results.set(result.name, result);
    this.o.events.experimentFinished(result);
  }

  private stagingPath(unit: Unit, fileName: string): string {
    return join(this.staging, unit.experiment, unit.condition.name, `replicate_${unit.replicate}`, fileName);
  }

  private unitSpec(id: string, unit: Unit): UnitSpec {
    const { root } = this.o;
    const cfg = this.o.graph.node(unit.experiment).config;
    const ref = (role: "datasources" | "steps" | "outputs", name: string, modules = cfg.modules): ExportRef => ({ module: join(root, modules[role]!), name });
    let input: UnitSpec["input"] = { kind: "none" };
    if (cfg.datasource) {
      const sources: SourceSpec[] = cfg.datasource.map((d) => {
        if (d.exportName) return { kind: "local", alias: d.alias, fn: ref("datasources", d.exportName) };
        const read = unit.reads.find((r) => r.alias === d.alias)!;
        const up = this.o.graph.node(read.experiment).config;
        const out = up.outputs.find((o) => o.alias === read.output)!;
        const version = this.results.get(read.experiment)!.version!;
        return {
          kind: "ref",
          alias: d.alias,
          path: join(this.o.dataDir, read.experiment, `v${version}`, `replicate_${read.replicate}`, read.condition, out.fileName),
          loader: out.loader ? ref("outputs", out.loader, up.modules) : undefined,
        };
      });
      input = { kind: "map", sources };
    } else if (this.o.singles.get(unit.experiment)) {
      input = { kind: "single", fn: ref("datasources", this.o.singles.get(unit.experiment)!) };
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
      outputs: cfg.outputs.map((o) => ({ alias: o.alias, path: this.stagingPath(unit, o.fileName), writer: o.writer ? ref("outputs", o.writer) : undefined })),
    };
  }
}

/** `file:///abs/root/experiments/x/steps.ts:3:9` -> `experiments/x/steps.ts:3:9`. */
function relativiseStack(stack: string, root: string): string {
  const prefix = root.endsWith("/") ? root : root + "/";
  return stack.split(`file://${prefix}`).join("").split(prefix).join("");
}
