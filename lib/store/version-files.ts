import { existsSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { HYPOTHESES_FILE, type HypothesesFile } from "../hypotheses/types.js";
import type { Store } from "./store.js";
import type { MetadataFile, ResultsFile } from "./views.js";

/** What `show` reads from one `data/<exp>/v<N>` folder. Read-only: never repairs or writes. */
export interface VersionFolder {
  version: number;
  /** Absolute path of the folder. */
  dir: string;
  metadata: MetadataFile;
  /** Condition -> metric -> values in replicate order (`results.json`), in metadata order. */
  metrics: Record<string, Record<string, unknown[]>>;
  /** The verdicts, when the build wrote them; `error` when the file is there but unreadable. */
  hypotheses?: HypothesesFile | { error: string };
  /** When the version was written: the mtime of its metadata.json. */
  created: Date;
  /** Output alias -> how many of its files (one per condition and replicate) are on disk. */
  fileCounts: Record<string, number>;
}

/** Every `v<N>` folder number of an experiment, ascending. */
export async function versionNumbers(dataDir: string, experiment: string): Promise<number[]> {
  const names = await readdir(join(dataDir, experiment)).catch(() => [] as string[]);
  return names.map((n) => /^v(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1])).sort((a, b) => a - b);
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

function readHypotheses(path: string): VersionFolder["hypotheses"] {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = readJson(path) as HypothesesFile;
    if (!parsed || !Array.isArray(parsed.hypotheses)) return { error: "unexpected content" };
    return parsed;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Reads a version folder. Its metadata.json is the source; when a user deleted or broke it,
 * the copy the store's version index keeps is used, so `show` still works on a damaged view.
 */
export async function readVersionFolder(store: Store, experiment: string, version: number): Promise<VersionFolder | undefined> {
  const dir = join(store.dataDir, experiment, `v${version}`);
  const metaPath = join(dir, "metadata.json");
  let metadata: MetadataFile | undefined;
  let created: Date;
  try {
    metadata = readJson(metaPath) as MetadataFile;
    created = statSync(metaPath).mtime;
  } catch {
    metadata = (await store.readVersions(experiment)).metadata[version];
    if (!metadata || !existsSync(dir)) return undefined;
    created = statSync(dir).mtime;
  }
  const metrics: VersionFolder["metrics"] = {};
  for (const condition of metadata.conditions) {
    try {
      metrics[condition] = (readJson(join(dir, condition, "results.json")) as ResultsFile).metrics ?? {};
    } catch {
      metrics[condition] = {};
    }
  }
  const fileCounts: Record<string, number> = {};
  for (const [alias, file] of Object.entries(metadata.outputs)) {
    let count = 0;
    for (let r = 0; r < metadata.replicates; r++) {
      for (const condition of metadata.conditions) if (existsSync(join(dir, `replicate_${r}`, condition, file))) count++;
    }
    fileCounts[alias] = count;
  }
  return { version, dir, metadata, metrics, hypotheses: readHypotheses(join(dir, HYPOTHESES_FILE)), created, fileCounts };
}
