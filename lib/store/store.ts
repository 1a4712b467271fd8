import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { digestFile, digestFileContent, type Digest } from "../hash/digest.js";
import type { UnitKey } from "../hash/keys.js";
import type { StatCache } from "../hash/stat-cache.js";
import { ensureDir, writeFileAtomic } from "./atomic.js";
import type { MetadataFile } from "./views.js";

/** One output file of a unit, as stored. */
export interface StoredOutput {
  /** File name inside `replicate_<r>/<condition>/`. */
  file: string;
  digest: Digest;
  size: number;
}

/**
 * The result of one successful unit: `data/.store/units/<key>.json`. Written only after every
 * output object is in the store, so a record that exists is complete.
 */
export interface UnitRecord {
  key: UnitKey;
  /** Informational: the experiment, condition and replicate that produced it. */
  experiment: string;
  condition: string;
  replicate: number;
  seed: number;
  /** Output alias -> stored file. */
  outputs: Record<string, StoredOutput>;
  /** Metric name -> values recorded, in order. */
  metrics: Record<string, unknown[]>;
  /** How long the unit ran, for scheduling and ETAs. */
  durationMs: number;
}

/** A unit that failed: remembered so that `status` can say why it will run again. */
export interface FailureRecord {
  key: UnitKey;
  message: string;
}

/** `data/.store/versions/<exp>.json`: which version folder holds which result. */
export interface VersionIndex {
  /** Result digest -> version number. */
  results: Record<string, number>;
  /** Version number -> the unit keys whose records make it up (what gc keeps). */
  units: Record<string, UnitKey[]>;
  /** Version number -> its metadata.json, fixed when the version was first written. */
  metadata: Record<string, MetadataFile>;
}

/** Objects are read-only, and so are the view files made from them. */
export const OBJECT_MODE = 0o444;

/** Whether the store under `dataDir` holds any unit record (a shard folder of `units/`). */
export function storeHasRecords(dataDir: string): boolean {
  return holdsEntries(join(dataDir, ".store", "units"));
}

/** Whether a folder holds anything but dot-names (the store, temporary files); a missing one holds nothing. */
function holdsEntries(dir: string): boolean {
  try {
    return readdirSync(dir).some((name) => !name.startsWith("."));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/**
 * Where a build finds units' results and keeps new ones: what running a unit needs of a store
 * (lib/run/unit-runner.ts). The seam for a remote cache: one that wraps the local Store, looks
 * up a key there first, then fetches the record and its objects from other machines into the
 * local store (checked against their digests before use), and sends what is kept on. Keys are
 * made to be shared: no absolute path, no timestamp, the same on every machine.
 */
export interface ResultCache {
  /** A record whose every object is present in the local store and intact; undefined otherwise, never a partial result. */
  lookup(key: UnitKey): Promise<UnitRecord | undefined>;
  /** Moves a staged output into the local store; returns its digest and size. */
  ingest(staged: string): Promise<{ digest: Digest; size: number }>;
  /** Keeps a unit's record, once its outputs are ingested. */
  writeRecord(record: UnitRecord): Promise<void>;
  /** Notes that the unit with this key failed (explained as an earlier failure next time). */
  markFailed(key: UnitKey, message: string): Promise<void>;
}

/**
 * The content-addressed store under `data/.store/`: objects by content digest, one record per
 * unit key, failure notes, and the version index. Objects are written by rename (so an object
 * that exists is whole) and made read-only.
 */
export class Store implements ResultCache {
  readonly dir: string;
  /**
   * Small objects this process stored, by digest, oldest first: a view of one is written from
   * memory (open, write, close) rather than copied back out of the store (ten system calls).
   */
  private readonly recent = new Map<Digest, Buffer>();
  private recentBytes = 0;
  /** Whether `failures/` may hold a note: looked at once per process (see writeRecord). */
  private failuresMayExist?: boolean;
  /**
   * Set by `claimEmpty` when the store and the views held nothing: then a record, a version
   * index or a view folder exists only if this process wrote it, and these are what it wrote.
   */
  private own?: { records: Set<UnitKey>; versions: Set<string> };

  constructor(readonly dataDir: string, private readonly statCache: StatCache) {
    this.dir = join(dataDir, ".store");
  }

  objectPath(digest: Digest): string {
    return join(this.dir, "objects", digest.slice(0, 2), digest.slice(2));
  }

  private recordPath(key: UnitKey): string {
    return join(this.dir, "units", key.slice(0, 2), `${key.slice(2)}.json`);
  }

  private failurePath(key: UnitKey): string {
    return join(this.dir, "failures", `${key}.json`);
  }

  /** The object still has its digest: re-hashed whenever its stat (size, times, inode) changed. */
  async verifyObject(digest: Digest): Promise<boolean> {
    const path = this.objectPath(digest);
    try {
      return (await this.statCache.get(path, "digest", () => digestFile(path))) === digest;
    } catch {
      return false;
    }
  }

  /**
   * A usable record for `key`: it parses and every object it names is present and intact.
   * Anything less is a miss, so a damaged store is rebuilt from, never served.
   */
  async lookup(key: UnitKey): Promise<UnitRecord | undefined> {
    if (this.own && !this.own.records.has(key)) return undefined;
    let record: UnitRecord;
    try {
      record = JSON.parse(readFileSync(this.recordPath(key), "utf8")) as UnitRecord;
    } catch {
      return undefined;
    }
    if (record.key !== key || typeof record.outputs !== "object") return undefined;
    for (const out of Object.values(record.outputs)) {
      if (!(await this.verifyObject(out.digest))) return undefined;
    }
    return record;
  }

  /** Moves a staged file into the store; returns its digest. Identical content is stored once. */
  async ingest(staged: string): Promise<{ digest: Digest; size: number }> {
    const { digest, size, mode, bytes } = await digestFileContent(staged);
    const target = this.objectPath(digest);
    if (await this.verifyObject(digest)) {
      unlinkSync(staged);
    } else {
      ensureDir(dirname(target));
      // Node workers create staged outputs read-only already (lib/runtime/worker.ts).
      if ((mode & 0o777) !== OBJECT_MODE) chmodSync(staged, OBJECT_MODE);
      renameSync(staged, target);
      await this.statCache.remember(target, "digest", digest);
    }
    if (bytes && bytes.length <= RECENT_FILE_BYTES) this.keepRecent(digest, bytes);
    return { digest, size };
  }

  /** The bytes of an object this process stored lately, if still kept (see `recent`). */
  recentObject(digest: Digest): Buffer | undefined {
    return this.recent.get(digest);
  }

  private keepRecent(digest: Digest, bytes: Buffer): void {
    if (this.recent.has(digest)) return;
    this.recent.set(digest, bytes);
    this.recentBytes += bytes.length;
    for (const [old, kept] of this.recent) {
      if (this.recentBytes <= RECENT_TOTAL_BYTES && this.recent.size <= RECENT_OBJECTS) break;
      this.recent.delete(old);
      this.recentBytes -= kept.length;
    }
  }

  async writeRecord(record: UnitRecord): Promise<void> {
    await writeFileAtomic(this.recordPath(record.key), JSON.stringify(record));
    this.own?.records.add(record.key);
    // A note of this key's earlier failure goes. One unlink, not rmSync's two stats first: this
    // runs once per unit and there is almost never a note; none at all in a store that never
    // kept one.
    if (!(this.failuresMayExist ??= existsSync(join(this.dir, "failures")))) return;
    try {
      unlinkSync(this.failurePath(record.key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  async markFailed(key: UnitKey, message: string): Promise<void> {
    const failure: FailureRecord = { key, message };
    this.failuresMayExist = true;
    await writeFileAtomic(this.failurePath(key), JSON.stringify(failure));
  }

  async failure(key: UnitKey): Promise<FailureRecord | undefined> {
    try {
      return JSON.parse(readFileSync(this.failurePath(key), "utf8")) as FailureRecord;
    } catch {
      return undefined;
    }
  }

  async readVersions(experiment: string): Promise<VersionIndex> {
    if (this.isNew(experiment)) return { results: {}, units: {}, metadata: {} };
    try {
      const parsed = JSON.parse(readFileSync(join(this.dir, "versions", `${experiment}.json`), "utf8")) as VersionIndex;
      if (parsed && typeof parsed.results === "object") return { results: parsed.results, units: parsed.units ?? {}, metadata: parsed.metadata ?? {} };
    } catch {
      /* no index yet */
    }
    return { results: {}, units: {}, metadata: {} };
  }

  async writeVersions(experiment: string, index: VersionIndex): Promise<void> {
    await writeFileAtomic(join(this.dir, "versions", `${experiment}.json`), JSON.stringify(index, null, 1));
    this.own?.versions.add(experiment);
  }

  /**
   * Whether the experiment certainly has no version index and no view folder: the store was
   * claimed empty, and this process has not indexed a version of it. A view folder is only
   * made after its version is indexed (settleVersion).
   */
  isNew(experiment: string): boolean {
    return this.own !== undefined && !this.own.versions.has(experiment);
  }

  /**
   * For a build, under the workspace lock, before its first lookup: when `units/` and
   * `versions/` are empty and `data/` holds no view folder, nothing but this process can add
   * to them until the lock is released, so the lookups of a cold build (one per unit, and two
   * per experiment as it settles) answer from memory instead of failing on disk, with an
   * exception each. Returns whether it was so.
   */
  claimEmpty(): boolean {
    const claimed = !holdsEntries(join(this.dir, "units")) && !holdsEntries(join(this.dir, "versions")) && !holdsEntries(this.dataDir);
    this.own = claimed ? { records: new Set(), versions: new Set() } : undefined;
    return claimed;
  }
}

/**
 * Objects kept in memory after they are stored (see Store.recent): up to 1 MiB each, 16 MiB and
 * 256 objects in all. The count bounds what small files hold on to beyond their bytes: a file
 * under 4 KiB is read into a slice of a shared 8 KiB buffer, which stays alive with it. An
 * experiment's view is written once all its units are in, so an experiment with many units or
 * a build with many in flight may find the oldest gone: then the view is copied.
 */
const RECENT_FILE_BYTES = 1 << 20;
const RECENT_TOTAL_BYTES = 16 << 20;
const RECENT_OBJECTS = 256;
