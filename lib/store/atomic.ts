import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, basename } from "node:path";

const processTag = randomBytes(4).toString("hex");
let counter = 0;

/** A temporary name beside `path`, so that the final rename stays on one filesystem. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${processTag}${(counter++).toString(16)}`);
}

/** Folders this process created or found: a build writes thousands of files into few folders. */
const knownDirs = new Set<string>();

export function ensureDir(dir: string): void {
  if (knownDirs.has(dir)) return;
  mkdirSync(dir, { recursive: true });
  knownDirs.add(dir);
}

/**
 * Writes to a temporary file and renames it over `path`: a reader sees the old content or the
 * new, never half of it, whatever moment the process dies. Synchronous inside: these are small
 * files (records, indexes, the lock), for which a thread-pool round trip per call costs more
 * than the write.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  ensureDir(dirname(path));
  const tmp = tempNameFor(path);
  try {
    try {
      writeFileSync(tmp, data);
    } catch (err) {
      // The folder was removed since we created it (a user, or a staging folder renamed away).
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(tmp, data);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
