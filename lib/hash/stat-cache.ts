import { readFileSync, statSync } from "node:fs";
import { writeFileAtomic } from "../store/atomic.js";

/** One remembered file: what it looked like on disk when `value` was computed from it. */
interface Entry {
  /** `size:mtimeNs:ctimeNs:ino`: any write changes mtime or ctime. */
  stamp: string;
  value: unknown;
}

/** On-disk format of the stat cache. */
interface CacheFile {
  v: 1;
  entries: Record<string, Entry>;
}

/** Files modified this recently are re-read next time: their mtime may not have ticked yet. */
const RACY_MS = 1500;

/**
 * Remembers values computed from files (digests, module analyses) by their stat, so a no-op
 * build stats files instead of reading them. A file whose stat changed in any way is recomputed;
 * an entry is never trusted for a file modified within RACY_MS of being read.
 */
export class StatCache {
  private entries: Record<string, Entry>;
  private dirty = false;
  private readonly used = new Set<string>();

  private constructor(private readonly file: string | undefined, entries: Record<string, Entry>) {
    this.entries = entries;
  }

  /** Loads the cache at `file`; a missing or unreadable cache is an empty one. */
  static load(file: string | undefined): StatCache {
    if (!file) return new StatCache(undefined, {});
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
      if (parsed.v === 1 && parsed.entries && typeof parsed.entries === "object") return new StatCache(file, parsed.entries);
    } catch {
      /* start empty */
    }
    return new StatCache(file, {});
  }

  /**
   * The value computed from `abs` by `compute`, reused while the file's stat is unchanged.
   * `kind` separates different computations over the same file.
   */
  async get<T>(abs: string, kind: string, compute: () => Promise<T>): Promise<T> {
    const id = `${kind}:${abs}`;
    this.used.add(id);
    // Synchronous on purpose: thousands of stats of a no-op cost far less without a thread-pool
    // round trip each.
    const before = statSync(abs, { bigint: true });
    const stamp = `${before.size}:${before.mtimeNs}:${before.ctimeNs}:${before.ino}`;
    const hit = this.entries[id];
    if (hit && hit.stamp === stamp) return hit.value as T;
    const value = await compute();
    const mtimeMs = Number(before.mtimeNs / 1_000_000n);
    if (Date.now() - mtimeMs > RACY_MS) {
      this.entries[id] = { stamp, value };
    } else {
      delete this.entries[id];
    }
    this.dirty = true;
    return value;
  }

  /**
   * Records a value for a file this process just wrote itself, so that the next build does not
   * re-read it. Only for our own writes: the racy rule above protects files others write.
   */
  async remember(abs: string, kind: string, value: unknown): Promise<void> {
    const s = statSync(abs, { bigint: true });
    this.entries[`${kind}:${abs}`] = { stamp: `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`, value };
    this.used.add(`${kind}:${abs}`);
    this.dirty = true;
  }

  /** Forgets a file (after we rewrote it ourselves, say). */
  forget(abs: string, kind: string): void {
    if (delete this.entries[`${kind}:${abs}`]) this.dirty = true;
  }

  /** Writes the cache if anything changed, dropping entries this run never asked about when `prune`. */
  async save(prune = false): Promise<void> {
    if (!this.file) return;
    if (prune) {
      for (const id of Object.keys(this.entries)) {
        if (!this.used.has(id)) {
          delete this.entries[id];
          this.dirty = true;
        }
      }
    }
    if (!this.dirty) return;
    const body: CacheFile = { v: 1, entries: this.entries };
    await writeFileAtomic(this.file, JSON.stringify(body));
    this.dirty = false;
  }
}
