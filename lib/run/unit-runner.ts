import { rm } from "node:fs/promises";
import { join } from "node:path";
import { digestFileContent } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import type { Read, Unit } from "../plan/plan.js";
import type { VerifyRequest } from "../runtime/protocol.js";
import type { ResultCache, StoredOutput, UnitRecord } from "../store/store.js";
import { Compiler } from "./compile.js";
import type { ExecuteOptions } from "./executor.js";
import type { PoolEvents, UnitOutcome, VerifyOutcome } from "./pool.js";
import type { UnitResult } from "./results.js";
import { unitSpec } from "./spec.js";
import { CoverageWarnings } from "./undeclared.js";
import { relativiseStack } from "./user-error.js";
import { Workers, type UnitExecutor } from "./workers.js";

/** What a unit runner asks of the build around it: the scheduler's state, read when needed. */
export interface UnitContext {
  /** A settled upstream's stored output that a unit reads. */
  upstream(read: Read): StoredOutput;
  /** The version folder a settled upstream experiment is in. */
  versionOf(experiment: string): number;
  /** False once nothing of the experiment is wanted any more: the build was interrupted or the experiment cancelled. */
  wanted(experiment: string): boolean;
}

/** The points of one unit's life the scheduler acts on. */
export interface UnitHooks {
  /**
   * The store answered, or the worker is done: the unit's slot may go to the next unit while
   * its outputs are stored. `failed` comes first, so that --fail-fast starts nothing after it.
   */
  free(failed: boolean): void;
  /** The unit is not in the store and is about to be sent to a worker. */
  missed(): void;
}

/**
 * How one unit runs: looked up in the store by its key; on a miss, sent to a worker with its
 * compiled code, its outputs staged, then stored with its record. Which unit runs when is the
 * scheduler's (see Executor); this is everything between.
 */
export class UnitRunner {
  private readonly workers: UnitExecutor;
  /** Where results are looked up and kept (the local store; see ResultCache). */
  private readonly results: ResultCache;
  private readonly compiler: Compiler;
  /** This build's staging folder: where workers write outputs before they are stored. */
  readonly staging: string;
  private readonly coverage: CoverageWarnings;
  private readonly unitById = new Map<string, Unit>();
  /** Units of each experiment sent to a worker and not yet back. */
  private readonly flying = new Map<string, number>();
  private unitCounter = 0;
  private warmed = false;
  /** When the first unit reached a worker: what comes before is start-up, not scheduling. */
  firstUnitAt?: number;

  constructor(private readonly o: ExecuteOptions, private readonly ctx: UnitContext) {
    this.staging = join(o.store.dataDir, ".tmp", o.tag);
    const events: PoolEvents = {
      onLog: (id, line) => {
        const unit = this.unitById.get(id);
        o.events.log(unit?.experiment ?? this.workers.experimentOf(id) ?? "?", line, unit && { condition: unit.condition.name, replicate: unit.replicate });
      },
      onStart: (id) => {
        this.firstUnitAt ??= performance.now();
        const unit = this.unitById.get(id);
        if (unit) o.events.unitStarted(unit.experiment, { condition: unit.condition.name, replicate: unit.replicate });
      },
    };
    this.workers = new Workers(o, events, o.pool);
    this.results = o.store;
    this.compiler = new Compiler(o.root, o.statCache, o.compiledByAnalysis);
    this.coverage = new CoverageWarnings({ root: o.root, dataDir: o.store.dataDir, codeOf: o.codeOf, inputsOf: o.inputsOf, loaderCodeOf: o.loaderCodeOf, configOf: (e) => o.graph.node(e).config });
  }

  /** Looks the unit up in the store, runs it on a miss and stores its result; undefined when it is no longer wanted. */
  async run(unit: Unit, hooks: UnitHooks): Promise<UnitResult | undefined> {
    const key = this.o.keyOf(unit, (read) => this.ctx.upstream(read).digest);
    const reads = Object.fromEntries(unit.reads.map((r) => [`${r.experiment}#${r.output}`, this.ctx.upstream(r).digest]));
    const base = { condition: unit.condition.name, replicate: unit.replicate, seed: unit.seed, key, reads };
    const verifying = this.o.verify?.experiments.has(unit.experiment) ?? false;
    if (!this.o.force.has(unit.experiment) && !verifying) {
      const hit = await this.results.lookup(key);
      if (hit) {
        hooks.free(false);
        return { ...base, cached: true, outcome: { status: "ok", record: hit } };
      }
    }
    if (!this.ctx.wanted(unit.experiment)) return undefined;
    hooks.missed();
    const id = `u${++this.unitCounter}`;
    this.unitById.set(id, unit);
    for (const read of unit.reads) {
      if (read.fallback && unit.replicate === 0) {
        this.o.events.warn(unit.experiment, `condition "${unit.condition.name}": ${read.experiment} has no active "${unit.condition.name}", reading its baseline for ${read.alias}`);
      }
    }
    this.flying.set(unit.experiment, this.inFlight(unit.experiment) + 1);
    const spec = unitSpec({
      id,
      unit,
      root: this.o.root,
      graph: this.o.graph,
      dataDir: this.o.store.dataDir,
      single: this.o.singles.get(unit.experiment),
      versionOf: this.ctx.versionOf,
      stagingPath: (alias) => this.stagingPath(id, alias),
    });
    const outcome = await this.workers.run(spec, unit, await this.compiledFor(unit.experiment));
    this.flying.set(unit.experiment, this.inFlight(unit.experiment) - 1);
    const wanted = this.ctx.wanted(unit.experiment);
    // A killed unit (its experiment cancelled) fails, but is no failure of the build's.
    hooks.free(wanted && outcome.status === "failed");
    if (!wanted) return undefined;
    if (outcome.status === "failed") {
      const error = { ...outcome.error, stack: relativiseStack(outcome.error.stack, this.o.root) };
      if (!verifying) await this.results.markFailed(key, error.message);
      return { ...base, cached: false, outcome: { status: "failed", error, durationMs: outcome.durationMs } };
    }
    const record = await this.store(unit, id, key, outcome, verifying);
    for (const warning of this.coverage.afterUnit(unit, outcome)) this.o.events.warn(unit.experiment, warning);
    return { ...base, cached: false, outcome: { status: "ok", record } };
  }

  /** Moves a unit's staged outputs into the store and writes its record; a verified unit's are only hashed. */
  private async store(unit: Unit, id: string, key: UnitKey, outcome: Extract<UnitOutcome, { status: "ok" }>, verifying: boolean): Promise<UnitRecord> {
    const outputs: Record<string, StoredOutput> = {};
    for (const o of this.o.graph.node(unit.experiment).config.outputs) {
      const staged = this.stagingPath(id, o.alias);
      const { digest, size } = verifying ? await digestFileContent(staged) : await this.results.ingest(staged);
      outputs[o.alias] = { file: o.fileName, digest, size };
    }
    const record: UnitRecord = {
      key,
      experiment: unit.experiment,
      condition: unit.condition.name,
      replicate: unit.replicate,
      seed: unit.seed,
      outputs,
      metrics: outcome.metrics,
      durationMs: Math.round(outcome.durationMs),
    };
    if (!verifying) await this.results.writeRecord(record);
    return record;
  }

  /** Starts `count()` Node workers for a Node experiment about to run (or likely to), once per build. */
  warmOnce(experiment: string, count: () => number): void {
    if (this.warmed || this.workers.isPython(experiment)) return;
    this.warmed = true;
    this.workers.warm(count());
  }

  /** Units of the experiment sent to a worker and not yet back. */
  inFlight(experiment: string): number {
    return this.flying.get(experiment) ?? 0;
  }

  /** Kills the running units of these experiments; their runs end as not wanted. */
  kill(experiments: ReadonlySet<string>): void {
    const ids = new Set<string>();
    for (const [id, unit] of this.unitById) if (experiments.has(unit.experiment)) ids.add(id);
    this.workers.kill(ids);
  }

  /** The experiment's TypeScript compiled for the workers (see lib/run/compile.ts); none for Python. */
  compiledFor(experiment: string): Promise<Record<string, string>> {
    return this.workers.isPython(experiment) ? Promise.resolve({}) : this.compiler.compiled(this.o.codeOf(experiment));
  }

  /** Compiles the experiment's TypeScript ahead of its first unit (see Compiler.precompile). */
  precompile(experiment: string, soon = false): void {
    if (!this.workers.isPython(experiment)) this.compiler.precompile(this.o.codeOf(experiment), soon);
  }

  /** Calls a custom verifier of the experiment's hypotheses in a worker. */
  verify(experiment: string, name: string, call: Pick<VerifyRequest, "baseline" | "treatment" | "params">): Promise<VerifyOutcome> {
    return this.workers.verify(experiment, name, call);
  }

  /** Stops the workers (at once when `force`) and removes what is staged. */
  async close(force = false): Promise<void> {
    await this.workers.close(force);
    await this.compiler.flush();
    await rm(this.staging, { recursive: true, force: true });
  }

  /**
   * Flat names in the build's one staging folder, not a folder per unit: each folder made and
   * removed cost two inode operations per unit, and on ext4 without a journal every inode
   * freed is skipped by the allocator for a minute, which slowed each later file creation.
   */
  private stagingPath(unitId: string, alias: string): string {
    return join(this.staging, `${unitId}.${alias}`);
  }
}
