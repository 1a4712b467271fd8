import { statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StatCache } from "../hash/stat-cache.js";
import { LOCK_FILE } from "../lock/lockfile.js";
import { racyWindowMs } from "../stamp/signature.js";
import { offerReplay, stampFromTrace, traced, tracedContext } from "../stamp/trace.js";
import { checkAnswer } from "./commands.js";
import { hookRunsCheck } from "./hook.js";

/** The longest a build waits for its lock's signature to settle before pre-stamping. */
const MAX_WAIT_MS = 200;
/**
 * The filesystem's clock ticks coarser than Date.now() (a kernel tick, 4 to 10 ms), and the
 * stamp is judged by that clock (see writeStamp): wait this much beyond the racy window.
 */
const FS_TICK_MS = 20;

/**
 * After a build that rewrote the lock, the next commit's hook runs `crystallize check`, and
 * its first run would load the engine and rehash the workspace (~400 ms at 500 experiments,
 * against ~170 ms answered from a stamp). When a hook is set up to run it (see hookRunsCheck),
 * the build runs that check itself, in this process, recorded by a trace of its own exactly as
 * a traced `crystallize check` in the workspace root would be, and leaves its stamp. Nothing
 * is vouched for that the check did not itself read; an edit after the build voids the stamp
 * like any other. It shares the build's stat cache, which stats each file it answers for as a
 * freshly loaded one would. Only in a traced build or in watch mode (not `--json`, not with
 * CRYSTALLIZE_NO_STAMP).
 */
export async function prestampCheck(root: string, statCache: StatCache): Promise<void> {
  const context = tracedContext();
  if (!context || !hookRunsCheck(root)) return;
  try {
    // The lock was just written: a stamp taken within a clock tick of that is refused.
    const changed = statSync(join(root, LOCK_FILE), { throwIfNoEntry: false })?.mtimeMs;
    if (changed !== undefined) {
      const wait = changed + racyWindowMs(changed) + FS_TICK_MS - Date.now();
      if (wait > MAX_WAIT_MS) return;
      if (wait > 0) await sleep(wait);
    }
    const { trace, value } = await traced(async () => {
      const answer = await checkAnswer({ cwd: root }, statCache);
      offerReplay({ root: answer.root, exitCode: answer.exitCode });
      return answer;
    });
    stampFromTrace(trace, { argv: ["check"], cwd: root, tool: context.tool }, "check", value.exitCode, value.stdout);
  } catch {
    // A stamp is only ever a shortcut: a check that cannot run here runs in the hook.
  }
}
