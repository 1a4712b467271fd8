import { closeSync, createReadStream, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import xxhash from "xxhash-wasm";

/** A 128-bit content digest, 32 hex characters. Never a path, never a time. */
export type Digest = string & { readonly __brand: "Digest" };

type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasher: Hasher | undefined;

/** Loads the wasm hasher once; every digest function below needs it. */
export async function initHasher(): Promise<void> {
  hasher ??= await xxhash();
}

function need(): Hasher {
  if (!hasher) throw new Error("initHasher() was not awaited");
  return hasher;
}

const SEED_A = 0n;
const SEED_B = 0x9e3779b97f4a7c15n;

/**
 * Two xxh64 lanes with different seeds: 128 bits keep accidental collisions out of reach for
 * any store size a workspace will see, at xxhash speed.
 */
export function digestBytes(data: Uint8Array | string): Digest {
  const h = need();
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const a = h.h64Raw(bytes, SEED_A).toString(16).padStart(16, "0");
  const b = h.h64Raw(bytes, SEED_B).toString(16).padStart(16, "0");
  return (a + b) as Digest;
}

/** Files up to this size are read and hashed in one go; larger ones are streamed. */
const ONE_SHOT_BYTES = 4 << 20;

/** A file's digest: see digestFileContent. */
export async function digestFile(path: string): Promise<Digest> {
  return (await digestFileContent(path)).digest;
}

/**
 * A file's digest, size and mode, and its bytes when it was small enough to read in one go.
 * Large files are streamed in 1 MiB chunks: one-shot hashing of large files grows wasm memory
 * for good. One open and one fstat: a stat by path first, then readFileSync's own fstat, cost a
 * system call more per file, and a cold build hashes every output it stores.
 */
export async function digestFileContent(path: string): Promise<{ digest: Digest; size: number; mode: number; bytes?: Buffer }> {
  const h = need();
  const fd = openSync(path, "r");
  let streamed = false;
  try {
    const stats = fstatSync(fd);
    if (stats.size <= ONE_SHOT_BYTES) {
      // Not a regular file (a pipe, a device): its size says nothing; read it to the end.
      const bytes = stats.isFile() ? readUpTo(fd, stats.size) : readFileSync(fd);
      return { digest: digestBytes(bytes), size: bytes.length, mode: stats.mode, bytes };
    }
    const a = h.create64(SEED_A);
    const b = h.create64(SEED_B);
    const stream = createReadStream("", { fd, highWaterMark: 1 << 20 });
    streamed = true;
    for await (const chunk of stream) {
      a.update(chunk as Buffer);
      b.update(chunk as Buffer);
    }
    return { digest: (a.digest().toString(16).padStart(16, "0") + b.digest().toString(16).padStart(16, "0")) as Digest, size: stats.size, mode: stats.mode };
  } finally {
    // The stream closes the descriptor it was given.
    if (!streamed) closeSync(fd);
  }
}

/** At most `size` bytes from the start of the file, fewer if it ends sooner: as readFileSync reads a regular file. */
function readUpTo(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, bytes, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return read < size ? bytes.subarray(0, read) : bytes;
}

/**
 * JSON with sorted keys: the same value always serialises to the same bytes. Written directly
 * rather than as JSON.stringify over a sorted copy: keys are computed for every unit of every
 * command, and the copies were most of `check`'s time. The output is JSON.stringify's, byte
 * for byte (keys in lock files must not change).
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, false) as string;
}

/** Array-index keys (up to 2^32 - 2): the ones JavaScript objects keep in numeric order. */
const isIndex = (k: string) => /^(0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;

function canonical(value: unknown, inArray: boolean): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value === 0 ? 0 : value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return inArray ? "null" : undefined;
    case "bigint":
      throw new TypeError("Do not know how to serialize a BigInt");
  }
  if (value === null) return "null";
  if (value instanceof Date) return canonical(value.toJSON(), inArray);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonical(value[i], true);
    return out + "]";
  }
  let out = "{";
  let first = true;
  // As in any JS object, integer-like keys come first in numeric order (Object.keys gives them
  // so), then the others, here sorted.
  const keys = Object.keys(value as object);
  let ints = 0;
  while (ints < keys.length && isIndex(keys[ints])) ints++;
  const ordered = ints === 0 ? keys.sort() : [...keys.slice(0, ints), ...keys.slice(ints).sort()];
  for (const k of ordered) {
    const v = canonical((value as Record<string, unknown>)[k], false);
    if (v === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(k) + ":" + v;
    first = false;
  }
  return out + "}";
}

/**
 * Whether canonicalJson(a) === canonicalJson(b), found without writing either out: a no-op
 * build compares the whole lock this way. Anything but plain data (a Date, undefined, a
 * non-finite number) is compared through canonicalJson itself.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b && typeof a !== "number") return true;
  const ta = typeof a;
  if (ta !== typeof b) return plainKind(a) && plainKind(b) ? false : canonicalJson(a) === canonicalJson(b);
  if (ta === "string" || ta === "boolean") return a === b;
  if (ta === "number") return Number.isFinite(a) && Number.isFinite(b) ? a === b : canonicalJson(a) === canonicalJson(b);
  if (ta !== "object" || a === null || b === null || a instanceof Date || b instanceof Date) return canonicalJson(a) === canonicalJson(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    if (a.length !== bs.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (!plainKind(a[i]) || !plainKind(bs[i])) return canonicalJson(a) === canonicalJson(b);
      if (!sameJson(a[i], bs[i])) return false;
    }
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length) return canonicalJson(a) === canonicalJson(b);
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(bo, k) || !plainKind(ao[k]) || !plainKind(bo[k])) return canonicalJson(a) === canonicalJson(b);
    if (!sameJson(ao[k], bo[k])) return false;
  }
  return true;
}

/** Values canonicalJson writes as themselves: never dropped, never turned into null. */
function plainKind(v: unknown): boolean {
  const t = typeof v;
  return t === "string" || t === "boolean" || (t === "object" && !(v instanceof Date)) || (t === "number" && Number.isFinite(v));
}

export function digestValue(value: unknown): Digest {
  return digestBytes(canonicalJson(value));
}
