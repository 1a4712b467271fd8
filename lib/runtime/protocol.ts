/**
 * Messages between the CLI and its worker processes. Only small control messages travel over
 * IPC; artifacts travel as files (a worker writes them into a staging folder the CLI names).
 */

/** A function exported by a user module, located by absolute path and export name. */
export interface ExportRef {
  /** Absolute path of the module file. */
  module: string;
  /** Export name. */
  name: string;
}

/** How one datasource alias gets its value in a unit. */
export type SourceSpec =
  | { kind: "local"; alias: string; fn: ExportRef }
  | {
      kind: "ref";
      alias: string;
      /** Absolute path of the upstream artifact file this unit reads. */
      path: string;
      /** The upstream output's loader; absent: the file's bytes. */
      loader?: ExportRef;
    }
  /** An upstream output already loaded by a worker of the producer's language (see LoadRequest). */
  | { kind: "value"; alias: string; value: unknown };

/** Everything a worker needs to run one (experiment, condition, replicate). */
export interface UnitSpec {
  /** Unique within a build; echoed in every reply. */
  id: string;
  experiment: string;
  condition: string;
  replicate: number;
  /** Per-replicate seed, shared by every condition of the replicate. */
  seed: number;
  /** Absolute experiment folder; the worker's cwd while the unit runs. */
  dir: string;
  /**
   * `single`: the datasources module's only export, its value passed as is (the seed's
   * producer). `map`: an object keyed by alias. `none`: the first step receives undefined.
   */
  input: { kind: "single"; fn: ExportRef } | { kind: "map"; sources: SourceSpec[] } | { kind: "none" };
  steps: Array<{ fn: ExportRef; kwargs: Record<string, unknown> }>;
  /** Treatment values of this condition, merged over the baseline's. */
  treatment: Record<string, unknown>;
  outputs: Array<{
    alias: string;
    /** The file name config.yaml gives it (`ctx.outputs.<alias>.fileName`). */
    fileName: string;
    /** Absolute staging path the artifact is written to. */
    path: string;
    writer?: ExportRef;
  }>;
}

/** One call of a custom verifier: a treatment's metric samples against the baseline's. */
export interface VerifyRequest {
  /** Unique within a build; echoed in every reply. */
  id: string;
  /** Absolute experiment folder; the worker's cwd while the verifier runs. */
  dir: string;
  /** The export of the experiment's verifiers module. */
  fn: ExportRef;
  /** Metric name -> the baseline's values, replicates in order (only the hypothesis's metrics). */
  baseline: Record<string, unknown[]>;
  /** The same for the treatment. */
  treatment: Record<string, unknown[]>;
  /** The hypothesis's `params`. */
  params: Record<string, unknown>;
}

/**
 * Reads an upstream output with its loader for a unit written in the other language (a Python
 * loader for a TypeScript consumer, or the reverse): the loaded value travels as JSON.
 */
export interface LoadRequest {
  /** Unique within a build; echoed in the reply. */
  id: string;
  /** Absolute folder of the upstream experiment; the worker's cwd while the loader runs. */
  dir: string;
  /** The upstream output's loader. */
  fn: ExportRef;
  /** Absolute path of the file to load. */
  path: string;
}

/** Runs one unit. */
export interface RunMessage {
  type: "run";
  unit: UnitSpec;
  /**
   * CommonJS the CLI compiled from TypeScript modules the unit may require, by absolute path
   * (see lib/run/compile.ts); only what this worker has not been sent before. A module not
   * here is compiled by tsx in the worker.
   */
  compiled: Record<string, string>;
}

export type ToWorker = RunMessage | { type: "verify"; request: VerifyRequest } | { type: "load"; request: LoadRequest };

/** A user error, with the user's stack (source-mapped to .ts lines) and our frames removed. */
export interface UserError {
  name: string;
  message: string;
  stack: string;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "log"; id: string; line: string }
  | { type: "warn"; id: string; line: string }
  | {
      type: "done";
      id: string;
      /** Metric name -> values recorded in this unit, in order. */
      metrics: Record<string, unknown[]>;
      durationMs: number;
      /**
       * Absolute paths of the files the unit opened to read, modules excepted: the CLI warns
       * about those its key does not cover (see undeclaredReads).
       */
      read?: string[];
      /**
       * Absolute paths of the modules the unit loaded from disk (`require`, ES modules, Python
       * imports): the CLI warns about those its key does not follow (see CoverageWarnings).
       */
      loaded?: string[];
      /**
       * Absolute paths of the folders the unit listed: a file added to one can change what it
       * does, so the CLI warns about those no glob among its `inputs:` reaches (see unwatchedListings).
       */
      listed?: string[];
      /**
       * Environment variables the unit's own code read (see lib/runtime/env-reads.ts): the CLI
       * warns about those its config does not declare under `env:`.
       */
      env?: string[];
    }
  | { type: "failed"; id: string; error: UserError; durationMs: number }
  | {
      type: "loaded";
      id: string;
      /** What the loader returned, as JSON values. */
      value: unknown;
    }
  | {
      type: "verdict";
      id: string;
      /** What the verifier returned: a plain object of JSON values (checked in the worker). */
      result: Record<string, unknown>;
    };
