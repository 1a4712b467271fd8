/**
 * The module user code imports as "crystallize". Wrappers only tag functions; plain exported
 * functions work the same. Tags use global symbols so that the identity of this module
 * instance never matters.
 */

const KIND = Symbol.for("crystallize.kind");
const DEFAULTS = Symbol.for("crystallize.defaults");
const METRICS = Symbol.for("crystallize.metrics");

/** An output of the experiment; `write` turns the value into bytes with the output's writer. */
export interface Artifact {
  readonly alias: string;
  readonly fileName: string;
  write(value: unknown): void;
}

export interface Metrics {
  add(name: string, value: unknown): void;
}

/** The frozen context every data source and step receives. */
export interface Context {
  /** Treatment values over step kwargs over the step's declared defaults. */
  readonly params: Readonly<Record<string, unknown>>;
  get<T = unknown>(name: string, fallback?: T): T;
  readonly outputs: Readonly<Record<string, Artifact>>;
  readonly metrics: Metrics;
  readonly replicate: number;
  readonly condition: string;
  readonly seed: number;
  /** A generator seeded by `seed`: uniform in [0, 1). */
  random(): number;
  log(...args: unknown[]): void;
}

export type DataSourceFn<T = unknown> = (ctx: Context) => T | Promise<T>;
export type StepFn<I = any, O = any> = (data: I, ctx: Context) => O | Promise<O>;

/** Marks a data source. Optional: a plain exported function is a data source too. */
export function dataSource<T>(fn: DataSourceFn<T>): DataSourceFn<T> {
  return Object.assign(fn, { [KIND]: "datasource" });
}

/**
 * Marks a step, optionally with default parameters (lowest precedence in `ctx.params`).
 * `pipelineStep(fn)` or `pipelineStep({ delta: 1 }, fn)`.
 */
export function pipelineStep<I, O>(fn: StepFn<I, O>): StepFn<I, O>;
export function pipelineStep<I, O>(defaults: Record<string, unknown>, fn: StepFn<I, O>): StepFn<I, O>;
export function pipelineStep<I, O>(a: StepFn<I, O> | Record<string, unknown>, b?: StepFn<I, O>): StepFn<I, O> {
  const fn = (typeof a === "function" ? a : b) as StepFn<I, O>;
  if (typeof fn !== "function") throw new TypeError("pipelineStep expects a function");
  const defaults = typeof a === "function" ? {} : a;
  return Object.assign(fn, { [KIND]: "step", [DEFAULTS]: Object.freeze({ ...defaults }) });
}

/** Metric name -> every value one condition recorded, replicates in order. */
export type MetricSamples<T = number> = Record<string, T[]>;

/**
 * What a verifier returns: any JSON object. `p_value` (a number) ranks the treatments and
 * `significant` (a boolean) is shown in the summary; everything else is kept as is.
 */
export interface VerifierResult {
  p_value?: number;
  significant?: boolean;
  [field: string]: unknown;
}

export type VerifierFn<T = number> = (
  baseline: MetricSamples<T>,
  treatment: MetricSamples<T>,
  params: Record<string, unknown>,
) => VerifierResult | Promise<VerifierResult>;

/**
 * Marks a verifier for `hypotheses:`. Optional: a plain exported function is a verifier too.
 * It receives the baseline's and one treatment's samples of the hypothesis's metrics, and
 * the hypothesis's `params`.
 */
export function verifier<T = number>(fn: VerifierFn<T>): VerifierFn<T> {
  if (typeof fn !== "function") throw new TypeError("verifier expects a function");
  return Object.assign(fn, { [KIND]: "verifier" });
}

/** A step result carrying metrics: `return withMetrics(data, { accuracy: 0.9 })`. */
export function withMetrics<T>(data: T, metrics: Record<string, unknown>): T {
  return { [METRICS]: metrics, data } as unknown as T;
}

/** @internal Used by the worker to unwrap step results and read defaults. */
export const internals = {
  defaultsOf(fn: unknown): Record<string, unknown> {
    return ((fn as Record<symbol, unknown>)?.[DEFAULTS] as Record<string, unknown>) ?? {};
  },
  unwrap(result: unknown): { data: unknown; metrics?: Record<string, unknown> } {
    if (result && typeof result === "object" && METRICS in result) {
      const r = result as { [METRICS]: Record<string, unknown>; data: unknown };
      return { data: r.data, metrics: r[METRICS] };
    }
    return { data: result };
  },
};
