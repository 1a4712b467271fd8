import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CrystallizeError } from "../errors/error.js";

/**
 * Creates `dir` holding `files`, all or nothing: they are written into a dot-folder beside it
 * (which discovery never scans) and the folder is renamed into place last, so a crash never
 * leaves an experiment with half its files, and a folder that appeared meanwhile is not overwritten.
 */
export function writeFolderAtomic(dir: string, files: Array<[string, string]>, shownAs: string): void {
  const staging = join(dirname(dir), `.${basename(dir)}.new-${process.pid}`);
  try {
    mkdirSync(dirname(dir), { recursive: true });
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    for (const [name, content] of files) writeFileSync(join(staging, name), content);
    // rename() would replace an empty folder that appeared since the checks; refuse that too.
    if (existsSync(dir)) throw exists(shownAs);
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (err instanceof CrystallizeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") throw exists(shownAs);
    if (code) throw new CrystallizeError("INTERNAL_IO", `cannot create ${shownAs}: ${(err as Error).message}`);
    throw err;
  }
}

export function exists(shownAs: string): CrystallizeError {
  return new CrystallizeError("USAGE", `${shownAs} already exists`, { hint: "choose another name, or move that folder away first" });
}
