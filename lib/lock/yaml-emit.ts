/**
 * Our own writer for the lock's YAML: the same bytes as the `yaml` package's
 * `stringify(value, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false })`,
 * several times faster, for documents made only of what we are sure to write identically.
 * For anything else it returns undefined and the caller uses the `yaml` package.
 *
 * The layout it reproduces (yaml's block style, 2-space indent, `indentSeq: true`):
 *
 *     key: scalar            a map entry with a scalar, `{}` or `[]` value
 *     key:                   a non-empty map or sequence starts on the next line,
 *       nested: 1            two spaces deeper (sequences too: `indentSeq`)
 *     list:
 *       - scalar             a sequence item
 *       - a: 1               a map inside a sequence starts on the dash's line,
 *         b: 2               its other keys aligned two spaces past the dash
 *       - - 1                likewise a sequence inside a sequence
 *         - 2
 *
 * Map keys are sorted by UTF-16 code units: yaml compares keys with `<`, as `Array#sort` does.
 */
import { emitScalar, isPlainKey } from "./yaml-scalar.js";

/** Deeper documents are left to the `yaml` package (and our recursion stays shallow). */
const MAX_DEPTH = 100;

/** `value` as YAML text ending in a newline, or undefined when it holds anything we do not write ourselves. */
export function emitYaml(value: unknown): string | undefined {
  if (!isPlainObject(value)) return undefined;
  const text = emitNode(value, "", 0, true);
  return text === undefined ? undefined : text + "\n";
}

/**
 * One node. A scalar, `{}` or `[]` is its text alone. A non-empty collection's lines after the
 * first start with `indent`; its first line starts at once when `inline` (after a sequence's
 * `- `, or at the top), else on a new line of its own (after a map's `key:`).
 */
function emitNode(value: unknown, indent: string, depth: number, inline: boolean): string | undefined {
  if (typeof value !== "object" || value === null) return emitScalar(value);
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
    if (value.length === 0) return "[]";
    return emitSeq(value, indent, depth, inline ? "" : "\n" + indent);
  }
  if (!isPlainObject(value)) return undefined;
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return "{}";
  return emitMap(value, keys, indent, depth, inline ? "" : "\n" + indent);
}

function emitMap(map: Record<string, unknown>, keys: string[], indent: string, depth: number, start: string): string | undefined {
  const childIndent = indent + "  ";
  let out = start;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = map[key];
    if (!isPlainKey(key)) return undefined;
    const text = emitNode(value, childIndent, depth + 1, false);
    if (text === undefined) return undefined;
    // A nested block starts with its newline; anything else follows `key:` after a space.
    out += (i ? "\n" + indent : "") + key + (text.charCodeAt(0) === 10 ? ":" : ": ") + text;
  }
  return out;
}

function emitSeq(items: unknown[], indent: string, depth: number, start: string): string | undefined {
  const childIndent = indent + "  ";
  let out = start;
  for (let i = 0; i < items.length; i++) {
    // A hole reads as undefined: not a value we write.
    const text = emitNode(items[i], childIndent, depth + 1, true);
    if (text === undefined) return undefined;
    out += (i ? "\n" + indent : "") + "- " + text;
  }
  return out;
}

/**
 * An object `yaml` writes as a map of its own enumerable string keys: a plain object without a
 * `toJSON` method (which `yaml` would call first). Class instances, Maps and the like are its job.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== "function";
}
