import { isMap, isScalar, type Node } from "yaml";
import { didYouMean } from "../errors/error.js";
import { describeNode, YamlSource } from "../config/source.js";

/** `crystallize.yaml` at the workspace root: every key optional. */
export interface WorkspaceSettings {
  /** Folder holding the experiments, relative to the root. Default `experiments`. */
  experiments: string;
  /** Folder for outputs, views and the store, relative to the root. Default `data`. */
  data: string;
  /** Default parallelism; the CLI's `-j` wins. Default: the number of cores. */
  jobs?: number;
  /** Heap limit of each worker process in MiB (Node's --max-old-space-size). */
  workerMemoryMb?: number;
}

const KEYS: Record<string, "string" | "int"> = { experiments: "string", data: "string", jobs: "int", worker_memory_mb: "int" };
/** Node does not even start below 4 MiB of heap (V8 aborts, SIGTRAP); 16 leaves room for the worker runtime and a small step. */
const MIN_WORKER_MEMORY_MB = 16;

export function parseSettings(file: string, text: string): WorkspaceSettings {
  const src = YamlSource.parse(file, text);
  const settings: WorkspaceSettings = { experiments: "experiments", data: "data" };
  const root = src.contents;
  if (root === null || (isScalar(root) && root.value === null)) return settings;
  if (!isMap(root)) throw src.error("CONFIG_TYPE", root as Node, `crystallize.yaml must be a mapping, got ${describeNode(root)}`);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const kind = KEYS[key];
    if (!kind) {
      const guess = didYouMean(key, Object.keys(KEYS));
      throw src.error("CONFIG_UNKNOWN_KEY", pair, `unknown key "${key}" in crystallize.yaml`, { hint: guess ? `did you mean \`${guess}\`?` : `allowed keys: ${Object.keys(KEYS).join(", ")}` });
    }
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    if (kind === "string") {
      if (typeof value !== "string" || value.startsWith("/") || value.split("/").includes("..")) {
        throw src.error("CONFIG_TYPE", pair.value as Node, `${key}: expected a folder inside the workspace, got ${describeNode(pair.value)}`);
      }
      settings[key as "experiments" | "data"] = value.replace(/\/+$/, "") || ".";
    } else {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        throw src.error("CONFIG_TYPE", pair.value as Node, `${key}: expected a positive integer, got ${describeNode(pair.value)}`);
      }
      if (key === "jobs") settings.jobs = value;
      else if (value < MIN_WORKER_MEMORY_MB) {
        throw src.error("CONFIG_VALUE", pair.value as Node, `${key}: must be at least ${MIN_WORKER_MEMORY_MB} (MiB), got ${value}`, { hint: "it is each worker's heap limit; a worker cannot start with less" });
      } else settings.workerMemoryMb = value;
    }
  }
  return settings;
}
