import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { copyFile, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { digestBytes, digestFile } from "../hash/digest.js";
import type { StatCache } from "../hash/stat-cache.js";
import { ensureDir, tempNameFor, writeFileAtomic } from "./atomic.js";
import { alive } from "./build-lock.js";
import { OBJECT_MODE, type Store, type StoredOutput } from "./store.js";

/** `data/<exp>/v<N>/<condition>/results.json`: metrics of one condition. */
export interface ResultsFile {
  /** Metric name -> every value recorded, replicates in order (the 0.x format). */
  metrics: Record<string, unknown[]>;
  /** The same, per replicate, so values never misalign when counts differ. */
  replicates: Array<{ replicate: number; seed: number; metrics: Record<string, unknown[]> }>;
}

/** `data/<exp>/v<N>/metadata.json`. */
export interface MetadataFile {
  name: string;
  version: number;
  replicates: number;
  seed: number;
  conditions: string[];
  /** Output alias -> file name inside `replicate_<r>/<condition>/`. */
  outputs: Record<string, string>;
  /** Upstream outputs read: `experiment#output` -> the version read. */
  upstream: Record<string, number>;
}

/** One unit's part of a view. */
export interface ViewUnit {
  condition: string;
  replicate: number;
  outputs: Record<string, StoredOutput>;
}

/** Everything a version folder holds, derived from store records. */
export interface ViewContent {
  metadata: MetadataFile;
  results: Record<string, ResultsFile>;
  units: ViewUnit[];
}

export type ViewState = "created" | "repaired" | "intact";

/** Highest `v<N>` folder of an experiment, or -1. Synchronous: one small listing per experiment. */
export function latestVersion(dataDir: string, experiment: string): number {
  let names: string[];
  try {
    names = readdirSync(join(dataDir, experiment));
  } catch {
    return -1;
  }
  return Math.max(-1, ...names.map((n) => /^v(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1])));
}

/** Folders from just below `top` down to `dir`, outermost first. */
function ancestorsBelow(top: string, dir: string): string[] {
  const chain: string[] = [];
  for (let d = dir; d !== top && d.length > top.length; d = dirname(d)) chain.unshift(d);
  return chain;
}

/** Copies an object out of the store: from memory when just stored, else a reflink where the filesystem can, else a copy. */
async function restore(store: Store, out: StoredOutput, dest: string, makeDir = true): Promise<void> {
  if (makeDir) mkdirSync(dirname(dest), { recursive: true });
  const recent = store.recentObject(out.digest);
  if (recent) return writeFileSync(dest, recent, { mode: OBJECT_MODE });
  // Small files synchronously (no thread-pool round trip); large ones without blocking.
  if (out.size <= 1 << 20) copyFileSync(store.objectPath(out.digest), dest, constants.COPYFILE_FICLONE);
  else await copyFile(store.objectPath(out.digest), dest, constants.COPYFILE_FICLONE);
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * Makes `data/<exp>/v<N>` hold exactly `content`. Every file is checked (by digest, through the
 * stat cache) and any that was edited or deleted is restored from the store before anything
 * reads it. The folder itself is looked at only when a file is not intact: an intact file
 * vouches for the folders above it, so a no-op build consults nothing but the files. A missing
 * folder is assembled in a hidden temporary folder and renamed into place, so a `v<N>` that
 * exists is complete. `fresh`: the version number was just taken, above every `v<N>` there is,
 * so there is nothing to check.
 */
export async function materializeView(store: Store, statCache: StatCache, experiment: string, content: ViewContent, tag: string, fresh = false): Promise<ViewState> {
  const dir = join(store.dataDir, experiment, `v${content.metadata.version}`);
  const jsonFiles: Array<{ rel: string; text: string }> = [
    { rel: "metadata.json", text: jsonText(content.metadata) },
    ...Object.entries(content.results).map(([c, r]) => ({ rel: `${c}/results.json`, text: jsonText(r) })),
  ];
  const outputs = content.units.flatMap((u) => Object.values(u.outputs).map((o) => ({ rel: `replicate_${u.replicate}/${u.condition}/${o.file}`, out: o })));
  const create = () => createView(store, statCache, dir, { outputs, jsonFiles }, join(store.dataDir, ".tmp", tag, ".views", experiment));
  if (fresh) return create();
  const intact = async (path: string, digest: string) => {
    try {
      return (await statCache.get(path, "digest", () => digestFile(path))) === digest;
    } catch {
      return false;
    }
  };

  let repaired = false;
  for (const { rel, out } of outputs) {
    const path = join(dir, rel);
    if (await intact(path, out.digest)) continue;
    if (!repaired && !existsSync(dir)) return create();
    const tmp = tempNameFor(path);
    await restore(store, out, tmp);
    await rename(tmp, path);
    await statCache.remember(path, "digest", out.digest);
    repaired = true;
  }
  for (const { rel, text } of jsonFiles) {
    const path = join(dir, rel);
    const digest = digestBytes(text);
    if (await intact(path, digest)) continue;
    if (!repaired && !existsSync(dir)) return create();
    await writeFileAtomic(path, text);
    await statCache.remember(path, "digest", digest);
    repaired = true;
  }
  return repaired ? "repaired" : "intact";
}

/** A version folder's files, relative to it: outputs copied from the store, and JSON written. */
interface ViewFiles {
  outputs: Array<{ rel: string; out: StoredOutput }>;
  jsonFiles: Array<{ rel: string; text: string }>;
}

/**
 * Assembles a missing version folder in `tmp`, inside this build's staging folder (same
 * filesystem), and renames it into place, so a killed build leaves nothing half-made beside the
 * versions, and cleaning up never scans every experiment. The folder is private until renamed,
 * so its files are written in place, each folder made once.
 */
async function createView(store: Store, statCache: StatCache, dir: string, { outputs, jsonFiles }: ViewFiles, tmp: string): Promise<"created"> {
  try {
    ensureDir(dirname(tmp));
    try {
      mkdirSync(tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
    }
    const made = new Set<string>([tmp]);
    const place = (rel: string) => {
      const path = join(tmp, rel);
      for (const d of ancestorsBelow(tmp, dirname(path))) if (!made.has(d)) (mkdirSync(d), made.add(d));
      return path;
    };
    for (const { rel, out } of outputs) await restore(store, out, place(rel), false);
    for (const { rel, text } of jsonFiles) writeFileSync(place(rel), text);
    ensureDir(dirname(dir));
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  for (const { rel, out } of outputs) await statCache.remember(join(dir, rel), "digest", out.digest);
  for (const { rel, text } of jsonFiles) await statCache.remember(join(dir, rel), "digest", digestBytes(text));
  return "created";
}

/**
 * Removes what a killed build left half-made: its staging folder (staged outputs and version
 * folders being assembled), named `<pid>-<random>`, once that process is gone.
 */
export async function cleanupStale(dataDir: string): Promise<void> {
  for (const tag of await readdir(join(dataDir, ".tmp")).catch(() => [] as string[])) {
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(tag)?.[1] ?? NaN);
    if (Number.isFinite(pid) && pid !== process.pid && !alive(pid)) await rm(join(dataDir, ".tmp", tag), { recursive: true, force: true });
  }
}
