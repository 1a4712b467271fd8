import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";

/** Content of the workspace lock file: who holds it. */
interface Holder {
  pid: number;
  host: string;
  /** What the holder is doing, for the waiting message. */
  command: string;
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Holder;
  } catch {
    return undefined;
  }
}

/**
 * One build (or gc) at a time per workspace: an O_EXCL lock file holding pid and host. A lock
 * whose holder died on this host is taken over at once; otherwise the caller waits.
 */
export async function acquireBuildLock(path: string, command: string, onWait: (holder: Holder) => void): Promise<() => void> {
  await mkdir(dirname(path), { recursive: true });
  const me: Holder = { pid: process.pid, host: hostname(), command };
  let told = false;
  let unreadableSince: number | undefined;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(path);
    // An unreadable file is a holder between create and write, or one that died there.
    if (!holder) unreadableSince ??= Date.now();
    else unreadableSince = undefined;
    const deadHolder = holder ? holder.host === me.host && !alive(holder.pid) : Date.now() - unreadableSince! > 1000;
    if (deadHolder) {
      try {
        unlinkSync(path);
      } catch {
        /* someone else removed it first */
      }
      continue;
    }
    if (!told && holder) {
      onWait(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    try {
      if (readHolder(path)?.pid === process.pid) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  process.on("exit", release);
  return release;
}
