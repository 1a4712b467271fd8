import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sameJson, type Digest } from "../hash/digest.js";
import type { StatCache } from "../hash/stat-cache.js";
import type { NormalizedConfig } from "../hash/keys.js";
import { mergeConflict } from "../errors/conflict.js";
import { CrystallizeError } from "../errors/error.js";
import { writeFileAtomic } from "../store/atomic.js";
import { emitYaml } from "./yaml-emit.js";
import { readEmittedYaml } from "./yaml-read.js";

export const LOCK_FILE = "crystallize.lock";
const LOCK_VERSION = 1;

/** One experiment's entry in `crystallize.lock`: what its current result was built from. */
export interface LockEntry {
  /** Digest of the experiment's unit keys: equal keys, equal results. */
  key: Digest;
  /** The `data/<exp>/v<N>` folder holding this result. */
  version: number;
  /** The normalised config the result was built from (values, never environment values). */
  params: NormalizedConfig;
  /** Code files (the experiment's modules and their local imports) -> normalised digest. */
  code: Record<string, Digest>;
  /** Imported packages -> version, with a digest of their dependencies when they have any (see PackageVersions). */
  packages: Record<string, string>;
  /** Declared input files -> content digest. */
  inputs: Record<string, Digest>;
  /** Declared environment variable names -> digest of the value (null: unset). */
  env: Record<string, Digest | null>;
  /** Node major version the code ran on. */
  runtime: string;
  /** `experiment#output` -> `condition/replicate_<r>` of this experiment -> digest of the file read. */
  upstream: Record<string, Record<string, Digest>>;
  /** `condition/replicate_<r>/<file_name>` -> content digest. */
  outputs: Record<string, Digest>;
}

export interface LockFile {
  version: number;
  experiments: Record<string, LockEntry>;
}

const HEADER = "# crystallize.lock: written by `crystallize build`, checked by `crystallize check`.\n# Commit it. Do not edit it by hand.\n";

/**
 * Reads and validates the lock; its parse is remembered by stat, so a no-op never parses YAML.
 * A lock git left merge conflicts in throws LOCK_CONFLICT: the lock is derived from configs,
 * code and the store, so a build writes it afresh instead of refusing, as npm does for
 * package-lock.json, while what needs its content (check, verify, gc) says so.
 */
export async function readLock(root: string, statCache?: StatCache): Promise<LockFile | undefined> {
  const path = join(root, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  const compute = () => {
    const text = readFileSync(path, "utf8");
    const conflict = mergeConflict(text);
    if (conflict) {
      throw new CrystallizeError("LOCK_CONFLICT", `${LOCK_FILE} has unresolved merge conflicts`, {
        location: { file: LOCK_FILE, line: conflict.line },
        hint: "run `crystallize build`: it writes the lock afresh from the configs, the code and the stored results; then commit it",
      });
    }
    return parseLock(text);
  };
  return statCache ? statCache.get(path, "lock", compute) : compute();
}

/**
 * The lock's data from its text. Our fast reader takes a lock exactly as we write it; anything
 * else (hand edits, merge conflicts) goes to the `yaml` package, loaded only then.
 */
export async function parseLock(text: string): Promise<LockFile> {
  const parsed = fastLockData(text) ?? (await parseWithYaml(text));
  const lock = parsed as LockFile | null;
  if (!lock || typeof lock !== "object" || typeof lock.experiments !== "object" || lock.experiments === null) {
    throw new CrystallizeError("LOCK_FILE", `${LOCK_FILE} has an unexpected shape`, { location: { file: LOCK_FILE }, hint: "restore it from git, or delete it and rebuild" });
  }
  if (lock.version !== LOCK_VERSION) {
    throw new CrystallizeError("LOCK_FILE", `${LOCK_FILE} has format version ${lock.version}; this crystallize writes version ${LOCK_VERSION}`, {
      location: { file: LOCK_FILE },
      hint: "use the crystallize version that wrote it, or delete it and rebuild",
    });
  }
  return lock;
}

/** The data of a lock that is byte for byte what serializeLock writes for it, read without the `yaml` package; else undefined. */
export function fastLockData(text: string): unknown {
  return text.startsWith(HEADER) ? readEmittedYaml(text.slice(HEADER.length)) : undefined;
}

async function parseWithYaml(text: string): Promise<unknown> {
  const { parse } = await import("./yaml.js");
  try {
    return parse(text);
  } catch (err) {
    throw new CrystallizeError("LOCK_FILE", `${LOCK_FILE} is not valid YAML: ${(err as Error).message.split("\n")[0]}`, {
      location: { file: LOCK_FILE },
      hint: "restore it from git, or delete it and run `crystallize build` to write a new one",
    });
  }
}

/**
 * Sorted, stable and diff-friendly: the same lock always serialises to the same bytes, those of
 * the `yaml` package's stringify with the options below. Our own writer produces them for the
 * values it handles; for any other, the `yaml` package is loaded and writes the whole lock.
 */
export async function serializeLock(lock: LockFile): Promise<string> {
  const fast = fastLockText(lock);
  if (fast !== undefined) return fast;
  const { stringify } = await import("./yaml.js");
  return HEADER + stringify(lockDocument(lock), { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false });
}

/** The lock's text written without the `yaml` package, or undefined when some value is not one our writer handles. */
export function fastLockText(lock: LockFile): string | undefined {
  const body = emitYaml(lockDocument(lock));
  return body === undefined ? undefined : HEADER + body;
}

/** What the file holds: the lock's two fields, whatever else the object carries. */
function lockDocument(lock: LockFile): LockFile {
  return { version: lock.version, experiments: lock.experiments };
}

/** Writes the lock, atomically, only when its content changes. Returns whether it was written. */
export async function writeLock(root: string, lock: LockFile, previous: LockFile | undefined, statCache?: StatCache): Promise<boolean> {
  if (previous && sameJson(previous, lock)) return false;
  const path = join(root, LOCK_FILE);
  await writeFileAtomic(path, await serializeLock(lock));
  await statCache?.remember(path, "lock", lock);
  return true;
}

export function emptyLock(): LockFile {
  return { version: LOCK_VERSION, experiments: {} };
}
