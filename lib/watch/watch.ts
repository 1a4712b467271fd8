import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { buildWorkspace, openWorkspace, STATE_DIR, type BuildOutcome } from "../api/build.js";
import { LOCK_FILE } from "../lock/lockfile.js";
import type { ExecutionEvents } from "../run/executor.js";
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
  /** Called when a burst of changes starts a rebuild, before anything is planned. */
  onChange?(changed: string[]): void;
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

  const cycle = async (changed: string[]) => {
    buildAbort = new AbortController();
    try {
      const loaded = await openWorkspace(o.cwd);
      const outcome = await buildWorkspace(loaded, { targets: o.targets, jobs: o.jobs, events: o.events, signal: buildAbort.signal });
      o.onCycle({ outcome, changed });
    } catch (error) {
      o.onCycle({ error, changed });
    }
  };

  const run = (changed: string[]) => {
    building = cycle(changed).finally(() => {
      building = undefined;
      if (pending.size > 0 && !o.signal.aborted) schedule();
    });
  };

  const flush = () => {
    timer = undefined;
    if (building || o.signal.aborted) return;
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
    // A change during a build waits for it: experiments it made stale rerun in the next build.
    if (!building) schedule();
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
