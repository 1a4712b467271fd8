/**
 * Static reading of Python modules, without running Python: a normalised form for the key
 * (comments, blank lines and trailing spaces removed, strings kept byte for byte), the modules
 * they import, and their top-level names. The scanner tracks every string form (prefixes,
 * triple quotes, escapes, f-string replacement fields, nested quotes of Python 3.12), because
 * stripping a `#` that is really inside a string would hide an edit from the key.
 */

export interface PythonScan {
  /** The code with comments and blank lines removed; string literals untouched. */
  normalized: string;
  /** The same with string contents emptied: safe to search for statements. */
  skeleton: string;
}

interface StringState {
  quote: string;
  triple: boolean;
  fstring: boolean;
  /** Inside a `{...}` replacement field of an f-string: code, with brackets counted. */
  inField: boolean;
  depth: number;
  /**
   * A replacement field's format spec (`f"{x:'^10}"`): literal text, quotes included, up to the
   * `}` that closes the field; `{` opens a nested field (`f"{x:>{width}}"`).
   */
  spec?: boolean;
}

export function scanPython(text: string): PythonScan {
  let norm = "";
  let skel = "";
  const stack: StringState[] = [];
  let lineHasContent = false;
  const inCode = () => stack.length === 0 || stack[stack.length - 1].inField;
  const emit = (ch: string, toSkeleton = true) => {
    norm += ch;
    if (toSkeleton) skel += ch;
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (inCode()) {
      if (ch === "#" && stack.length === 0) {
        while (i < text.length && text[i] !== "\n") i++;
        continue;
      }
      if (ch === "\n" && stack.length === 0) {
        norm = norm.replace(/[ \t\r\f]+$/, "");
        skel = skel.replace(/[ \t\r\f]+$/, "");
        if (lineHasContent) {
          emit("\n");
        } else {
          norm = norm.slice(0, norm.lastIndexOf("\n") + 1);
          skel = skel.slice(0, skel.lastIndexOf("\n") + 1);
        }
        lineHasContent = false;
        i++;
        continue;
      }
      if (ch === "'" || ch === '"') {
        const prefix = /[A-Za-z]{0,2}$/.exec(text.slice(Math.max(0, i - 2), i))![0];
        const beforePrefix = text[i - prefix.length - 1];
        const isPrefix = /^[rRbBfFuU]{0,2}$/.test(prefix) && !(beforePrefix && /[\w]/.test(beforePrefix));
        const triple = text.startsWith(ch.repeat(3), i);
        stack.push({ quote: ch, triple, fstring: isPrefix && /[fF]/.test(prefix), inField: false, depth: 0 });
        emit(triple ? ch.repeat(3) : ch);
        i += triple ? 3 : 1;
        lineHasContent = true;
        continue;
      }
      if (top?.inField && top.depth === 0 && ch === ":") {
        stack.push({ quote: "", triple: false, fstring: true, inField: false, depth: 0, spec: true });
        emit(ch);
        i++;
        continue;
      }
      if (top?.inField) {
        if (ch === "{" || ch === "[" || ch === "(") top.depth++;
        else if (ch === "}" || ch === "]" || ch === ")") {
          if (top.depth === 0 && ch === "}") top.inField = false;
          else top.depth--;
        }
      }
      if (!/\s/.test(ch)) lineHasContent = true;
      emit(ch);
      i++;
      continue;
    }
    // Inside a string: everything is kept in `normalized`, nothing but the quotes in `skeleton`.
    if (top.spec && ch === "}") {
      stack.pop(); // the enclosing field closes on this brace
      continue;
    }
    if (ch === "\\") {
      norm += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (top.fstring && ch === "{") {
      if (text[i + 1] === "{") {
        norm += "{{";
        i += 2;
        continue;
      }
      top.inField = true;
      top.depth = 0;
      emit("{");
      i++;
      continue;
    }
    const closing = top.triple ? top.quote.repeat(3) : top.quote;
    if (!top.spec && text.startsWith(closing, i)) {
      stack.pop();
      emit(closing);
      i += closing.length;
      continue;
    }
    norm += ch;
    i++;
  }
  norm = norm.replace(/[ \t\r\f]+$/, "");
  skel = skel.replace(/[ \t\r\f]+$/, "");
  return { normalized: norm, skeleton: skel };
}

/**
 * Imported module names, as strings: `helpers`, `pkg.mod`, `.sibling`, `..parent.mod`.
 * A `?` suffix marks a name that may be a module or only a name inside one
 * (`from pkg import thing`): resolved when a file exists, never reported missing.
 */
export function pythonImports(skeleton: string): string[] {
  const found = new Set<string>();
  const joined = logicalLines(skeleton).replace(/;/g, "\n");
  for (const m of joined.matchAll(/^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([^)\n;]*)/gm)) {
    const [, dots, mod, names] = m;
    const base = dots + mod;
    if (mod) found.add(base);
    for (const raw of names.split(",")) {
      const name = raw.trim().split(/\s+as\s+/)[0].trim();
      if (!name || name === "*") continue;
      const sub = mod ? `${base}.${name}` : `${dots}${name}`;
      found.add(mod ? `${sub}?` : sub);
    }
  }
  for (const m of joined.matchAll(/^[ \t]*import[ \t]+([^\n;]+)/gm)) {
    for (const raw of m[1].split(",")) {
      const name = raw.trim().split(/\s+as\s+/)[0].trim();
      if (/^[\w.]+$/.test(name)) found.add(name);
    }
  }
  return [...found];
}

/**
 * The skeleton with statements that span lines (a parenthesised list, a backslash) joined onto
 * their first line: `from x import (a,\n b)` and a multi-line decorator read as one line.
 */
function logicalLines(skeleton: string): string {
  return skeleton.replace(/\(([^()]*)\)/g, (m) => m.replace(/\s*\n\s*/g, " ")).replace(/\\\n/g, " ");
}

export interface PythonNames {
  /** Top-level names the module binds, or null when `from x import *`, a top-level `if`/`try`, globals() or exec make them unknowable. */
  names: string[] | null;
  /** Top-level functions decorated with `@data_source`, else every top-level function. */
  sources: string[];
}

export function pythonTopLevel(skeleton: string): PythonNames {
  const names = new Set<string>();
  const functions: string[] = [];
  const marked: string[] = [];
  let decorators: string[] = [];
  let star = false;
  let unknowable = false;
  // Top-level statements: unindented lines, split at `;` (string contents are already gone).
  const statements = logicalLines(skeleton)
    .split("\n")
    .filter((line) => line !== "" && !/^\s/.test(line))
    .flatMap((line) => line.split(";").map((st) => st.trim()).filter((st) => st !== ""));
  for (const line of statements) {
    // Names bound inside a top-level `if`/`try`/loop/`with`, or through globals() or exec,
    // cannot be read off the page: the module's names are then unknown, never wrongly missing.
    if ((/^(if|try|for|while|with|match)\b/.test(line) && !/^if\s+__name__\s*==/.test(line)) || /\b(globals\(\)|exec\(|setattr\()/.test(line)) unknowable = true;
    const deco = /^@([\w.]+)/.exec(line);
    if (deco) {
      decorators.push(deco[1].split(".").pop()!);
      continue;
    }
    const def = /^(?:async\s+)?def\s+(\w+)/.exec(line) ?? /^class\s+(\w+)/.exec(line);
    if (def) {
      names.add(def[1]);
      if (line.includes("def ")) {
        functions.push(def[1]);
        if (decorators.includes("data_source")) marked.push(def[1]);
      }
    } else if (/^from\s/.test(line)) {
      const list = /\bimport\s+\(?([^)]*)/.exec(line)?.[1] ?? "";
      for (const raw of list.split(",")) {
        const parts = raw.trim().split(/\s+as\s+/);
        const name = (parts[1] ?? parts[0]).trim();
        if (name === "*") star = true;
        else if (/^\w+$/.test(name)) names.add(name);
      }
    } else if (/^import\s/.test(line)) {
      for (const raw of line.slice(7).split(",")) {
        const parts = raw.trim().split(/\s+as\s+/);
        const name = parts[1] ? parts[1].trim() : parts[0].trim().split(".")[0];
        if (/^\w+$/.test(name)) names.add(name);
      }
    } else {
      const assign = /^([\w\s,()*]+?)\s*(?::[^=]*)?=(?!=)/.exec(line);
      if (assign) for (const n of assign[1].split(/[\s,()*]+/)) if (/^[A-Za-z_]\w*$/.test(n)) names.add(n);
    }
    decorators = [];
  }
  return { names: star || unknowable ? null : [...names], sources: marked.length > 0 ? marked : functions };
}
