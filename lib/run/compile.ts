import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compiledHere, compileModule, compilesFor, workerCode } from "../code/compile.js";
import { ModuleTypes } from "../code/module-type.js";
import type { AnalysedCompilation } from "../code/modules.js";
import type { StatCache } from "../hash/stat-cache.js";
import { CompiledCache } from "./compiled-cache.js";

/**
 * TypeScript compiled once, here, for the workers. Left to tsx, each worker compiles every
 * module it requires with esbuild's synchronous API: a round trip from the worker to esbuild's
 * thread and process and back per module, about 6 ms of waiting under a cold build's load, or
 * ~1.5 s per worker at 500 experiments. Here the same compilation runs on esbuild's
 * asynchronous API, many at once, and the code travels with the unit (see the `run` message
 * in lib/runtime/protocol.ts); the worker runs what it is given and leaves the rest to
 * tsx (lib/runtime/register.ts). How a module is compiled: lib/code/compile.ts.
 *
 * A module the build's analysis read for the first time was compiled then (see
 * ModuleIndex.takeCompiled); what is compiled is kept for later builds (see CompiledCache).
 */
export class Compiler {
  private readonly memo = new Map<string, Promise<string | undefined>>();
  private readonly enabled: boolean;
  private readonly moduleTypes = new ModuleTypes();
  /** Files to compile ahead of need, in order, a few at a time (see precompile). */
  private readonly queue: string[] = [];
  private inFlight = 0;
  private readonly cache: CompiledCache;

  /** `byAnalysis`: a module as the build's analysis already compiled it, if it did. */
  constructor(
    private readonly root: string,
    private readonly statCache: StatCache,
    private readonly byAnalysis: (abs: string) => AnalysedCompilation | undefined = () => undefined,
  ) {
    this.enabled = compilesFor(root);
    this.cache = CompiledCache.of(root, statCache);
  }

  /** CommonJS code for those of `files` (workspace-relative) a worker may run as given, by absolute path. */
  async compiled(files: Iterable<string>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const pending: Array<Promise<void>> = [];
    for (const abs of this.compilable(files)) pending.push(this.start(abs).then((code) => void (code === undefined || (out[abs] = code))));
    await Promise.all(pending);
    return out;
  }

  /**
   * Compiles `files` ahead of need, at most PRECOMPILING at a time, after those asked before
   * (or before them when `soon`). esbuild works on every request it has at once: given a cold
   * build's 500 modules together, it answered the first unit's module only with the last, and
   * the workers, ready, waited 190-280 ms for their first unit.
   */
  precompile(files: Iterable<string>, soon = false): void {
    const fresh = [...this.compilable(files)].filter((abs) => !this.memo.has(abs));
    if (soon) this.queue.unshift(...fresh);
    else this.queue.push(...fresh);
    this.pump();
  }

  /** The absolute paths of those of `files` the CLI compiles (see Compiler). */
  private *compilable(files: Iterable<string>): Iterable<string> {
    if (!this.enabled) return;
    for (const rel of files) {
      const abs = join(this.root, rel);
      if (compiledHere(abs, this.moduleTypes)) yield abs;
    }
  }

  private start(abs: string): Promise<string | undefined> {
    let p = this.memo.get(abs);
    if (!p) {
      const analysed = this.byAnalysis(abs);
      if (analysed !== undefined) {
        this.cache.write(abs, analysed.snapshot, analysed.compiled);
        p = Promise.resolve(workerCode(abs, analysed.compiled));
        this.memo.set(abs, p);
        return p;
      }
      this.inFlight++;
      p = this.compile(abs).finally(() => {
        this.inFlight--;
        this.pump();
      });
      this.memo.set(abs, p);
    }
    return p;
  }

  private pump(): void {
    while (this.inFlight < PRECOMPILING && this.queue.length > 0) void this.start(this.queue.shift()!);
  }

  /** Waits for the compiled code being kept for later builds. */
  flush(): Promise<void> {
    return this.cache.flush();
  }

  private async compile(abs: string): Promise<string | undefined> {
    try {
      // Taken before the read: what is kept stands for the file as it was read, or older.
      const snapshot = this.statCache.snapshot(abs);
      const kept = this.cache.read(abs, snapshot);
      if (kept !== undefined) return kept ? workerCode(abs, kept) : undefined;
      const compiled = await compileModule(abs, readFileSync(abs, "utf8"));
      this.cache.write(abs, snapshot, compiled);
      return compiled && workerCode(abs, compiled);
    } catch {
      // A file that cannot be read or compiled here is tsx's to report, with its own message.
      return undefined;
    }
  }
}

/**
 * Compilations under way at once ahead of need. Cold build N=500, interleaved: 4 was slower
 * than all at once (3.30 against 3.02 s, 8 of 8 pairs), as each answer then costs this thread
 * a turn of its own; 64 was faster (3.56 against 3.68 s, 6 of 8); 160 no better than 64.
 */
const PRECOMPILING = 64;
