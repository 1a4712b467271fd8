// Random crystallize.lock contents and random edits of lock texts, for the differential tests of
// the lock's fast YAML path (test/lock-yaml.test.ts). Deterministic for a given random source.
import type { LockEntry, LockFile } from "../lib/lock/lockfile.js";

type Random = () => number;

const int = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T>(random: Random, xs: readonly T[]): T => xs[int(random, xs.length)];

/** Strings that sit on or near the edge of what YAML writes plain, and what it reads as other types. */
export const NASTY_STRINGS = [
  "", " ", "  ", "a b", "a  b", "a: b", "a:b", "a:", ":a", ":", "a #b", "a#b", "#a", "a #", "-", "-a", "- a", "--flag", "-1x", "?", "? a", "?a",
  "'q'", '"q"', "it's", 'say "hi"', "a'", "é", "日本語", "ünïcödé key", "😀", "a😀b", "\u00a0", "a\u00a0b", "\t", "a\tb", "a\nb", "a\n", "\n", "x\n\ny\n",
  " lead", "trail ", "1", "0", "-1", "+1", "01", "1.5", "1.", ".5", "1e3", "1E3", "1e+3", "-1e-7", "0x10", "0X10", "0o17", "0b1", ".inf", "-.inf", "+.INF",
  ".nan", ".NaN", "NaN", "Infinity", "-Infinity", "true", "True", "TRUE", "tRUE", "false", "null", "Null", "NULL", "nULL", "~", "yes", "no", "on", "off", "y",
  "n", "1_000", "1:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "---", "--- a", "...", "... a", "%YAML", "%a", "@a", "`a", "!a", "&a", "*a", "|", ">",
  "[a]", "{a}", "{}", "[]", "a,b", "a, b", ",a", "a/b.c", "./x", "../x", "/abs/path", "(x)", "a=b", "=", "+", "a+b", "__proto__", "<<", "toString",
  "constructor", "hasOwnProperty", "\u2028", "a\u2028b", "\ufeff", "a\ufeffb", "\x7f", "\x00", "\x85", "\ud800", "a\rb", "a\\b", "a~b", "a$b", "a%b",
  "x".repeat(1020), "y".repeat(1030), "z ".repeat(50) + "z", "producer#summary", "baseline/replicate_0", "node20 module tsconfig:3b70da417043",
];

const NASTY_NUMBERS = [0, 1, -1, 7, 0.1, 0.5, -2.25, 1e-7, 1e21, 1e-300, 123456789012345680000, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, -0, NaN, Infinity, -Infinity];

/** Characters random strings are made of: safe ones and every YAML indicator. */
const ALPHABET = [..."abcxyzXYZ0189 _-./:#@,()=+'\"\n\t\\%!&*?|>{}[]~`é日😀"];

function randomString(random: Random): string {
  return Array.from({ length: int(random, 9) }, () => pick(random, ALPHABET)).join("");
}

/** Names and values like those a workspace really has: identifiers, paths, numbers, sentences. */
function tameString(random: Random): string {
  return pick(random, [
    () => pick(random, ["lr", "model", "epochs", "name", "kind", "dropout_rate", "Batch", "x_1"]) + (random() < 0.3 ? String(int(random, 100)) : ""),
    () => `experiments/e${int(random, 50)}/steps.ts`,
    () => `run ${int(random, 9)} of the sweep`,
    () => pick(random, ["resnet-50", "a.b.c", "v1.2.3", "s3://bucket/key", "e0001#o", "x:y", "α-β", "ユニット", "-flag", "(paren)", "a,b=c"]),
    () => digest(random),
  ])();
}

function digest(random: Random): string {
  return Array.from({ length: 32 }, () => "0123456789abcdef"[int(random, 16)]).join("");
}

function scalar(random: Random, nasty: boolean): unknown {
  const r = random();
  if (r < 0.1) return null;
  if (r < 0.2) return random() < 0.5;
  if (r < 0.4) return nasty ? pick(random, NASTY_NUMBERS) : pick(random, [int(random, 1000), int(random, 1000) / 8, -int(random, 10), 1e-7, 0.1]);
  if (!nasty) return tameString(random);
  return random() < 0.5 ? pick(random, NASTY_STRINGS) : randomString(random);
}

function key(random: Random, nasty: boolean): string {
  if (!nasty) return tameString(random);
  return random() < 0.5 ? pick(random, NASTY_STRINGS) : randomString(random);
}

/** A value of user config: scalars, lists and maps nested up to `depth`. */
function value(random: Random, nasty: boolean, depth: number): unknown {
  const r = random();
  if (depth <= 0 || r < 0.55) return scalar(random, nasty);
  if (r < 0.75) return Array.from({ length: int(random, 4) }, () => value(random, nasty, depth - 1));
  return record(random, nasty, int(random, 4), () => value(random, nasty, depth - 1));
}

function record<T>(random: Random, nasty: boolean, n: number, make: () => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (let i = 0; i < n; i++) Object.defineProperty(out, key(random, nasty), { value: make(), enumerable: true, writable: true, configurable: true });
  return out;
}

/** One experiment's entry: the real shape, with user values (treatments, kwargs) that are nasty when asked. */
function entry(random: Random, nasty: boolean): LockEntry {
  // Mostly tame, so that most locks stay on the fast path and one nasty value decides.
  const user = () => nasty && random() < 0.3;
  const outputs = record(random, false, int(random, 3), () => ({ file_name: tameString(random), writer: random() < 0.5 ? null : "dump_json", loader: null as string | null }));
  return {
    key: digest(random),
    version: int(random, 5),
    params: {
      datasource: random() < 0.4 ? null : record(random, false, int(random, 3), () => `${tameString(random)}#o`),
      steps: Array.from({ length: int(random, 3) }, () => ({ name: tameString(random), kwargs: record(random, user(), int(random, 3), () => value(random, user(), 2)) })),
      outputs,
      replicates: 1 + int(random, 3),
      seed: int(random, 100),
      treatments: record(random, user(), int(random, 3), () => record(random, user(), int(random, 3), () => value(random, user(), 3))),
      inputs: Array.from({ length: int(random, 2) }, () => tameString(random)),
      env: Array.from({ length: int(random, 2) }, () => "ENV_" + int(random, 9)),
    },
    code: record(random, false, 1 + int(random, 2), () => digest(random)),
    packages: record(random, false, int(random, 2), () => `${int(random, 9)}.${int(random, 9)}.${int(random, 9)}`),
    inputs: record(random, false, int(random, 2), () => digest(random)),
    env: record(random, false, int(random, 2), () => (random() < 0.5 ? null : digest(random))),
    runtime: "node20 module tsconfig:3b70da417043",
    upstream: record(random, false, int(random, 3), () => record(random, false, 1 + int(random, 2), () => digest(random))),
    outputs: record(random, false, int(random, 3), () => digest(random)),
  } as LockEntry;
}

/** A lock of 0-3 experiments; `nasty` lets user values and names reach into NASTY_STRINGS and random text. */
export function randomLock(random: Random, nasty: boolean): LockFile {
  return { version: 1, experiments: record(random, nasty && random() < 0.2, int(random, 4), () => entry(random, nasty)) };
}

/** Edits a hand or a merge might make to a lock: each either keeps the text valid YAML or not. */
const EDITS: Array<(lines: string[], at: number, random: Random) => void> = [
  (l, at) => l.splice(at, 1),
  (l, at) => l.splice(at, 0, l[at]),
  (l, at) => at + 1 < l.length && l.splice(at, 2, l[at + 1], l[at]),
  (l, at) => (l[at] = " " + l[at]),
  (l, at) => (l[at] = l[at].replace(/^  /, "")),
  (l, at) => (l[at] = l[at].replace(/^ */, (s) => s + s)),
  (l, at) => l.splice(at, 0, "# a comment"),
  (l, at) => (l[at] += " # note"),
  (l, at) => l.splice(at, 0, ""),
  (l, at) => (l[at] += " "),
  (l, at) => (l[at] = l[at].replace(/: (.*)$/, (_, v) => `: "${v}"`)),
  (l, at) => (l[at] = l[at].replace(/: (.*)$/, (_, v) => `: '${v}'`)),
  (l, at) => (l[at] = l[at].replace(/: \{\}$/, ": {a: 1}").replace(/: \[\]$/, ": [1, x]")),
  (l, at) => (l[at] = l[at].replace(/- /, "-  ")),
  (l, at, random) => {
    const i = int(random, l[at].length + 1);
    l[at] = l[at].slice(0, i) + pick(random, ALPHABET) + l[at].slice(i + 1);
  },
  (l, at) => l.splice(at, 0, "<<<<<<< HEAD"),
  (l) => l.splice(0, l.length, l.join("\r\n")),
];

/** `text` with one or two random edits. */
export function mutate(text: string, random: Random): string {
  const lines = text.split("\n");
  for (let n = 1 + int(random, 2); n > 0; n--) pick(random, EDITS)(lines, int(random, lines.length), random);
  return lines.join("\n");
}
