// Differential tests of the lock's fast YAML path (lib/lock/yaml-*.ts) against the `yaml`
// package: random locks full of nasty values must serialise to yaml's exact bytes and parse to
// yaml's exact values, and no edited text may be read differently from yaml.
import { deepStrictEqual } from "node:assert";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parse, stringify } from "yaml";
import { fastLockData, fastLockText, parseLock, serializeLock, type LockFile } from "../lib/lock/lockfile.js";
import { emitYaml } from "../lib/lock/yaml-emit.js";
import { seededRandom } from "../lib/runtime/random.js";
import { mutate, NASTY_STRINGS, randomLock } from "./lock-gen.js";

const HEADER = "# crystallize.lock: written by `crystallize build`, checked by `crystallize check`.\n# Commit it. Do not edit it by hand.\n";
const OPTIONS = { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false } as const;
const viaYaml = (lock: LockFile) => HEADER + stringify({ version: lock.version, experiments: lock.experiments }, OPTIONS);

/**
 * Deep equality that tells -0 from 0 and prototypes apart, and does not trip over own keys
 * named "constructor" (uvu's `equal` compares `.constructor` values, so such locks never match).
 */
function same(actual: unknown, expected: unknown, message: string): void {
  deepStrictEqual(actual, expected, message);
}

/** yaml.parse's result, or the message it throws. */
function yamlRead(text: string): { value: unknown } | { error: string } {
  try {
    return { value: parse(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const differential = suite("lock YAML: differential against the yaml package");

differential("2000 random locks: serializeLock writes yaml's bytes, parseLock reads yaml's values", async () => {
  const random = seededRandom(20240611);
  let fast = 0;
  for (let i = 0; i < 2000; i++) {
    const lock = randomLock(random, i % 2 === 1);
    const expected = viaYaml(lock);
    const text = await serializeLock(lock);
    assert.is(text, expected, `lock #${i}`);
    const fastText = fastLockText(lock);
    if (fastText !== undefined) {
      fast++;
      assert.is(fastText, expected, `lock #${i}, fast writer`);
      // Everything the fast writer writes, the fast reader reads.
      assert.ok(fastLockData(text) !== undefined, `lock #${i}: written fast but not read fast`);
    }
    // Texts the fast writer declined were written by yaml: they must read right all the same.
    same(await parseLock(text), parse(text), `lock #${i}`);
  }
  // Both paths exercised: a generator that only made tame (or only nasty) locks would prove little.
  assert.ok(fast > 800 && fast < 1800, `${fast} of 2000 locks written by the fast path`);
});

differential("2000 edited lock texts: whenever the fast reader accepts one, yaml reads the same values", () => {
  const random = seededRandom(7);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const original = viaYaml(randomLock(random, i % 3 === 0));
    const text = mutate(original, random);
    const data = fastLockData(text);
    if (data === undefined) {
      rejected++;
      continue;
    }
    accepted++;
    const reference = yamlRead(text);
    assert.ok("value" in reference, `edit #${i} is read fast but yaml rejects it:\n${text}`);
    same(data, (reference as { value: unknown }).value, `edit #${i}:\n${text}`);
  }
  // Some edits stay within what we write (a changed digest, a dropped entry): those are read fast.
  assert.ok(accepted > 100 && rejected > 1000, `${accepted} accepted, ${rejected} rejected`);
});

differential("every nasty string, as a key and as a value, alone: fast or not, yaml's bytes and values", async () => {
  let fast = 0;
  for (const s of NASTY_STRINGS) {
    for (const experiments of [{ e: { params: { [s]: 1 } } }, { e: { params: { k: s, l: [s, [s], { [s]: s }] } } }, { [s]: { key: s } }]) {
      const lock = { version: 1, experiments } as unknown as LockFile;
      const text = await serializeLock(lock);
      assert.is(text, viaYaml(lock), JSON.stringify(s));
      same(await parseLock(text), parse(text), JSON.stringify(s));
      if (fastLockText(lock) !== undefined) fast++;
    }
  }
  assert.ok(fast > 50, `${fast} written fast`);
});

const decisions = suite("lock YAML: what the fast writer declines");

decisions("writes plain strings, finite numbers, booleans, null and nested collections of them", () => {
  const value = { a: ["x y", "-flag", "a:b", "a#b", "é", "(x)", "resnet-50", "v1.2.3"], b: [0, -1, 0.1, 1e-7, 1e21, 2 ** 60], c: [true, false, null], d: { e: {}, f: [], g: [[{}]] } };
  assert.is(emitYaml(value), stringify(value, OPTIONS));
});

decisions("declines what yaml quotes or writes as a block, numbers it writes its own way, and non-plain objects", () => {
  const declined: unknown[] = [
    "", "1", "true", "null", "0x10", "1e3", ".inf", "a: b", "a #b", "#a", "- a", "trail ", " lead", "a\nb", "'q'", "---", "\x7f", "\u00a0",
    -0, NaN, Infinity, -Infinity, 10n, undefined, () => 1, Symbol("s"), new Date(0), new Map(), Object.assign(Object.create({ inherited: 1 }), { a: 1 }),
    { toJSON: () => "x" }, [undefined], new Array(2),
  ];
  for (const v of declined) assert.is(emitYaml({ k: v }), undefined, String(typeof v === "string" ? JSON.stringify(v) : v));
  assert.is(emitYaml({ "1": "x" }), undefined, "a key yaml quotes");
  assert.is(emitYaml({ ["y".repeat(1001)]: "x" }), undefined, "a key long enough to need `? `");
  assert.is(emitYaml(JSON.parse('{"__proto__": 1}')), undefined, "__proto__, which a reader would assign as the prototype");
  assert.is(emitYaml(["top-level list"]), undefined);
  let deep: unknown = 1;
  for (let i = 0; i < 200; i++) deep = { d: deep };
  assert.is(emitYaml(deep), undefined, "nesting deeper than the fast writer goes");
});

differential.run();
decisions.run();
