import { lstatSync, statSync, type BigIntStats, type Stats } from "node:fs";
import { Mixer } from "./hash.js";

/**
 * What a path looked like when a command consulted it, as one short string: inode, size, mode,
 * mtime and ctime of the path itself, and of what it points to when it is a symbolic link;
 * `-` when it did not exist, `!CODE` when looking failed otherwise. ctime cannot be set back by
 * a user or a tool (unlike mtime: `touch -d`, `cp -p`, `rsync -t`), so any write, rename or
 * chmod since shows. Directories are included: their mtime moves when an entry is added,
 * removed or renamed, which is what a listing or a glob depends on.
 *
 * A signature starting with `=` is of what the path leads to (`stat`, following links), taken
 * from the command's own `statSync` instead of a look of ours: most paths a command consults
 * it consults that way first, and a look of ours costs as much again.
 */
export type Signature = string & { readonly __signature: unique symbol };

/**
 * The stat functions as Node loaded them: the tracer replaces the `fs` module's own functions
 * and must not trace its own looks. (This module is evaluated before the tracer starts.)
 */
const lstat = lstatSync;
const stat = statSync;
const LOOK = { throwIfNoEntry: false } as const;
const ABSENT = -1;
const FOLLOWED = -2;

/** Milliseconds exactly as Node computes `mtimeMs` of a number Stats, from the nanoseconds. */
function ms(ns: bigint): number {
  return Number(ns / 1_000_000_000n) * 1000 + Number(ns % 1_000_000_000n) / 1e6;
}

function describe(s: Stats | BigIntStats): string {
  if (typeof s.ino === "bigint") {
    const b = s as BigIntStats;
    return `${Number(b.ino)}:${Number(b.size)}:${Number(b.mode)}:${ms(b.mtimeNs)}:${ms(b.ctimeNs)}`;
  }
  const n = s as Stats;
  return `${n.ino}:${n.size}:${n.mode}:${n.mtimeMs}:${n.ctimeMs}`;
}

export function signatureOf(path: string): Signature {
  try {
    const s = lstat(path, LOOK);
    if (s === undefined) return "-" as Signature;
    if (!s.isSymbolicLink()) return describe(s) as Signature;
    const target = stat(path, LOOK);
    return `${describe(s)}>${target ? describe(target) : "-"}` as Signature;
  } catch (err) {
    return `!${(err as NodeJS.ErrnoException).code ?? "ERR"}` as Signature;
  }
}

/** The signature of what `statSync(path)` returned (undefined: nothing there). */
export function followedSignature(s: Stats | BigIntStats | undefined): Signature {
  return `=${s === undefined ? "-" : describe(s)}` as Signature;
}

/** The signature of what `lstatSync(path)` returned for anything but a symbolic link. */
export function lstatSignature(s: Stats | BigIntStats | undefined): Signature {
  return (s === undefined ? "-" : describe(s)) as Signature;
}

/** The signature of what `statSync(path)` or `lstatSync(path)` threw. */
export function failedSignature(err: unknown, followed: boolean): Signature {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return (followed ? "=-" : "-") as Signature;
  return `!${code ?? "ERR"}` as Signature;
}

/** Stamps keep followed entries apart by this mark before the path. */
export const FOLLOW_MARK = "=";

/**
 * How a stamp's check looks at a path: `mix` feeds the signature fields of what `stat`
 * (`follow`) or `lstat` finds there into `m`, and says whether it found a symbolic link.
 */
export interface Looks {
  mix(m: Mixer, path: string, follow: boolean): boolean;
}

/** Looks through `statSync` and `lstatSync`, as a command does. */
export const statLooks: Looks = {
  mix(m, path, follow) {
    const s = follow ? stat(path, LOOK) : lstat(path, LOOK);
    if (s === undefined) {
      m.number(ABSENT);
      return false;
    }
    m.number(s.ino);
    m.number(s.size);
    m.number(s.mode);
    m.number(s.mtimeMs);
    m.number(s.ctimeMs);
    return s.isSymbolicLink();
  },
};

/** Node's fs binding: its stat functions fill one shared array instead of building a Stats. */
type RawStat = (path: string, bigint: false, request: undefined, throwIfNoEntry: false) => Float64Array | undefined;

/** Where the binding's array keeps each field (Node's kFsStatsFieldsNumber layout). */
const RAW = { mode: 1, ino: 7, size: 8, mtimeSec: 12, mtimeNsec: 13, ctimeSec: 14, ctimeNsec: 15 } as const;

/**
 * One of Node's internal bindings, through the deprecated `process.binding` (DEP0111); undefined
 * where it cannot be had. Callers check what they get before relying on it.
 */
export function nodeBinding<T>(name: string): T | undefined {
  const quiet = process.noDeprecation;
  try {
    // Under --pending-deprecation, asking would print a warning into the command's output.
    process.noDeprecation = true;
    return (process as unknown as { binding(name: string): T }).binding(name);
  } catch {
    return undefined;
  } finally {
    process.noDeprecation = quiet;
  }
}

/**
 * Looks through Node's own fs binding. A no-op build's answer from its stamp is ~4,500 looks at
 * 500 experiments, and `statSync` builds a Stats object for each: its answer took ~74 ms, ~53
 * ms this way. `process.binding` is deprecated (DEP0111) and internal, so this is used only
 * after it agrees with `statLooks` on a real file and on an absent one; any difference, or no
 * binding, and the check uses statLooks. Undefined in that case.
 */
export function bindingLooks(probe: string): Looks | undefined {
  const raw = nodeBinding<{ stat: RawStat; lstat: RawStat }>("fs");
  if (!raw) return undefined;
  const looks: Looks = {
    mix(m, path, follow) {
      // The binding takes the path up to a NUL; statSync refuses such a path.
      if (path.includes("\0")) throw new Error("a path with a NUL byte");
      const v = follow ? raw.stat(path, false, undefined, false) : raw.lstat(path, false, undefined, false);
      if (v === undefined) {
        m.number(ABSENT);
        return false;
      }
      m.number(v[RAW.ino]);
      m.number(v[RAW.size]);
      m.number(v[RAW.mode]);
      // Exactly as Node computes mtimeMs and ctimeMs.
      m.number(v[RAW.mtimeSec] * 1000 + v[RAW.mtimeNsec] / 1e6);
      m.number(v[RAW.ctimeSec] * 1000 + v[RAW.ctimeNsec] / 1e6);
      return (v[RAW.mode] & 0o170000) === 0o120000;
    },
  };
  try {
    for (const path of [probe, `${probe}\u0001absent`]) {
      for (const follow of [true, false]) {
        const [a, b] = [new Mixer(), new Mixer()];
        if (looks.mix(a, path, follow) !== statLooks.mix(b, path, follow) || a.digest() !== b.digest()) return undefined;
      }
    }
  } catch {
    return undefined;
  }
  return looks;
}

let chosen: Looks | undefined;

/** bindingLooks where it agrees with statLooks, else statLooks; chosen once per process. */
function currentLooks(): Looks {
  return (chosen ??= bindingLooks(process.execPath) ?? statLooks);
}

/**
 * Feeds what the path's signature would say now into `m` without building the string: a
 * stamp's check does this for thousands of paths. `followed`: a `=` signature. False when
 * looking failed other than by absence.
 */
export function mixCurrent(m: Mixer, path: string, followed: boolean, looks: Looks = currentLooks()): boolean {
  try {
    if (followed) {
      m.number(FOLLOWED);
      looks.mix(m, path, true);
      return true;
    }
    if (looks.mix(m, path, false)) looks.mix(m, path, true);
    return true;
  } catch {
    return false;
  }
}

/** Feeds a recorded signature into `m` exactly as mixCurrent feeds the path it was taken of. */
export function mixRecorded(m: Mixer, sig: Signature): void {
  let rest: string = sig;
  if (rest.startsWith("=")) {
    m.number(FOLLOWED);
    rest = rest.slice(1);
  }
  for (const part of rest.split(">")) {
    if (part === "-") m.number(ABSENT);
    else for (const field of part.split(":")) m.number(Number(field));
  }
}

/** Whether the signature is of a directory (not through a symbolic link). */
export function isDirectory(sig: Signature): boolean {
  const fields = sig.replace(/^=/, "").split(":");
  return fields.length === 5 && (Number(fields[2]) & 0o170000) === 0o040000;
}

/**
 * The newest time in a signature: a change made later within the same tick of the
 * filesystem's clock could leave the signature as it is (the "racy" case git knows).
 */
export function newestTime(sig: Signature): number {
  let newest = -Infinity;
  for (const part of sig.replace(/^=/, "").split(">")) {
    const fields = part.split(":");
    if (fields.length === 5) newest = Math.max(newest, Number(fields[3]), Number(fields[4]));
  }
  return newest;
}

/**
 * How long after a change a signature can still miss the next one. Local filesystems keep
 * nanoseconds but stamp them from a clock that ticks every few milliseconds; FAT, HFS+ and
 * ext3 keep whole seconds (FAT: two).
 */
export function racyWindowMs(time: number): number {
  return time % 1000 === 0 ? 2000 : 100;
}
