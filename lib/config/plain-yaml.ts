import { Document, isScalar, Pair, Scalar, YAMLMap, YAMLSeq, type Node } from "yaml";

/**
 * A parser for the plain YAML that configs are written in, straight into the yaml library's
 * own nodes: block mappings and lists, one-line `{...}` and `[...]`, plain and quoted one-line
 * scalars, comments. Anything else (anchors, tags, block scalars, multi-line scalars or flow
 * collections, escapes, tabs, duplicate keys, ...) returns undefined, and the caller parses the
 * file with the library. A fresh workspace parses every config once, before anything can start:
 * the library took 0.3-0.6 ms per small config there, as its parser runs unoptimised the first
 * time, and this takes a tenth of that.
 *
 * What it returns must be what the library would: the same node types, values resolved by the
 * library's own scalar tags, and the same start offsets (test/plain-yaml.test.ts compares both
 * on every fixture and on generated files). Where it cannot be sure, it declines.
 */
export function parsePlainYaml(text: string): PlainYaml | undefined {
  if (UNSUPPORTED_TEXT.test(text)) return undefined;
  try {
    return new PlainParser(text).document();
  } catch (err) {
    if (err === DECLINE) return undefined;
    throw err;
  }
}

/** A parsed file: its top node (null when empty) and where each line starts. */
export interface PlainYaml {
  contents: Node | null;
  /** Offsets of line starts, as the library's LineCounter records them. */
  lineStarts: number[];
}

/** Tabs, carriage returns, control and BOM characters, and line separators the library may read otherwise. */
const UNSUPPORTED_TEXT = /[\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\ufeff]/;
/** Characters that begin something other than a plain scalar (YAML 1.2 c-indicator, minus `-` handled apart). */
const INDICATOR = new Set(["?", ":", ",", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`"]);
const FLOW_END = new Set([",", "]", "}", "[", "{"]);
const DECLINE = Symbol("decline");

function decline(): never {
  throw DECLINE;
}

interface Line {
  /** Offset of the line's first character in the text. */
  start: number;
  /** The line without its newline. */
  text: string;
  /** Spaces before its content. */
  indent: number;
  /** Blank or only a comment. */
  empty: boolean;
}

/** The library's core schema tags and options, taken once from a Document it builds. */
let schema: { tags: Array<{ default?: boolean | "key"; test?: RegExp; format?: string; resolve(value: string, onError: (msg: string) => void, options: object): unknown }>; options: object } | undefined;

function resolvePlain(source: string, atKey: boolean): Scalar {
  if (!schema) {
    const doc = new Document();
    schema = { tags: doc.schema.tags as NonNullable<typeof schema>["tags"], options: doc.options };
  }
  const tag = schema.tags.find((t) => (t.default === true || (atKey && t.default === "key")) && t.test?.test(source));
  let value: unknown = source;
  if (tag) value = tag.resolve(source, () => decline(), schema.options);
  const scalar = isScalar(value) ? value : new Scalar(value);
  scalar.source = source;
  scalar.type = Scalar.PLAIN;
  if (tag?.format) scalar.format = tag.format;
  return scalar;
}

class PlainParser {
  private readonly lines: Line[] = [];

  constructor(private readonly text: string) {
    let start = 0;
    for (const raw of text.split("\n")) {
      const indent = raw.length - raw.trimStart().length;
      const content = raw.slice(indent);
      if (indent === 0 && /^(---|\.\.\.)(\s|$)|^%/.test(raw)) decline();
      this.lines.push({ start, text: raw, indent, empty: content === "" || content.startsWith("#") });
      start += raw.length + 1;
    }
  }

  document(): PlainYaml {
    const lineStarts = this.lines.map((l) => l.start);
    const first = this.nextContent(0);
    if (first === undefined) return { contents: null, lineStarts };
    if (this.lines[first].indent !== 0) decline();
    const { node, next } = this.block(first, 0);
    if (this.nextContent(next) !== undefined) decline();
    return { contents: node, lineStarts };
  }

  /** The index of the first line at or after `i` with content. */
  private nextContent(i: number): number | undefined {
    while (i < this.lines.length && this.lines[i].empty) i++;
    return i < this.lines.length ? i : undefined;
  }

  /** A block node whose first line is `i`, starting at column `col`. */
  private block(i: number, col: number): { node: Node; next: number } {
    const rest = this.lines[i].text.slice(col);
    if (rest === "-" || rest.startsWith("- ")) return this.sequence(i, col);
    return this.mapping(i, col);
  }

  /**
   * A block list whose items start at column `indent`, the first on line `i`. `compact`: the
   * value of a key at the same column (`key:` then `- item` below it), which the mapping goes on after.
   */
  private sequence(i: number, indent: number, compact = false): { node: Node; next: number } {
    const seq = new YAMLSeq();
    let at: number | undefined = i;
    while (at !== undefined && this.lines[at].indent === indent && /^-( |$)/.test(this.lines[at].text.slice(indent))) {
      const line = this.lines[at];
      const itemCol = indent + 1 + (line.text.slice(indent + 1).length - line.text.slice(indent + 1).trimStart().length);
      const item = line.text.slice(itemCol);
      if (item === "" || item.startsWith("#") || item.startsWith("- ") || item === "-") decline();
      let value: { node: Node; next: number };
      if (this.keyAt(line, itemCol) !== undefined) value = this.mapping(at, itemCol);
      else value = { node: this.inline(line, itemCol), next: this.afterValue(at, indent) };
      seq.items.push(value.node);
      at = this.nextContent(value.next);
    }
    if (at !== undefined && (compact ? this.lines[at].indent > indent : this.lines[at].indent >= indent)) decline();
    seq.range = [this.lines[i].start + indent, this.endOf(at), this.endOf(at)];
    return { node: seq, next: at ?? this.lines.length };
  }

  /** A block mapping whose keys start at column `indent`, the first on line `i`. */
  private mapping(i: number, indent: number): { node: Node; next: number } {
    const map = new YAMLMap();
    const keys: unknown[] = [];
    let at: number | undefined = i;
    let firstLine = true;
    while (at !== undefined && (firstLine || this.lines[at].indent === indent)) {
      firstLine = false;
      const line = this.lines[at];
      const found = this.keyAt(line, indent);
      if (found === undefined) decline();
      const { key, valueCol } = found;
      if (keys.includes(key.value)) decline();
      keys.push(key.value);
      let value: { node: Node; next: number };
      const rest = line.text.slice(valueCol);
      if (rest === "" || rest.startsWith("#")) value = this.nested(at, indent, line.start + valueCol);
      else value = { node: this.inline(line, valueCol), next: this.afterValue(at, indent) };
      map.items.push(new Pair(key, value.node));
      at = this.nextContent(value.next);
    }
    if (at !== undefined && this.lines[at].indent > indent) decline();
    map.range = [this.lines[i].start + indent, this.endOf(at), this.endOf(at)];
    return { node: map, next: at ?? this.lines.length };
  }

  /** The value of `key:` with nothing after it on line `i`: a deeper block, a list at the key's column, or null. */
  private nested(i: number, indent: number, nullAt: number): { node: Node; next: number } {
    const j = this.nextContent(i + 1);
    if (j !== undefined) {
      const line = this.lines[j];
      if (line.indent > indent) return this.block(j, line.indent);
      if (line.indent === indent && /^-( |$)/.test(line.text.slice(indent))) return this.sequence(j, indent, true);
    }
    const empty = resolvePlain("", false);
    empty.range = [nullAt, nullAt, nullAt];
    return { node: empty, next: i + 1 };
  }

  /** The line after a one-line value on line `i` of a block at `indent`; a deeper line after it would continue it. */
  private afterValue(i: number, indent: number): number {
    const j = this.nextContent(i + 1);
    if (j !== undefined && this.lines[j].indent > indent) decline();
    return i + 1;
  }

  /** `key:` at column `col` of the line: the key and the column of what follows. */
  private keyAt(line: Line, col: number): { key: Scalar; valueCol: number } | undefined {
    const s = line.text;
    let key: Scalar;
    let end: number;
    if (s[col] === '"' || s[col] === "'") {
      const quoted = this.quoted(line, col);
      if (!quoted) return undefined;
      key = quoted.scalar;
      end = quoted.end;
    } else {
      const colon = s.indexOf(":", col);
      if (colon < 0) return undefined;
      const after = s[colon + 1];
      if (after !== undefined && after !== " ") return undefined;
      const source = s.slice(col, colon);
      if (source.trim() !== source || !isPlainStart(source) || /\s#|[[\]{},]/.test(source)) return undefined;
      key = resolvePlain(source, true);
      key.range = [line.start + col, line.start + colon, line.start + colon];
      end = colon;
    }
    if (s[end] !== ":" || (s[end + 1] !== undefined && s[end + 1] !== " ")) return undefined;
    let valueCol = end + 1;
    while (s[valueCol] === " ") valueCol++;
    return { key, valueCol };
  }

  /** A one-line value at column `col`: a flow collection, a quoted or a plain scalar, then at most a comment. */
  private inline(line: Line, col: number): Node {
    const s = line.text;
    let node: Node;
    let end: number;
    if (s[col] === "[" || s[col] === "{") {
      ({ node, end } = this.flow(line, col));
    } else if (s[col] === '"' || s[col] === "'") {
      const quoted = this.quoted(line, col) ?? decline();
      node = quoted.scalar;
      end = quoted.end;
    } else {
      const comment = s.indexOf(" #", col);
      const source = (comment >= 0 ? s.slice(col, comment) : s.slice(col)).trimEnd();
      if (!isPlainStart(source) || /: |:$/.test(source)) decline();
      const scalar = resolvePlain(source, false);
      scalar.range = [line.start + col, line.start + col + source.length, line.start + col + source.length];
      return scalar;
    }
    const tail = s.slice(end);
    if (tail.trim() !== "" && !/^ +#/.test(tail)) decline();
    return node;
  }

  /** A `[...]` or `{...}` that closes on its own line. */
  private flow(line: Line, col: number): { node: Node; end: number } {
    const s = line.text;
    const isMap = s[col] === "{";
    const close = isMap ? "}" : "]";
    const coll = isMap ? new YAMLMap() : new YAMLSeq();
    coll.flow = true;
    const keys: unknown[] = [];
    let at = skipSpaces(s, col + 1);
    if (s[at] !== close) {
      for (;;) {
        const item = this.flowValue(line, at, isMap);
        at = skipSpaces(s, item.end);
        if (isMap) {
          if (!isScalar(item.node) || s[at] !== ":" || s[at + 1] !== " ") decline();
          if (keys.includes(item.node.value)) decline();
          keys.push(item.node.value);
          const value = this.flowValue(line, skipSpaces(s, at + 1));
          (coll as YAMLMap).items.push(new Pair(item.node, value.node));
          at = skipSpaces(s, value.end);
        } else {
          (coll as YAMLSeq).items.push(item.node);
        }
        if (s[at] === close) break;
        if (s[at] !== ",") decline();
        at = skipSpaces(s, at + 1);
        // A trailing comma, an empty entry: left to the library.
        if (s[at] === close || s[at] === ",") decline();
      }
    }
    coll.range = [line.start + col, line.start + at + 1, line.start + at + 1];
    return { node: coll, end: at + 1 };
  }

  /** A value inside a flow collection at column `col`. */
  private flowValue(line: Line, col: number, atKey = false): { node: Node; end: number } {
    const s = line.text;
    if (s[col] === "[" || s[col] === "{") return this.flow(line, col);
    if (s[col] === '"' || s[col] === "'") {
      const quoted = this.quoted(line, col) ?? decline();
      return { node: quoted.scalar, end: quoted.end };
    }
    let end = col;
    while (end < s.length && !FLOW_END.has(s[end]) && s[end] !== ":") end++;
    const source = s.slice(col, end).trimEnd();
    if (!isPlainStart(source) || /\s#/.test(source)) decline();
    // A colon ends a key (`a: b`); anywhere else it is left to the library.
    if (s[end] === ":" && s[end + 1] !== " ") decline();
    const scalar = resolvePlain(source, atKey);
    scalar.range = [line.start + col, line.start + col + source.length, line.start + col + source.length];
    return { node: scalar, end: col + source.length };
  }

  /** A quoted scalar at column `col` that closes on its line and has no escapes. */
  private quoted(line: Line, col: number): { scalar: Scalar; end: number } | undefined {
    const s = line.text;
    const q = s[col];
    let value = "";
    let at = col + 1;
    for (;;) {
      const close = s.indexOf(q, at);
      if (close < 0) return undefined;
      value += s.slice(at, close);
      if (q === "'" && s[close + 1] === "'") {
        value += "'";
        at = close + 2;
        continue;
      }
      at = close + 1;
      break;
    }
    if (q === '"' && value.includes("\\")) return undefined;
    const scalar = new Scalar(value);
    scalar.source = value;
    scalar.type = q === '"' ? Scalar.QUOTE_DOUBLE : Scalar.QUOTE_SINGLE;
    scalar.range = [line.start + col, line.start + at, line.start + at];
    return { scalar, end: at };
  }

  /** The offset where a block ending before line `i` ends. */
  private endOf(i: number | undefined): number {
    return i === undefined ? this.text.length : this.lines[i].start;
  }
}

/** Whether a plain scalar may begin this way (and is not empty). */
function isPlainStart(source: string): boolean {
  if (source === "") return false;
  if (source[0] === "-") return source.length > 1 && /[0-9.A-Za-z]/.test(source[1]);
  return !INDICATOR.has(source[0]);
}

function skipSpaces(s: string, at: number): number {
  while (s[at] === " ") at++;
  return at;
}
