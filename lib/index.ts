/**
 * The crystallize package. User experiment code imports `dataSource`, `pipelineStep` and
 * `withMetrics` from here; tools import the programmatic API.
 */
export { dataSource, pipelineStep, withMetrics } from "./runtime/api.js";
export type { Artifact, Context, DataSourceFn, Metrics, StepFn } from "./runtime/api.js";
export { ExperimentGraph } from "./api/graph.js";
export { build, type BuildOptions, type BuildOutcome } from "./api/build.js";
export type { ExperimentResult, UnitResult } from "./run/executor.js";
export type { GraphFormat } from "./report/graph-format.js";
export { CrystallizeError } from "./errors/error.js";
