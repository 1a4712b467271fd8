import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import type { LockFile } from "../lock/lockfile.js";
import type { Store, UnitRecord } from "./store.js";

export interface GcReport {
  /** Unit records removed (or that would be). */
  records: number;
  /** Objects removed (or that would be), and their bytes. */
  objects: number;
  bytes: number;
  /** Versions forgotten because their folder is gone and the lock does not use them. */
  versions: number;
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/**
 * Removes store objects and records that neither the lock nor any existing version folder
 * refers to. The caller holds the workspace lock, so no build is using the store meanwhile.
 */
export async function collectGarbage(store: Store, lock: LockFile | undefined, experiments: string[], dryRun: boolean): Promise<GcReport> {
  const report: GcReport = { records: 0, objects: 0, bytes: 0, versions: 0 };
  const keepUnits = new Set<UnitKey>();
  const keepObjects = new Set<Digest>();
  for (const entry of Object.values(lock?.experiments ?? {})) for (const d of Object.values(entry.outputs)) keepObjects.add(d);

  const indexed = new Set([...experiments, ...(await list(join(store.dir, "versions"))).map((f) => f.replace(/\.json$/, ""))]);
  for (const exp of indexed) {
    const index = await store.readVersions(exp);
    const folders = new Set((await list(join(store.dataDir, exp))).filter((n) => /^v\d+$/.test(n)));
    const lockVersion = lock?.experiments[exp]?.version;
    let changed = false;
    for (const [resultId, version] of Object.entries(index.results)) {
      if (folders.has(`v${version}`) || version === lockVersion) {
        for (const k of index.units[version] ?? []) keepUnits.add(k);
      } else {
        delete index.results[resultId];
        delete index.units[version];
        delete index.metadata[version];
        report.versions++;
        changed = true;
      }
    }
    if (changed && !dryRun) await store.writeVersions(exp, index);
  }

  const unitsDir = join(store.dir, "units");
  for (const shard of await list(unitsDir)) {
    for (const file of await list(join(unitsDir, shard))) {
      const key = (shard + file.replace(/\.json$/, "")) as UnitKey;
      const path = join(unitsDir, shard, file);
      if (keepUnits.has(key)) {
        const record = (await store.lookup(key)) as UnitRecord | undefined;
        for (const o of Object.values(record?.outputs ?? {})) keepObjects.add(o.digest);
        continue;
      }
      report.records++;
      if (!dryRun) await rm(path, { force: true });
    }
  }
  const objectsDir = join(store.dir, "objects");
  for (const shard of await list(objectsDir)) {
    for (const file of await list(join(objectsDir, shard))) {
      if (keepObjects.has((shard + file) as Digest)) continue;
      const path = join(objectsDir, shard, file);
      report.objects++;
      report.bytes += (await stat(path).catch(() => ({ size: 0 }))).size;
      if (!dryRun) await rm(path, { force: true });
    }
  }
  if (!dryRun) await rm(join(store.dir, "failures"), { recursive: true, force: true });
  return report;
}
