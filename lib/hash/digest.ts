import { createReadStream, readFileSync, statSync } from "node:fs";
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

/** Streams large files in 1 MiB chunks: one-shot hashing of large files grows wasm memory for good. */
export async function digestFile(path: string): Promise<Digest> {
  const h = need();
  if (statSync(path).size <= ONE_SHOT_BYTES) return digestBytes(readFileSync(path));
  const a = h.create64(SEED_A);
  const b = h.create64(SEED_B);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    a.update(chunk as Buffer);
    b.update(chunk as Buffer);
  }
  return (a.digest().toString(16).padStart(16, "0") + b.digest().toString(16).padStart(16, "0")) as Digest;
}

/** JSON with sorted keys: the same value always serialises to the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

export function digestValue(value: unknown): Digest {
  return digestBytes(canonicalJson(value));
}
