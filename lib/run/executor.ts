import type { AnalysedCompilation } from "../code/modules.js";
import type { Digest } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import type { StatCache } from "../hash/stat-cache.js";
import type { Graph } from "../graph/graph.js";
import type { SettledHypotheses } from "../hypotheses/settle.js";
import type { BuildPlan, ExperimentPlan, KeyFn, Read, Unit } from "../plan/plan.js";
import type { Store, StoredOutput, UnitRecord } from "../store/store.js";
import type { WorkerPool } from "./pool.js";
import type { ExecutionEvents, ExperimentResult, UnitResult } from "./results.js";
import { settleExperiment } from "./settle.js";
import { UnitRunner, type UnitHooks } from "./unit-runner.js";

export interface ExecuteOptions {
  root: string;
  graph: Graph;
  plan: BuildPlan;
  store: Store;
  statCache: StatCache;
  keyOf: KeyFn;
  /** Experiments to run even when the store holds their results. */
  force: ReadonlySet<string>;
  /**
   * `crystallize verify`: these experiments run again and store nothing; their outputs are
   * only hashed, for the caller to compare with the lock. Everything else is looked up as usual.
   */
  verify?: {
    experiments: ReadonlySet<string>;
    /** The version dependents of a verified experiment read: the locked one. */
    version(experiment: string): number;
  };
  /** Node workers started before the executor (see startWorkersEarly). */
  pool?: WorkerPool;
  /**
   * An experiment that will most likely run (see firstLikelyToRun): the workers start as the
   * build begins, not at the first unit missing from the store, which in an edit of a leaf comes
   * only once everything upstream has been looked up.
   */
  likelyToRun?: string;
  /** The workspace-relative code files an experiment's units run (its code closure). */
  codeOf(experiment: string): Iterable<string>;
  /** The workspace-relative files matched by an experiment's `inputs:`. */
  inputsOf(experiment: string): Iterable<string>;
  /** The workspace-relative code closure of an output's loader (`experiment#output`). */
  loaderCodeOf(output: string): Iterable<string>;
  /** A module (absolute path) as the build's analysis compiled it for the workers, handed out once (see ModuleIndex.takeCompiled). */
  compiledByAnalysis?(abs: string): AnalysedCompilation | undefined;
  /** Single default data source export per experiment (see checkExports). */
  singles: Map<string, string | undefined>;
  /** Scheduling priority per experiment: higher first (longest remaining path). */
  priority: ReadonlyMap<string, number>;
  jobs: number;
  /** Stop starting new units after the first failure. */
  failFast: boolean;
  workerMemoryMb?: number;
  /** The Python executable of a Python experiment; undefined for JS/TS ones. */
  interpreterOf(experiment: string): string | undefined;
  events: ExecutionEvents;
  /** Unique per build: names the staging folder. */
  tag: string;
  /**
   * Per experiment with hypotheses: the digest of its hypotheses and verifiers code. Its
   * `hypotheses.json` is rewritten when it was computed from anything else.
   */
  hypotheses?: ReadonlyMap<string, Digest>;
}

interface RunningExperiment {
  plan: ExperimentPlan;
  results: UnitResult[];
  started?: number;
  announced: boolean;
  /** Units whose worker has returned (or that were found in the store). */
  returned: number;
}

/**
 * Runs a plan: a ready queue of units bounded by `jobs`, highest priority first. An
 * experiment's units become ready the moment its last upstream is done; each unit is looked up
 * in the store by key and runs only on a miss. When an experiment fails, everything downstream
 * is skipped while independent experiments go on. This is which unit runs when; how one runs
 * is UnitRunner's (unit-runner.ts), and what a finished experiment comes to, settle.ts's.
 */
export class Executor {
  private readonly units: UnitRunner;
  private readonly running = new Map<string, RunningExperiment>();
  private readonly results = new Map<string, ExperimentResult>();
  /** Per finished experiment: `condition/replicate` -> its record. */
  private readonly records = new Map<string, Map<string, UnitRecord>>();
  private readonly ready: Array<{ exp: RunningExperiment; unit: Unit; priority: number }> = [];
  /** Worker slots in use (bounded by jobs). */
  private slots = 0;
  /** Units started and not yet settled, including their storing and view writing. */
  private inflight = 0;
  private failed = false;
  private aborted = false;
  /** Experiments stopped by cancel(): their units' outcomes are dropped. */
  private readonly cancelled = new Set<string>();
  /** Hypothesis evaluations under way: they do not hold up dependents, only the end of run(). */
  private readonly verdicts = new Map<string, Promise<SettledHypotheses | undefined>>();
  private onIdle: () => void = () => {};
  /** When the last result (or verdict) was in: what comes after (workers exiting) is tear-down. */
  lastFinishedAt?: number;

  constructor(private readonly o: ExecuteOptions) {
    this.units = new UnitRunner(o, {
      upstream: (read) => this.upstreamOutput(read),
      versionOf: (name) => this.results.get(name)!.version!,
      wanted: (name) => !this.aborted && !this.cancelled.has(name),
    });
  }

  /** When the first unit reached a worker: what comes before is start-up, not scheduling. */
  get firstUnitAt(): number | undefined {
    return this.units.firstUnitAt;
  }

  async run(): Promise<ExperimentResult[]> {
    try {
      for (const plan of this.o.plan.experiments) this.running.set(plan.name, { plan, results: [], announced: false, returned: 0 });
      // Workers started early: the store is empty and every unit will run, so all will be compiled.
      if (this.o.pool) for (const plan of this.o.plan.experiments) this.units.precompile(plan.name);
      else if (this.o.likelyToRun !== undefined) {
        const likely = this.running.get(this.o.likelyToRun)!;
        this.units.precompile(likely.plan.name, true);
        this.warm(likely);
      }
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        this.release();
        this.pump();
      });
      if (!this.aborted && this.verdicts.size > 0) {
        for (const [name, pending] of this.verdicts) {
          const hypotheses = await pending;
          const result = this.results.get(name);
          if (hypotheses && result) this.results.set(name, { ...result, hypotheses });
        }
        this.lastFinishedAt = performance.now();
      }
      return this.o.plan.experiments.map(
        (p) => this.results.get(p.name) ?? { name: p.name, status: "skipped", units: [], skippedBecause: "interrupted", durationMs: 0 },
      );
    } finally {
      await this.units.close();
    }
  }

  /**
   * Stops these experiments now (watch mode, after their inputs changed): queued units are
   * dropped, running ones killed, nothing of theirs is stored, and they and their dependents
   * end as skipped. Everything else goes on.
   */
  cancel(names: Iterable<string>): void {
    const stopping = new Set<string>();
    for (const name of names) {
      if (this.results.has(name) || !this.running.has(name)) continue;
      stopping.add(name);
      this.cancelled.add(name);
      for (let i = this.ready.length - 1; i >= 0; i--) if (this.ready[i].exp.plan.name === name) this.ready.splice(i, 1);
    }
    this.units.kill(stopping);
    for (const name of this.cancelled) {
      const exp = this.running.get(name)!;
      // Experiments with nothing in flight end here; the others when their killed units return.
      if (exp && !this.results.has(name) && this.units.inFlight(name) === 0) this.endCancelled(name);
    }
    this.pump();
  }

  private endCancelled(name: string): void {
    this.finish({ name, status: "skipped", units: this.running.get(name)!.results, skippedBecause: "restarted: its inputs changed", durationMs: 0 });
    this.release(name);
  }

  /** Stops everything now (Ctrl-C): kills the workers and removes staged files. */
  async abort(): Promise<void> {
    this.aborted = true;
    this.onIdle();
    await this.units.close(true);
  }

  /** Moves experiments whose upstreams are all done into the ready queue. */
  /** Checks `from`'s dependents (everything, at the start), so a build of N experiments stays O(N). */
  private release(from?: string): void {
    const candidates = from === undefined ? [...this.running.keys()] : this.o.graph.node(from).downstream.filter((d) => this.running.has(d));
    for (const name of candidates) {
      const exp = this.running.get(name)!;
      if (exp.started !== undefined || this.results.has(name)) continue;
      const ups = this.o.graph.node(name).upstream.filter((u) => this.running.has(u));
      const blocked = ups.find((u) => ["failed", "skipped"].includes(this.results.get(u)?.status ?? ""));
      if (blocked) {
        this.finish({ name, status: "skipped", units: [], skippedBecause: `upstream ${blocked} did not build`, durationMs: 0 });
        this.release(name);
        continue;
      }
      if (ups.every((u) => this.results.has(u))) {
        exp.started = performance.now();
        const priority = this.o.priority.get(name) ?? 0;
        for (const unit of exp.plan.units) {
          const at = this.ready.findIndex((r) => r.priority < priority);
          this.ready.splice(at < 0 ? this.ready.length : at, 0, { exp, unit, priority });
        }
      }
    }
  }

  private pump(): void {
    while (this.slots < this.o.jobs && this.ready.length > 0 && !(this.failed && this.o.failFast) && !this.aborted) {
      const { exp, unit } = this.ready.shift()!;
      this.slots++;
      this.inflight++;
      void this.process(exp, unit);
    }
    if (this.inflight === 0 && (this.ready.length === 0 || (this.failed && this.o.failFast))) {
      for (const [name] of this.running) {
        if (!this.results.has(name)) this.finish({ name, status: "skipped", units: this.running.get(name)!.results, skippedBecause: this.aborted ? "interrupted" : "stopped after the first failure (--fail-fast)", durationMs: 0 });
      }
      this.onIdle();
    }
  }

  /**
   * One unit from start to end. Its slot is freed as soon as the worker is done, so the next
   * unit starts while this one's outputs are being stored; except for an experiment's last
   * unit when a dependent would outrank everything queued: then the slot is held until the
   * experiment is complete and its dependents are queued, so that they, not whatever was queued
   * before, get it (the critical path must not wait).
   */
  private async process(exp: RunningExperiment, unit: Unit): Promise<void> {
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      this.slots--;
      this.pump();
    };
    const hooks: UnitHooks = {
      free: (failed) => {
        if (failed) this.failed = true;
        exp.returned++;
        if (exp.returned < exp.plan.units.length || this.queueOutranksDependents(exp.plan.name)) free();
      },
      missed: () => this.missed(exp),
    };
    let result: UnitResult | undefined;
    try {
      result = await this.units.run(unit, hooks);
    } catch (err) {
      // An I/O error of ours (disk full, permissions): fail the unit, keep the build going.
      const error = { name: "Error", message: `crystallize could not store the result: ${(err as Error).message}`, stack: "" };
      result = { condition: unit.condition.name, replicate: unit.replicate, seed: unit.seed, key: "" as UnitKey, reads: {}, cached: false, outcome: { status: "failed", error, durationMs: 0 } };
    }
    if (result && !this.aborted && !this.cancelled.has(exp.plan.name)) {
      if (result.outcome.status === "failed") this.failed = true;
      exp.results.push(result);
      this.o.events.unitFinished(exp.plan.name, result, exp.results.length, exp.plan.units.length);
      if (exp.results.length === exp.plan.units.length) {
        await this.complete(exp).catch((err) =>
          this.finish({ name: exp.plan.name, status: "failed", units: exp.results, durationMs: 0, skippedBecause: `its view could not be written: ${(err as Error).message}` }),
        );
      }
    }
    if (this.cancelled.has(exp.plan.name) && !this.results.has(exp.plan.name) && this.units.inFlight(exp.plan.name) === 0) this.endCancelled(exp.plan.name);
    this.inflight--;
    this.release(exp.plan.name);
    free();
    this.pump();
  }

  /**
   * Whether the next queued unit goes before every dependent of `name` that is still to run:
   * then handing the slot on now delays none of them. With nothing queued, the slot is held.
   */
  private queueOutranksDependents(name: string): boolean {
    if (this.ready.length === 0) return false;
    const head = this.ready[0].priority;
    return this.o.graph.node(name).downstream.every((d) => !this.running.has(d) || this.results.has(d) || (this.o.priority.get(d) ?? 0) <= head);
  }

  /**
   * Whether the first experiment to miss will most likely be the only one to run: one unit,
   * and no dependent left to settle (one that reads what it makes would most likely miss too).
   * Then one worker is started for it, not a slot's worth: on two cores, a second worker's
   * start slowed the first unit (an edited leaf at N=50: 0.91 s with two, 0.76 s with one).
   * Otherwise every slot's worker starts now, while it runs, so that its dependents do not
   * each wait for a worker to start (the edited root: 1.13 s with all, 1.22 s with one).
   */
  private alone(exp: RunningExperiment): boolean {
    const name = exp.plan.name;
    return exp.plan.units.length === 1 && !this.o.graph.node(name).downstream.some((d) => this.running.has(d) && !this.results.has(d));
  }

  private unsettledUnits(): number {
    let n = 0;
    for (const [name, exp] of this.running) if (!this.results.has(name)) n += exp.plan.units.length - exp.results.length;
    return n;
  }

  private upstreamOutput(read: Read): StoredOutput {
    const record = this.records.get(read.experiment)?.get(`${read.condition}/${read.replicate}`);
    const out = record?.outputs[read.output];
    if (!out) throw new Error(`internal: ${read.experiment} has no output ${read.output} for ${read.condition}/${read.replicate}`);
    return out;
  }

  /** A unit about to run: its experiment is announced, and the build's first miss starts the workers. */
  private missed(exp: RunningExperiment): void {
    if (!exp.announced) {
      exp.announced = true;
      this.o.events.experimentStarted(exp.plan.name, exp.plan.units.length);
      this.precompileDependents(exp.plan.name);
    }
    this.warm(exp);
  }

  /** Starts the build's workers, once, for `exp`: one when it will most likely run alone, else a slot's worth. */
  private warm(exp: RunningExperiment): void {
    this.units.warmOnce(exp.plan.name, () => (this.alone(exp) ? 1 : Math.min(this.o.jobs, this.unsettledUnits())));
  }

  /**
   * An experiment that runs will most likely change what its dependents read, so they will run
   * too: their code is compiled while it runs, not when their first unit starts.
   */
  private precompileDependents(experiment: string): void {
    for (const name of this.o.graph.node(experiment).downstream) if (this.running.has(name)) this.units.precompile(name, true);
  }

  /** Settles an experiment whose units are all in: its version and view, or its failure. */
  private async complete(exp: RunningExperiment): Promise<void> {
    if (this.aborted) return;
    const version = (name: string) => this.results.get(name)!.version!;
    const settled = await settleExperiment(this.o, exp, version, (e, name, call) => this.units.verify(e, name, call), () => this.aborted);
    if (settled.records) this.records.set(exp.plan.name, new Map(settled.records.map((r) => [`${r.condition}/${r.replicate}`, r])));
    if (settled.verdicts) this.verdicts.set(exp.plan.name, settled.verdicts);
    this.finish(settled.result);
  }

  private finish(result: ExperimentResult): void {
    this.lastFinishedAt = performance.now();
    this.results.set(result.name, result);
    this.o.events.experimentFinished(result);
  }
}
