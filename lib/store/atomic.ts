import { randomBytes } from "node:crypto";
import { rename, rm, writeFile, mkdir } from "node:fs/promises";
import { dirname, join, basename } from "node:path";

/** A temporary name beside `path`, so that the final rename stays on one filesystem. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Writes to a temporary file and renames it over `path`: a reader sees the old content or the
 * new, never half of it, whatever moment the process dies.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
