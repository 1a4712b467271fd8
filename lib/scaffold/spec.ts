import type { ModuleRole } from "../config/types.js";

/** The language of an experiment's modules: `--lang ts` (the default) or `--lang python`. */
export type Language = "ts" | "python";

/** The file extension of each language's modules. */
export const EXTENSION: Record<Language, string> = { ts: "ts", python: "py" };

/** Another experiment's output that the new experiment reads: `datasource: {alias: experiment#output}`. */
export interface UpstreamUse {
  experiment: string;
  output: string;
  alias: string;
}

/** Everything `crystallize new` decided: the templates are a pure function of it. */
export interface ScaffoldSpec {
  name: string;
  language: Language;
  files: ModuleRole[];
  example: boolean;
  uses: UpstreamUse[];
}

export const has = (spec: ScaffoldSpec, role: ModuleRole) => spec.files.includes(role);

/** A module's file name in the spec's language: `steps.ts`, `steps.py`. */
export const fileOf = (spec: ScaffoldSpec, role: ModuleRole) => `${role}.${EXTENSION[spec.language]}`;

/**
 * The example wires every chosen file into one run that records a metric. A declared output
 * must be written by a step, so the example declares one only when there is a step to write it.
 */
export const exampleOutput = (spec: ScaffoldSpec) => spec.example && has(spec, "steps") && has(spec, "outputs");
