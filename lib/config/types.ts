import type { SourceLocation } from "../errors/error.js";

/** Name of the condition that always runs. */
export const BASELINE = "baseline";

/** The four module roles an experiment folder may hold, each as `<role>.{ts,mts,js,mjs}`. */
export const MODULE_ROLES = ["datasources", "steps", "outputs", "verifiers"] as const;
export type ModuleRole = (typeof MODULE_ROLES)[number];

/** One alias of `datasource:`: either a local data source or another experiment's output. */
export interface DatasourceEntry {
  alias: string;
  /** Export of `datasources.*` to call, for a local source. */
  exportName?: string;
  /** `experiment#output`, for a reference. `experiment` is a name or a folder path. */
  ref?: { experiment: string; output: string };
  location: SourceLocation;
  /** Where `name:` is set, when it is. */
  nameLocation?: SourceLocation;
}

export interface StepSpec {
  /** Export of `steps.*`. */
  name: string;
  /** Keyword arguments from the config, `{name: {kwarg: value}}`. */
  kwargs: Record<string, unknown>;
  location: SourceLocation;
  /** Where `name:` is set, when it is. */
  nameLocation?: SourceLocation;
}

export interface OutputSpec {
  alias: string;
  /** File name inside the replicate/condition folder; never escapes it. */
  fileName: string;
  /** Export of `outputs.*` turning a value into bytes or a string; default: bytes/strings as is. */
  writer?: string;
  /** Export of `outputs.*` turning a file path into a value; default: the bytes. */
  loader?: string;
  location: SourceLocation;
  writerLocation?: SourceLocation;
  loaderLocation?: SourceLocation;
}

export interface HypothesisSpec {
  name: string;
  verifier: string;
  metrics: string[];
  params: Record<string, unknown>;
  location: SourceLocation;
  /** Where `name:` is set, when it is. */
  nameLocation?: SourceLocation;
}

export interface CliSettings {
  group?: string;
  priority?: number;
  icon?: string;
  color?: string;
  hidden?: boolean;
}

/** A validated `config.yaml`, with every path relative to the workspace root (POSIX separators). */
export interface ExperimentConfig {
  name: string;
  /** The experiment folder, relative to the workspace root. */
  dir: string;
  /** The config file, relative to the workspace root. */
  configFile: string;
  /** The experiment folder relative to the experiments folder: a second way to reference it. */
  folderId: string;
  description?: string;
  replicates: number;
  seed: number;
  /** `undefined` when the key is absent: the first step then gets the single exported source. */
  datasource?: DatasourceEntry[];
  datasourceLocation?: SourceLocation;
  steps: StepSpec[];
  outputs: OutputSpec[];
  /** Treatment name -> values, in config order, `baseline` included when declared. */
  treatments: Array<{ name: string; values: Record<string, unknown>; location: SourceLocation }>;
  hypotheses: HypothesisSpec[];
  cli: CliSettings;
  inputs: string[];
  env: string[];
  /**
   * Interpreter for Python experiments: a path (relative to the experiment folder) or a
   * command on PATH. Absent: the workspace's `.venv`, else `python3`.
   */
  python?: string;
  pythonLocation?: SourceLocation;
  /** Module file per role present in the folder, relative to the workspace root. */
  modules: Partial<Record<ModuleRole, string>>;
  /** Treatment names switched off in `config.state.json`. */
  inactiveTreatments: string[];
  /**
   * False when the folder's listing has no entry named `package.json`: its module system is
   * then its parent folder's, found without looking for the file. Absent: not known, look.
   */
  packageJson?: boolean;
  location: SourceLocation;
  /** Where `name:` is set, when it is. */
  nameLocation?: SourceLocation;
}
