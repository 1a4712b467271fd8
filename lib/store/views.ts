import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "./atomic.js";

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

/** Everything one finished experiment puts in a new version folder. */
export interface VersionContent {
  metadata: Omit<MetadataFile, "version">;
  results: Record<string, ResultsFile>;
  /** Files to move in: staging path -> path relative to the version folder. */
  files: Array<{ from: string; to: string }>;
}

export function versionDir(dataDir: string, experiment: string, version: number): string {
  return join(dataDir, experiment, `v${version}`);
}

/** Highest `v<N>` folder of an experiment, or -1. */
export async function latestVersion(dataDir: string, experiment: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(join(dataDir, experiment));
  } catch {
    return -1;
  }
  return Math.max(-1, ...names.map((n) => /^v(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1])));
}

/**
 * Assembles the version in a hidden temporary folder and renames it into place as the last
 * step: a `v<N>` folder that exists is always complete. Returns the version number taken.
 */
export async function writeVersion(dataDir: string, experiment: string, content: VersionContent, tag: string): Promise<number> {
  const expDir = join(dataDir, experiment);
  const tmp = join(expDir, `.v-tmp-${tag}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const f of content.files) {
      const to = join(tmp, f.to);
      await mkdir(dirname(to), { recursive: true });
      await rename(f.from, to);
    }
    for (const [condition, results] of Object.entries(content.results)) {
      await writeFileAtomic(join(tmp, condition, "results.json"), JSON.stringify(results, null, 2) + "\n");
    }
    for (let attempt = 0; ; attempt++) {
      const version = (await latestVersion(dataDir, experiment)) + 1;
      const metadata: MetadataFile = { ...content.metadata, version };
      await writeFileAtomic(join(tmp, "metadata.json"), JSON.stringify(metadata, null, 2) + "\n");
      try {
        await rename(tmp, versionDir(dataDir, experiment, version));
        return version;
      } catch (err) {
        // Another build took this number between our read and our rename: take the next.
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== "ENOTEMPTY" && code !== "EEXIST") || attempt > 20) throw err;
      }
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what a killed build left half-assembled: staging folders and hidden version folders
 * whose owning process is gone. Named `<pid>-<random>`, so a running build's are kept.
 */
export async function cleanupStale(dataDir: string): Promise<void> {
  const owner = (name: string) => Number(/(?:^|-)(\d+)-[0-9a-f]+$/.exec(name)?.[1] ?? NaN);
  const stale = (name: string) => {
    const pid = owner(name);
    return Number.isFinite(pid) && pid !== process.pid && !pidAlive(pid);
  };
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch {
    return;
  }
  for (const tag of await readdir(join(dataDir, ".tmp")).catch(() => [] as string[])) {
    if (stale(tag)) await rm(join(dataDir, ".tmp", tag), { recursive: true, force: true });
  }
  for (const exp of entries) {
    if (exp.startsWith(".")) continue;
    for (const name of await readdir(join(dataDir, exp)).catch(() => [] as string[])) {
      if (name.startsWith(".v-tmp-") && stale(name.slice(".v-tmp-".length))) await rm(join(dataDir, exp, name), { recursive: true, force: true });
    }
  }
}
