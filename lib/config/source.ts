import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from "yaml";
import { parsePlainYaml } from "./plain-yaml.js";
import { CONFLICT_HINT, mergeConflict } from "../errors/conflict.js";
import { CrystallizeError, sourceExcerpt, type ErrorCode, type SourceLocation } from "../errors/error.js";

/**
 * A parsed YAML file that can point back at its own text: every validation error names
 * `file:line:column` and shows the offending line with a caret.
 */
export class YamlSource {
  readonly file: string;
  readonly text: string;
  /** The document's top node: null or undefined when the file is empty. */
  readonly contents: Node | null | undefined;
  private readonly lines: LineCounter;

  private constructor(file: string, text: string, contents: Node | null | undefined, lines: LineCounter) {
    this.file = file;
    this.text = text;
    this.contents = contents;
    this.lines = lines;
  }

  /** Parses `text`; YAML syntax errors (and duplicate keys) become CONFIG errors with positions. */
  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const src = new YamlSource(file, text, doc.contents, lines);
    const first = doc.errors[0];
    if (first) {
      const conflict = mergeConflict(text);
      if (conflict) throw src.error("YAML_SYNTAX", conflict.offset, "unresolved merge conflict", { hint: CONFLICT_HINT });
      const message = first.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      throw src.error("YAML_SYNTAX", first.pos[0], `invalid YAML: ${message}`, {
        hint: first.code === "DUPLICATE_KEY" ? "each key may appear once in a mapping" : "check indentation and quoting on this line",
      });
    }
    return src;
  }

  /**
   * Parses `text` if it is written in plain YAML (see parsePlainYaml), much faster than parse;
   * undefined otherwise, and then parse reads it.
   */
  static parsePlain(file: string, text: string): YamlSource | undefined {
    const plain = parsePlainYaml(text);
    if (!plain) return undefined;
    const lines = new LineCounter();
    for (const start of plain.lineStarts) lines.addNewLine(start);
    return new YamlSource(file, text, plain.contents, lines);
  }

  locationAt(offset: number): SourceLocation {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /** Location of a node, or of the file when the node has no position. */
  locationOf(node: Node | Pair | null | undefined): SourceLocation {
    const n = isPair(node) ? (node.key as Node) : node;
    const offset = n && "range" in n && n.range ? n.range[0] : undefined;
    return offset === undefined ? { file: this.file, line: 1, column: 1 } : this.locationAt(offset);
  }

  /** Source line with a caret under the column, like a compiler. */
  excerpt(loc: SourceLocation, width = 1): string {
    if (loc.line === undefined) return "";
    return sourceExcerpt(loc.line, this.text.split(/\r?\n/)[loc.line - 1] ?? "", loc.column ?? 1, width);
  }

  error(
    code: ErrorCode,
    at: Node | Pair | number | null | undefined,
    message: string,
    opts: { hint?: string } = {},
  ): CrystallizeError {
    const loc = typeof at === "number" ? this.locationAt(at) : this.locationOf(at);
    let width = 1;
    const n = isPair(at) ? (at.key as Node) : at;
    if (n && typeof n === "object" && "range" in n && n.range && (isScalar(n) || isPair(at))) {
      width = Math.min(60, n.range[1] - n.range[0]);
    }
    return new CrystallizeError(code, message, { location: loc, hint: opts.hint, excerpt: this.excerpt(loc, width) });
  }
}

/** What a YAML node holds, in the words used in error messages. */
export function describeNode(node: unknown): string {
  if (node === null || node === undefined) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "null";
    if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
    if (typeof v === "number") return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
    if (typeof v === "boolean") return `the boolean ${v}`;
    return String(v);
  }
  return "an unsupported value";
}
