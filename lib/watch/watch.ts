import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { buildWorkspace, type BuildOutcome } from "../api/build.js";
import { openWorkspace } from "../api/open.js";
import { definitions, prepareBuild } from "../api/prepare.js";
import type { StatCache } from "../hash/stat-cache.js";
import { STATE_DIR } from "../workspace/state.js";
import { LOCK_FILE } from "../lock/lockfile.js";
import type { ExecutionEvents } from "../run/results.js";
import { findRoot, loadSettings } from "../workspace/workspace.js";

/** Trailing quiet time before a rebuild, and the longest a burst of events can delay it. */
export const DEBOUNCE_MS = 80;
export const MAX_DELAY_MS = 400;

export interface WatchOptions {
  cwd: string;
  targets: string[];
  jobs?: number;
  events: Partial<ExecutionEvents>;
  /** Called after every build with its outcome, or with the error that stopped it. */
  onCycle(result: { outcome?: BuildOutcome; error?: unknown; changed: string[] }): void;
  /** Awaited after onCycle of a build that ran, before the next can start. */
  afterBuild?(outcome: BuildOutcome, statCache: StatCache): Promise<void>;
  /** Called when a burst of changes starts a rebuild, before anything is planned. */
  onChange?(changed: string[]): void;
  /** Called when a change during a build stops experiments it made stale (they rerun next). */
  onRestart?(experiments: string[]): void;
  /** Aborting ends watch mode: the running build is stopped and the watcher closed. */
  signal: AbortSignal;
}

/**
 * Builds, then rebuilds on every change under the workspace root. What reruns is decided by
 * keys, not by which file changed: an event that changes no key (a comment, a file no experiment
 * reads) rebuilds nothing. The tool's own writes (the data folder, `.crystallize/`, the lock)
 * are never watched, so a build cannot trigger the next one.
 */
export async function watchWorkspace(o: WatchOptions): Promise<void> {
  const root = findRoot(o.cwd);
  const data = (await loadSettings(root)).data;
  const ignored = (path: string) => {
    const rel = relative(root, path).split(sep).join("/");
    if (rel === "" || rel.startsWith("..")) return false;
    if (rel === LOCK_FILE || rel === data || rel.startsWith(data + "/")) return true;
    return rel.split("/").some((part) => part.startsWith(".") || part === "node_modules" || part === STATE_DIR);
  };
  const watcher: FSWatcher = watch(root, { ignored, ignoreInitial: true, persistent: true });
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  const pending = new Set<string>();
  let building: Promise<void> | undefined;
  let buildAbort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let firstEventAt = 0;

  /** What each experiment of the running build is defined by, and how to stop some of it. */
  let running: { defined: Map<string, string>; cancel(names: Iterable<string>): void } | undefined;

  const cycle = async (changed: string[]) => {
    buildAbort = new AbortController();
    try {
      const loaded = await openWorkspace(o.cwd);
      const defined = definitions(await prepareBuild(loaded, { targets: o.targets }));
      const outcome = await buildWorkspace(loaded, {
        targets: o.targets,
        jobs: o.jobs,
        events: o.events,
        signal: buildAbort.signal,
        onStart: (control) => (running = { defined, cancel: control.cancel }),
      });
      o.onCycle({ outcome, changed });
      // What follows a build is a shortcut for later commands: its failure is no build's.
      await o.afterBuild?.(outcome, loaded.statCache).catch(() => {});
    } catch (error) {
      o.onCycle({ error, changed });
    }
  };

  const run = (changed: string[]) => {
    building = cycle(changed).finally(() => {
      building = undefined;
      running = undefined;
      if (pending.size > 0 && !o.signal.aborted) schedule();
    });
  };

  /**
   * A change during a build: experiments whose definition it changed are stopped now (their
   * dependents with them); the rest of the build finishes, and the next build reruns them.
   */
  const restartStale = async () => {
    const current = running;
    if (!current) return;
    try {
      const now = definitions(await prepareBuild(await openWorkspace(o.cwd), { targets: o.targets }));
      const stale = [...current.defined.keys()].filter((name) => now.get(name) !== current.defined.get(name));
      if (stale.length > 0 && running === current) {
        o.onRestart?.(stale);
        current.cancel(stale);
      }
    } catch {
      // A config that no longer loads: the build in progress finishes; the next one reports it.
    }
  };

  const flush = () => {
    timer = undefined;
    if (o.signal.aborted) return;
    if (building) {
      void restartStale();
      return;
    }
    const changed = [...pending].sort();
    pending.clear();
    o.onChange?.(changed);
    run(changed);
  };

  // Trailing debounce with a cap: an editor's save or a `git checkout` is one rebuild.
  const schedule = () => {
    if (timer) clearTimeout(timer);
    const waited = Date.now() - firstEventAt;
    timer = setTimeout(flush, Math.max(0, Math.min(DEBOUNCE_MS, MAX_DELAY_MS - waited)));
  };

  watcher.on("all", (_event, path) => {
    if (pending.size === 0 && !timer) firstEventAt = Date.now();
    pending.add(relative(root, path).split(sep).join("/"));
    schedule();
  });

  run([]);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) return resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  if (timer) clearTimeout(timer);
  buildAbort?.abort();
  await building;
  await watcher.close();
}
