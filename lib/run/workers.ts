import { join } from "node:path";
import type { ExperimentConfig } from "../config/types.js";
import type { Graph } from "../graph/graph.js";
import { storeHasRecords } from "../store/store.js";
import { languageOf } from "../workspace/workspace.js";
import type { Unit } from "../plan/plan.js";
import type { UnitSpec, UserError, VerifyRequest } from "../runtime/protocol.js";
import { WorkerPool, type PoolEvents, type UnitOutcome, type VerifyOutcome } from "./pool.js";
import { PythonPool } from "./python-pool.js";

export interface WorkersOptions {
  root: string;
  graph: Graph;
  jobs: number;
  workerMemoryMb?: number;
  /** The Python executable of a Python experiment; undefined for JS/TS ones. */
  interpreterOf(experiment: string): string | undefined;
}

/**
 * Node workers for a build whose store holds no unit record yet: every unit will run, so the
 * workers start now, while the build is being planned, instead of at the first miss: as many
 * as the experiments without upstreams can use, then the rest (see warmInStages). Undefined
 * otherwise: a build that may find everything in the store starts no process it might not need.
 */
export function startWorkersEarly(o: { root: string; dataDir: string; jobs: number; workerMemoryMb?: number; configs: ExperimentConfig[] }): WorkerPool | undefined {
  const node = o.configs.filter((c) => languageOf(c) === "node").length;
  if (node === 0 || storeHasRecords(o.dataDir)) return undefined;
  const pool = new WorkerPool({ onLog() {} }, o.root, o.workerMemoryMb);
  const roots = o.configs.filter((c) => languageOf(c) === "node" && !c.datasource?.some((d) => d.ref)).length;
  pool.warmInStages(Math.max(1, Math.min(o.jobs, roots)), Math.min(o.jobs, node));
  return pool;
}

/**
 * What runs units for a build (lib/run/unit-runner.ts). The seam for a remote executor: a
 * unit's spec is self-contained but for local paths (its module and its upstream outputs to
 * read, its outputs' staging paths), so one that runs units on other machines ships the
 * compiled code and the files read there, and brings the outputs back to their staging paths
 * before it answers; the CLI stores them as it does a local worker's.
 */
export interface UnitExecutor {
  /** Runs a unit; `compiled`: its TypeScript modules as the CLI compiled them, by absolute path. */
  run(spec: UnitSpec, unit: Unit, compiled: Record<string, string>): Promise<UnitOutcome>;
  /** Calls `name` of the experiment's verifiers module. */
  verify(experiment: string, name: string, call: Pick<VerifyRequest, "baseline" | "treatment" | "params">): Promise<VerifyOutcome>;
  /** Whether the experiment runs in Python (its code is not compiled by the CLI). */
  isPython(experiment: string): boolean;
  /** The experiment a verifier or loader call runs for, to label its log lines. */
  experimentOf(requestId: string): string | undefined;
  /** Gets ready to run `n` units at once, ahead of need. */
  warm(n: number): void;
  /** Stops these units now; they come back failed. */
  kill(unitIds: ReadonlySet<string>): void;
  close(force?: boolean): Promise<void>;
}

/**
 * Both languages' worker pools behind one interface: every request goes to the pool of the
 * experiment it runs for, so the executor never asks which language an experiment is in.
 */
export class Workers implements UnitExecutor {
  private readonly node: WorkerPool;
  private readonly python: PythonPool;
  private counter = 0;
  /** Verifier and loader calls: the experiment each runs for, to label its log lines. */
  private readonly requests = new Map<string, string>();

  /** `early`: Node workers started before the build was planned (see startWorkersEarly). */
  constructor(private readonly o: WorkersOptions, events: PoolEvents, early?: WorkerPool) {
    this.node = early ?? new WorkerPool(events, o.root, o.workerMemoryMb);
    this.node.events = events;
    this.python = new PythonPool(events, o.root, o.jobs);
  }

  /** The experiment a verifier or loader call runs for. */
  experimentOf(requestId: string): string | undefined {
    return this.requests.get(requestId);
  }

  isPython(experiment: string): boolean {
    return this.o.interpreterOf(experiment) !== undefined;
  }

  /** Starts Node workers ahead of need (Python workers are per experiment: started on demand). */
  warm(n: number): void {
    this.node.warm(n);
  }

  /** `compiled`: a Node unit's TypeScript compiled by the CLI (see lib/run/compile.ts). */
  async run(spec: UnitSpec, unit: Unit, compiled: Record<string, string>): Promise<UnitOutcome> {
    const loadError = await this.preloadAcrossLanguages(spec, unit);
    if (loadError) return { status: "failed", error: loadError, durationMs: 0 };
    const interpreter = this.o.interpreterOf(spec.experiment);
    return interpreter === undefined ? this.node.run(spec, compiled) : this.python.run(spec, interpreter);
  }

  /** Calls `name` of the experiment's verifiers module, in a worker of its language. */
  async verify(experiment: string, name: string, call: Pick<VerifyRequest, "baseline" | "treatment" | "params">): Promise<VerifyOutcome> {
    const cfg = this.o.graph.node(experiment).config;
    const request: VerifyRequest = { id: this.requestId("h", experiment), dir: join(this.o.root, cfg.dir), fn: { module: join(this.o.root, cfg.modules.verifiers!), name }, ...call };
    const interpreter = this.o.interpreterOf(experiment);
    return interpreter === undefined ? this.node.verify(request) : this.python.verify(request, interpreter);
  }

  /**
   * An upstream output whose loader is in the other language (a Python producer read by a
   * TypeScript consumer, or the reverse) is loaded by a worker of the producer's language, and
   * the value handed to the unit as JSON. Returns the loader's error, if it fails.
   */
  private async preloadAcrossLanguages(spec: UnitSpec, unit: Unit): Promise<UserError | undefined> {
    if (spec.input.kind !== "map") return undefined;
    const python = this.isPython(unit.experiment);
    const sources = spec.input.sources;
    for (const [i, s] of sources.entries()) {
      if (s.kind !== "ref" || !s.loader || s.loader.module.endsWith(".py") === python) continue;
      const read = unit.reads.find((r) => r.alias === s.alias)!;
      const request = { id: this.requestId("l", unit.experiment), dir: join(this.o.root, this.o.graph.node(read.experiment).config.dir), fn: s.loader, path: s.path };
      const upstream = this.o.interpreterOf(read.experiment);
      const loaded = upstream === undefined ? await this.node.load(request) : await this.python.load(request, upstream);
      if (loaded.status === "failed") {
        return { ...loaded.error, message: `loader \`${s.loader.name}\` of ${read.experiment}#${read.output}: ${loaded.error.message}` };
      }
      sources[i] = { kind: "value", alias: s.alias, value: loaded.value };
    }
    return undefined;
  }

  private requestId(prefix: string, experiment: string): string {
    const id = `${prefix}${++this.counter}`;
    this.requests.set(id, experiment);
    return id;
  }

  /** Kills the workers running these units (and what they started); they come back failed. */
  kill(unitIds: ReadonlySet<string>): void {
    this.node.kill(unitIds);
    this.python.kill(unitIds);
  }

  async close(force = false): Promise<void> {
    await Promise.all([this.node.close(force), this.python.close(force)]);
  }
}
