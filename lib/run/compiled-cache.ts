import { readFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Compiled } from "../code/compile.js";
import { tempNameFor } from "../store/atomic.js";
import { digestBytes } from "../hash/digest.js";
import type { Snapshot, StatCache } from "../hash/stat-cache.js";
import { STATE_DIR } from "../workspace/state.js";

/** `.crystallize/compiled/<digest of the module's path>.json`. */
interface CompiledFile {
  /** The module's absolute path: two paths never share a file, even should their digests. */
  path: string;
  /** The source's stamp when it was read to compile (see StatCache). */
  stamp: string;
  /** Null: tsx compiles the module (see compileModule). */
  compiled: Compiled | null;
}

/**
 * Code compiled for the workers, kept across builds: one file per module, holding the stat of
 * the source it was compiled from. An unchanged module reruns without esbuild (about 1 ms of
 * its CPU each: a code edit of the root of the 500-experiment benchmark reruns 269). One small
 * file per module, not a stat-cache kind: a kind is read and rewritten whole, and at 500
 * modules its 760 KB cost every build that ran one unit ~60 ms. Files are written off the main
 * thread, each atomically; `flush` waits for them.
 */
export class CompiledCache {
  private readonly writes: Array<Promise<void>> = [];
  private dirMade?: Promise<unknown>;

  private constructor(private readonly dir: string, private readonly statCache: StatCache) {}

  /** The cache of the workspace at `root`. */
  static of(root: string, statCache: StatCache): CompiledCache {
    return new CompiledCache(join(root, STATE_DIR, "compiled"), statCache);
  }

  /** The module's compiled code if its source still looks as when it was compiled (null: left to tsx); undefined if not known. */
  read(abs: string, snapshot: Snapshot): Compiled | null | undefined {
    let file: CompiledFile;
    try {
      file = JSON.parse(readFileSync(this.pathOf(abs), "utf8")) as CompiledFile;
    } catch {
      return undefined;
    }
    return file.path === abs && file.stamp === snapshot.stamp ? file.compiled : undefined;
  }

  /** Keeps what was compiled from `abs` as it looked in `snapshot`, unless it had just changed (see StatCache.settled). */
  write(abs: string, snapshot: Snapshot, compiled: Compiled | undefined): void {
    if (!this.statCache.settled(snapshot)) return;
    const path = this.pathOf(abs);
    const body: CompiledFile = { path: abs, stamp: snapshot.stamp, compiled: compiled ?? null };
    this.dirMade ??= mkdir(this.dir, { recursive: true });
    const tmp = tempNameFor(path);
    this.writes.push(
      this.dirMade
        .then(() => writeFile(tmp, JSON.stringify(body)))
        .then(() => rename(tmp, path))
        // Only a shortcut: a file not written is compiled again next time.
        .catch(() => {}),
    );
  }

  /**
   * Removes the files no build can use again (`crystallize gc`, which holds the workspace lock):
   * their module is gone or has changed since, or they cannot be read, or a killed build left
   * them half-written. A changed module's file is replaced when it is next compiled, but a
   * deleted or renamed module's would stay forever. Returns how many (with `dryRun`, would be).
   */
  async prune(dryRun: boolean): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const path = join(this.dir, name);
      if (!name.startsWith(".") && this.usable(path)) continue;
      removed++;
      if (!dryRun) await rm(path, { force: true });
    }
    return removed;
  }

  private usable(path: string): boolean {
    try {
      const file = JSON.parse(readFileSync(path, "utf8")) as CompiledFile;
      return path === this.pathOf(file.path) && this.statCache.snapshot(file.path).stamp === file.stamp;
    } catch {
      return false;
    }
  }

  /** Waits for the files under way. */
  async flush(): Promise<void> {
    await Promise.all(this.writes.splice(0));
  }

  private pathOf(abs: string): string {
    return join(this.dir, `${digestBytes(abs)}.json`);
  }
}
