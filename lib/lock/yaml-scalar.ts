/**
 * Scalars of the lock's fast YAML path (yaml-emit.ts, yaml-read.ts): which values we write
 * ourselves, byte for byte as the `yaml` package (v2, core schema, `lineWidth: 0`) writes them,
 * and how we read them back. The rules are deliberately narrower than YAML's: a value outside
 * them gets `undefined`, and the caller hands the whole document to the `yaml` package.
 *
 * What we accept, and why it is written the way `yaml` writes it:
 * - null, true, false: its `nullStr`, `trueStr` and `falseStr` defaults.
 * - finite numbers except -0: it writes `JSON.stringify(n)`, which equals `String(n)` for
 *   these (it writes -0 as "-0", NaN and the infinities as `.nan`/`.inf`: we leave those to it).
 * - strings made of letters, digits, space and a few marks, that its own tests let through as
 *   plain scalars (copied below from its stringifyString.js and core schema tags). Anything
 *   else (quotes, control characters, newlines, a leading or trailing space, "1", "true", "")
 *   it quotes or writes as a block: we decline those rather than imitate its quoting.
 * test/lock-yaml.test.ts holds these rules to the installed `yaml` package, value by value.
 */

/** Characters our plain strings may hold; the first is narrower (none of space and `:#@+=),`). */
const OUR_PLAIN = /^[\p{L}\p{N}_.\/(-][\p{L}\p{N} _.\/:#@+=(),-]*$/u;

/** `yaml`'s test for strings it never writes plain (stringifyString.js, plainString). */
const YAML_NOT_PLAIN = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;

/** Starts like a document marker or directive: `yaml` quotes such keys and blocks such values. */
const DOCUMENT_MARKER = /^(?:%|---|\.\.\.)/;

/** The core schema's tests for null, booleans and numbers: a plain string matching one would read back as that type, so `yaml` quotes it. */
const CORE_TYPED = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];

/** All of the above as one regex: half the time of testing them in turn, for every string of every lock. */
const NOT_PLAIN = new RegExp([YAML_NOT_PLAIN, DOCUMENT_MARKER, ...CORE_TYPED].map((r) => `(?:${r.source})`).join("|"));

/** `yaml` writes a key longer than 1024 characters as an explicit `? key`; we stay well below. */
const MAX_KEY_LENGTH = 1000;

/** Whether `yaml` writes `s` as this very text, unquoted, and reads it back as the same string. */
function isPlainString(s: string): boolean {
  return OUR_PLAIN.test(s) && !NOT_PLAIN.test(s);
}

/** Whether `key` is written as `key:` exactly. */
export function isPlainKey(key: string): boolean {
  // `__proto__` would become the parsed object's prototype if assigned: leave it to `yaml`.
  return key.length <= MAX_KEY_LENGTH && key !== "__proto__" && isPlainString(key);
}

/** The text `yaml` writes for a scalar, or undefined for anything we do not write ourselves (including collections). */
export function emitScalar(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return isPlainString(value) ? value : undefined;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? String(value) : undefined;
    case "boolean":
      return value ? "true" : "false";
    default:
      return undefined;
  }
}

/** What `String(n)` gives for a finite number: `-`, digits, an optional fraction, an optional `e±N`. */
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:e[-+][0-9]+)?$/;
const INTEGER = /^-?[0-9]+$/;

/**
 * Reads a scalar written by emitScalar, resolving it as the core schema does (integers with
 * parseInt, other numbers with parseFloat). Any other text is returned as a string: if it is
 * not one emitScalar writes, re-emitting the document will not reproduce the input, and the
 * reader rejects it there.
 */
export function readScalar(text: string): unknown {
  switch (text) {
    case "null":
      return null;
    case "true":
      return true;
    case "false":
      return false;
  }
  if (NUMBER.test(text)) return INTEGER.test(text) ? parseInt(text, 10) : parseFloat(text);
  return text;
}
