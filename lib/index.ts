/**
 * The crystallize package. User experiment code imports `dataSource`, `pipelineStep`,
 * `verifier` and `withMetrics` from here; tools import the programmatic API.
 */
export { dataSource, pipelineStep, verifier, withMetrics } from "./runtime/api.js";
export type { Artifact, Context, DataSourceFn, Metrics, MetricSamples, StepFn, VerifierFn, VerifierResult } from "./runtime/api.js";
export type { HypothesesFile, HypothesisVerdict, VerdictOutcome } from "./hypotheses/types.js";
export { ExperimentGraph } from "./api/graph.js";
export { build, type BuildOptions, type BuildOutcome } from "./api/build.js";
export type { ExperimentResult, UnitResult } from "./run/results.js";
export type { GraphFormat } from "./report/graph-format.js";
export { CrystallizeError } from "./errors/error.js";
