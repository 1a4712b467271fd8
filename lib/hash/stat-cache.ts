import { readFileSync, rmSync, statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../store/atomic.js";

/**
 * One remembered file: `[stamp, value]`, what the file looked like on disk when `value` was
 * computed from it. The stamp is `size:mtimeNs:ctimeNs:ino`: any write changes mtime or ctime.
 * A pair rather than an object: the files hold thousands of entries and parsing is per object.
 */
type Entry = [stamp: string, value: unknown];

/** On-disk format of one kind's file. */
interface KindFile {
  v: 2;
  entries: Record<string, Entry>;
}

/**
 * Files changed this recently are re-read next time: their timestamps may not have ticked yet.
 * Both mtime and ctime count: a tool that sets mtime back (`touch -d`, `cp -p`) changes ctime.
 */
const RACY_MS = 1500;

/** The single-file cache of earlier versions; removed when the new one is first written. */
const LEGACY_FILE = "stat-cache.json";

/** One kind's entries, loaded from `<dir>/<kind>.json` on first use. */
interface Kind {
  entries: Record<string, Entry>;
  dirty: boolean;
  used: Set<string>;
}

/**
 * What a file looked like when a value was computed from it (see get and snapshot): a value
 * kept elsewhere stands for the file while it still looks so (see CompiledCache).
 */
export interface Snapshot {
  readonly stamp: string;
  /** The file's newest timestamp, for the racy rule. */
  readonly changedMs: number;
}

interface Lookup extends Snapshot {
  hit: boolean;
  value: unknown;
  k: Kind;
}

/**
 * Remembers values computed from files (digests, module analyses, parsed YAML) by their stat,
 * so a no-op build stats files instead of reading them. A file whose stat changed in any way is
 * recomputed; an entry is never trusted for a file changed within RACY_MS of being read.
 *
 * Each kind of value lives in its own file, read only when a command first asks for that kind:
 * `check` never reads the digests of stored outputs, and a command rewrites only the kinds it
 * changed.
 */
export class StatCache {
  private readonly kinds = new Map<string, Kind>();

  private constructor(private readonly dir: string | undefined, private readonly now: () => number) {}

  /**
   * A cache kept in the folder `dir` (created on first save); undefined: remember nothing across
   * runs. `now` is the clock the racy rule reads (tests move it forward instead of waiting).
   */
  static load(dir: string | undefined, now: () => number = Date.now): StatCache {
    return new StatCache(dir, now);
  }

  private kind(name: string): Kind {
    let kind = this.kinds.get(name);
    if (kind) return kind;
    let entries: Record<string, Entry> = {};
    if (this.dir) {
      try {
        const parsed = JSON.parse(readFileSync(join(this.dir, `${name}.json`), "utf8")) as KindFile;
        if (parsed.v === 2 && parsed.entries && typeof parsed.entries === "object") entries = parsed.entries;
      } catch {
        /* missing or unreadable: start empty */
      }
    }
    kind = { entries, dirty: false, used: new Set() };
    this.kinds.set(name, kind);
    return kind;
  }

  /**
   * The value computed from `abs` by `compute`, reused while the file's stat is unchanged.
   * `kind` separates different computations over the same file. `compute` is given the stat
   * it runs under, for a second value it derives from the same read (see ModuleIndex.analyze).
   */
  async get<T>(abs: string, kind: string, compute: (snapshot: Snapshot) => Promise<T>): Promise<T> {
    const seen = this.lookup(abs, kind);
    if (seen.hit) return seen.value as T;
    const value = await compute({ stamp: seen.stamp, changedMs: seen.changedMs });
    this.store(seen, abs, value);
    return value;
  }

  /** What `abs` looks like now: take it before reading the file, to record what is computed from the read. */
  snapshot(abs: string): Snapshot {
    const s = statSync(abs, { bigint: true });
    return { stamp: stampOf(s), changedMs: changedMsOf(s) };
  }

  /** Whether a value computed under `snapshot` may be kept: the file was not changed just before (see RACY_MS). */
  settled(snapshot: Snapshot): boolean {
    return this.now() - snapshot.changedMs > RACY_MS;
  }

  /** `get` for a synchronous computation (a folder listing, say): no promise per file. */
  getSync<T>(abs: string, kind: string, compute: () => T): T {
    const seen = this.lookup(abs, kind);
    if (seen.hit) return seen.value as T;
    const value = compute();
    this.store(seen, abs, value);
    return value;
  }

  private lookup(abs: string, kind: string): Lookup {
    const k = this.kind(kind);
    k.used.add(abs);
    // Synchronous on purpose: thousands of stats of a no-op cost far less without a thread-pool
    // round trip each. Taken before computing: a change made meanwhile shows next time.
    const s = statSync(abs, { bigint: true });
    const stamp = stampOf(s);
    const hit = k.entries[abs];
    if (hit && hit[0] === stamp) return { hit: true, value: hit[1], k, stamp, changedMs: 0 };
    return { hit: false, value: undefined, k, stamp, changedMs: changedMsOf(s) };
  }

  private store(seen: Lookup, abs: string, value: unknown): void {
    const { k } = seen;
    if (this.settled(seen)) {
      k.entries[abs] = [seen.stamp, value];
      k.dirty = true;
    } else if (abs in k.entries) {
      // Not `delete`'s result: it is true for a missing key too, and a file just edited would
      // have its whole kind rewritten by every command until it left the racy window.
      delete k.entries[abs];
      k.dirty = true;
    }
  }

  /**
   * Records a value for a file this process just wrote itself, so that the next build does not
   * re-read it. Only for our own writes: the racy rule above protects files others write.
   */
  async remember(abs: string, kind: string, value: unknown): Promise<void> {
    const s = statSync(abs, { bigint: true });
    const k = this.kind(kind);
    k.entries[abs] = [stampOf(s), value];
    k.used.add(abs);
    k.dirty = true;
  }

  /** Forgets a file (after we rewrote it ourselves, say). */
  forget(abs: string, kind: string): void {
    const k = this.kind(kind);
    if (!(abs in k.entries)) return;
    delete k.entries[abs];
    k.dirty = true;
  }

  /**
   * Writes the kinds that changed, dropping entries this run never asked about when `prune`
   * (only in kinds this run used: the others it knows nothing about).
   */
  async save(prune = false): Promise<void> {
    if (!this.dir) return;
    let wrote = false;
    for (const [name, k] of this.kinds) {
      if (prune) {
        for (const abs of Object.keys(k.entries)) {
          if (!k.used.has(abs)) {
            delete k.entries[abs];
            k.dirty = true;
          }
        }
      }
      if (!k.dirty) continue;
      const body: KindFile = { v: 2, entries: k.entries };
      await writeFileAtomic(join(this.dir, `${name}.json`), JSON.stringify(body));
      k.dirty = false;
      wrote = true;
    }
    if (wrote) rmSync(join(this.dir, "..", LEGACY_FILE), { force: true });
  }
}

/** A file's stamp: `size:mtimeNs:ctimeNs:ino`, which any write changes. */
function stampOf(s: BigIntStats): string {
  return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
}

/** A file's newest timestamp in milliseconds, for the racy rule. */
function changedMsOf(s: BigIntStats): number {
  return Number((s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs) / 1_000_000n);
}
