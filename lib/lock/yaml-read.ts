/**
 * Our own reader for the lock's YAML, for exactly the text yaml-emit.ts writes and nothing else.
 * It never decides alone: readEmittedYaml accepts its result only if writing that result back
 * with emitYaml reproduces the input byte for byte. emitYaml writes what the `yaml` package
 * writes, and only values that package reads back unchanged (test/lock-yaml.test.ts holds both
 * to it), so an accepted result is what `yaml.parse` would have returned. Anything else (hand
 * edits, comments, other indentation, flow style, quoting, merge conflicts) returns undefined,
 * and the caller parses with the `yaml` package, errors and all.
 */
import { emitYaml } from "./yaml-emit.js";
import { readScalar } from "./yaml-scalar.js";

/** Deeper nesting than emitYaml writes is rejected before it can exhaust the stack. */
const MAX_DEPTH = 100;

/** Thrown (the one instance) on any line outside the subset; caught by readEmittedYaml. */
const OUTSIDE_SUBSET = new Error("not in the subset of YAML that the lock's fast reader reads");

/** The text's lines and the index of the next one to read. */
interface Cursor {
  lines: string[];
  i: number;
}

/** The document `text` holds, when it is byte for byte what emitYaml writes for it; else undefined. */
export function readEmittedYaml(text: string): Record<string, unknown> | undefined {
  let value: Record<string, unknown>;
  try {
    value = readDocument(text);
  } catch (err) {
    if (err === OUTSIDE_SUBSET) return undefined;
    throw err;
  }
  return emitYaml(value) === text ? value : undefined;
}

/** A top-level map: `{}`, or block entries starting at column 0; the text ends with a newline. */
function readDocument(text: string): Record<string, unknown> {
  if (text === "{}\n") return {};
  const lines = text.split("\n");
  if (lines.pop() !== "" || lines.length === 0) throw OUTSIDE_SUBSET;
  const cursor: Cursor = { lines, i: 0 };
  const value = readMap(cursor, 0, 0);
  if (cursor.i !== lines.length) throw OUTSIDE_SUBSET;
  return value;
}

/**
 * A block map whose keys sit at column `indent`. Its first entry is on the current line, which
 * the caller has checked up to that column (indentation, or a sequence's `- `); later entries are
 * lines indented by exactly `indent` spaces. It ends at a less indented line or the end.
 */
function readMap(c: Cursor, indent: number, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw OUTSIDE_SUBSET;
  const map: Record<string, unknown> = {};
  for (let first = true; c.i < c.lines.length; first = false) {
    const line = c.lines[c.i];
    if (!first && !atColumn(line, indent)) break;
    // Our keys never contain ": " nor end with ":", so the first ": " ends the key.
    const colon = line.indexOf(": ", indent);
    const key = colon >= 0 ? line.slice(indent, colon) : line.endsWith(":") ? line.slice(indent, -1) : undefined;
    if (key === undefined || key === "__proto__" || Object.hasOwn(map, key)) throw OUTSIDE_SUBSET;
    c.i++;
    if (colon >= 0) {
      map[key] = readInline(line.slice(colon + 2));
    } else {
      // `key:` alone: a non-empty map or sequence follows, two spaces deeper.
      const next = c.lines[c.i];
      if (next === undefined || !atColumn(next, indent + 2)) throw OUTSIDE_SUBSET;
      map[key] = next.startsWith("- ", indent + 2) ? readSeq(c, indent + 2, depth + 1) : readMap(c, indent + 2, depth + 1);
    }
  }
  return map;
}

/**
 * A block sequence whose dashes sit at column `indent`, laid out like readMap's entries. An item
 * is a scalar, `{}`, `[]`, or a map or sequence starting right after its `- `.
 */
function readSeq(c: Cursor, indent: number, depth: number): unknown[] {
  if (depth > MAX_DEPTH) throw OUTSIDE_SUBSET;
  const items: unknown[] = [];
  for (let first = true; c.i < c.lines.length; first = false) {
    const line = c.lines[c.i];
    if (!first && !atColumn(line, indent)) break;
    if (!line.startsWith("- ", indent)) throw OUTSIDE_SUBSET;
    const at = indent + 2;
    if (line.startsWith("- ", at)) {
      items.push(readSeq(c, at, depth + 1));
      continue;
    }
    // A map item's first entry: our scalars never contain ": " nor end with ":".
    if (line.indexOf(": ", at) >= 0 || line.endsWith(":")) {
      items.push(readMap(c, at, depth + 1));
      continue;
    }
    items.push(readInline(line.slice(at)));
    c.i++;
  }
  return items;
}

/** What follows `key: ` or `- ` on one line: an empty collection or a scalar. */
function readInline(text: string): unknown {
  if (text === "{}") return {};
  if (text === "[]") return [];
  return readScalar(text);
}

/**
 * Whether `line` is indented by exactly `indent` spaces. A line indented less ends the current
 * collection; one indented more than expected is outside the subset.
 */
function atColumn(line: string, indent: number): boolean {
  let n = 0;
  while (n < line.length && line.charCodeAt(n) === 32) n++;
  if (n > indent || (n === indent && n === line.length)) throw OUTSIDE_SUBSET;
  return n === indent;
}
