// unitKey and sameJson stand in for the generic canonicalJson for speed: they must agree with
// it exactly, or stored results and locks would go stale (or a changed lock go unwritten).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { canonicalJson, digestBytes, initHasher, sameJson } from "../lib/hash/digest.js";
import { unitKey, type NormalizedConfig, type UnitKeyInput } from "../lib/hash/keys.js";
import { tsconfigDigest } from "../lib/hash/facts.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const keys = suite("unit keys, hand-written");

keys.before(async () => {
  await initHasher();
});

/** The definition unitKey must keep: the digest of canonicalJson of this object. */
function reference(k: UnitKeyInput): string {
  const { replicates: _count, treatments: _all, ...recipe } = k.config;
  return digestBytes(
    canonicalJson({
      schema: 1,
      recipe,
      code: k.facts.code,
      inputs: k.facts.inputs,
      env: k.facts.env,
      runtime: k.facts.runtime,
      condition: k.condition,
      values: k.values,
      replicate: k.replicate,
      seed: k.seed,
      reads: [...k.reads].sort((a, b) => (a.alias < b.alias ? -1 : 1)),
    }),
  );
}

/** A small deterministic generator: the same cases on every run. */
function rng(seed: number) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)];
  return { next, pick };
}

const NAMES = ["a", "b", "Z", "10", "2", "0", "é", "x y", 'q"uote', "experiments/a/steps.ts", "lib/ü.ts", "_", "constructor"];

function value(r: ReturnType<typeof rng>, depth: number): unknown {
  const kind = r.pick(depth > 2 ? ["s", "n", "b", "null"] : ["s", "n", "b", "null", "obj", "arr"]);
  if (kind === "s") return r.pick(NAMES);
  if (kind === "n") return r.pick([0, -0, 1.5, -3, 1e21, 42]);
  if (kind === "b") return r.next() < 0.5;
  if (kind === "null") return null;
  if (kind === "arr") return Array.from({ length: Math.floor(r.next() * 3) }, () => value(r, depth + 1));
  return object(r, depth + 1, () => value(r, depth + 1));
}

function object<T>(r: ReturnType<typeof rng>, _depth: number, make: () => T): Record<string, T> {
  const out: Record<string, T> = {};
  const n = Math.floor(r.next() * 4);
  for (let i = 0; i < n; i++) out[r.pick(NAMES)] = make();
  return out;
}

function input(r: ReturnType<typeof rng>): UnitKeyInput {
  const digest = () => r.pick(["d1", "d2", "0123abcd"]) as never;
  const config: NormalizedConfig = {
    datasource: r.next() < 0.3 ? null : object(r, 1, () => r.pick(["up#o", "numbers", "b#x"])),
    steps: Array.from({ length: Math.floor(r.next() * 3) }, () => ({ name: r.pick(["s", "t"]), kwargs: object(r, 1, () => value(r, 1)) })),
    outputs: object(r, 1, () => ({ file_name: r.pick(["o.txt", "a/b.json"]), writer: r.pick([null, "w"]), loader: r.pick([null, "l"]) })),
    replicates: r.pick([1, 3]),
    seed: r.pick([0, 7, 2 ** 31]),
    treatments: object(r, 1, () => object(r, 2, () => value(r, 2))),
    inputs: Array.from({ length: Math.floor(r.next() * 3) }, () => r.pick(NAMES)),
    env: Array.from({ length: Math.floor(r.next() * 3) }, () => r.pick(["B", "A", "HOME"])),
  };
  return {
    config,
    facts: {
      code: { files: object(r, 1, digest), packages: object(r, 1, () => r.pick(["1.0.0", "unresolved"])) },
      inputs: object(r, 1, digest),
      env: object(r, 1, () => r.pick([null, digest()])),
      runtime: r.pick(["node20 commonjs tsconfig:none", "python3.12"]),
    },
    condition: r.pick(["baseline", "t", "é"]),
    values: object(r, 1, () => value(r, 1)),
    replicate: r.pick([0, 1, 2]),
    seed: r.pick([0, 31337, 4294967295]),
    reads: Array.from({ length: Math.floor(r.next() * 4) }, () => ({ alias: r.pick(["u", "a", "10", "2"]), digest: digest(), loader: r.pick([null, digest()]) })),
  };
}

keys("equal to the digest of canonicalJson for varied configs, facts and reads", () => {
  const r = rng(1);
  for (let i = 0; i < 3000; i++) {
    const k = input(r);
    assert.is(unitKey(k), reference(k), `case ${i}: ${JSON.stringify(k)}`);
  }
});

keys("records not in key order (unsorted, integer-like keys) still give the canonical key", () => {
  const k = input(rng(2));
  k.facts.code.files = { "b.ts": "d1" as never, "a.ts": "d2" as never, "10": "d1" as never, "2": "d2" as never };
  k.facts.env = { Z: null, A: "d1" as never };
  k.config.datasource = { z: "up#o", a: "numbers" };
  k.config.outputs = { z: { file_name: "z", writer: null, loader: null }, a: { file_name: "a", writer: "w", loader: undefined as never } };
  k.values = { b: { y: 1, x: [{ d: 1, c: 2 }] }, a: 0 };
  assert.is(unitKey(k), reference(k));
});

keys.run();

const same = suite("sameJson");

same("agrees with comparing canonicalJson, plain data and edge cases alike", () => {
  const r = rng(3);
  const odd = [undefined, null, NaN, Infinity, -0, 0, "0", "null", new Date(0), new Date(0).toJSON(), [], {}, [undefined], [null], { a: undefined }];
  const values = [...odd, ...Array.from({ length: 400 }, () => value(r, 0))];
  for (const a of values) {
    for (const b of [...odd, a, structuredClone(a), value(r, 0)]) {
      assert.is(sameJson(a, b), canonicalJson(a) === canonicalJson(b), `${String(canonicalJson(a))} vs ${String(canonicalJson(b))}`);
    }
  }
  // Key order does not matter; a reordered copy is the same.
  assert.ok(sameJson({ a: 1, b: { c: [1, { d: 2, e: 3 }] } }, { b: { c: [1, { e: 3, d: 2 }] }, a: 1 }));
  assert.not.ok(sameJson({ a: 1, b: 2 }, { a: 1, c: 2 }));
});

same.run();

const tsconfig = suite("the tsconfig.json in keys");
tsconfig.before(async () => {
  await initHasher();
});

tsconfig("found from the root upward as tsx finds it, with what it extends, or named by TSX_TSCONFIG_PATH", () => {
  const top = mkdtempSync(join(tmpdir(), "cz-tsconfig-"));
  const root = join(top, "packages", "ws");
  mkdirSync(root, { recursive: true });
  const outside = tsconfigDigest(root, {});
  writeFileSync(join(top, "tsconfig.json"), '{\n  // a monorepo\'s\n  "extends": "./base",\n  "compilerOptions": {}\n}\n');
  writeFileSync(join(top, "base.json"), '{"compilerOptions": {"experimentalDecorators": true}}\n');
  const above = tsconfigDigest(root, {});
  assert.is.not(above, outside, "a tsconfig.json above the workspace counts");
  writeFileSync(join(top, "base.json"), '{"compilerOptions": {"experimentalDecorators": false}}\n');
  const based = tsconfigDigest(root, {});
  assert.is.not(based, above, "so does the file it extends");
  writeFileSync(join(root, "tsconfig.json"), "{}\n");
  const own = tsconfigDigest(root, {});
  assert.is(own, digestBytes("{}\n").slice(0, 12), "the nearest wins; one file's digest is its bytes'");
  writeFileSync(join(root, "other.json"), '{"compilerOptions": {"jsx": "react"}}\n');
  assert.is.not(tsconfigDigest(root, { TSX_TSCONFIG_PATH: "other.json" }), own, "TSX_TSCONFIG_PATH names the one tsx reads");
  rmSync(top, { recursive: true, force: true });
});

tsconfig.run();

const pinned = suite("what user code is given, pinned by KEY_SCHEMA");

// A stored result is reused while its key matches. Keys cover the user's config and code, not
// ours: were the seeds or the generator behind `ctx.random()` to change, every stored result
// would still match and be served, though a rerun would now differ. Whoever changes them must
// bump KEY_SCHEMA (old results then never match) and update these values with it.
pinned("replicate seeds and ctx.random's sequence", async () => {
  const { KEY_SCHEMA } = await import("../lib/hash/keys.js");
  const { replicateSeed } = await import("../lib/plan/plan.js");
  const { seededRandom } = await import("../lib/runtime/random.js");
  const message = "changed what a unit computes with: bump KEY_SCHEMA in lib/hash/keys.ts, then update this test";
  assert.is(KEY_SCHEMA, 1, message);
  assert.equal([0, 1, 2].map((r) => replicateSeed(0, r)), [0, 31337, 62674], message);
  assert.equal([0, 1].map((r) => replicateSeed(42, r)), [42, 31379], message);
  const first = seededRandom(replicateSeed(0, 0));
  assert.equal([first(), first(), first()], [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197], message);
  const other = seededRandom(replicateSeed(42, 1));
  assert.equal([other(), other()], [0.845241911476478, 0.8366608584765345], message);
});

pinned.run();
