import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { Message } from "esbuild";
import { CONFLICT_HINT, mergeConflict } from "../errors/conflict.js";
import { CrystallizeError, sourceExcerpt } from "../errors/error.js";
import { digestBytes, digestFile, type Digest } from "../hash/digest.js";
import { compileModule, type Compiled } from "./compile.js";
import { pythonImports, pythonTopLevel, scanPython } from "./python.js";

/** What static analysis learns about one user module, without running it. */
export interface ModuleInfo {
  /** Named exports, or null when they cannot be known statically (CommonJS, `export *` from a package). */
  exports: string[] | null;
  /** Local modules re-exported wholesale (`export * from "./x"`), to be followed for `exports`. */
  starExports: string[];
  /** Import specifiers: static imports, re-exports, and string-literal dynamic imports and `require` calls. */
  imports: string[];
  /**
   * Digest of the code as esbuild prints it with comments and whitespace removed: editing only
   * those leaves it unchanged, any change to what runs changes it.
   */
  digest: Digest;
  /** Python only: the functions that may serve as the single data source (see pythonTopLevel). */
  sources?: string[];
}

/**
 * The stat cache's kind for analyses (see StatCache). A new name whenever analysis learns to
 * see more, so that no analysis by an older version is reused: "module" did not see `require`;
 * "module-2" took every digest of esbuild's ES module output, where "module-3" takes that of a
 * module the CLI compiles from the compiled code (see analyzeCompiled).
 */
export const ANALYSIS_KIND = "module-3";

/**
 * `require("x")` with a literal string: CommonJS code's imports, which the ES module lexer does
 * not see. Looked for in esbuild's output, where comments are gone; a match inside a string
 * only adds a file to the key.
 */
const REQUIRE = /\brequire\(\s*(["'`])([^"'`]+)\1\s*\)/g;

/** `module.exports` or `exports.x` in esbuild's output: a module with no ES exports may still export the CommonJS way. */
const COMMONJS_EXPORTS = /\b(module\.exports|exports\.[A-Za-z_$])/;

/** How esbuild reads each kind of module a workspace may import (a JSON file included). */
const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx" | "json"> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
  ".json": "json",
};

/**
 * Analyses one module. `displayPath` is how errors name it (relative to the workspace root).
 */
export async function analyzeModule(absPath: string, displayPath: string, source?: string): Promise<ModuleInfo> {
  const ext = extname(absPath);
  // Synchronous: a fresh workspace analyses hundreds of small modules, and the promise API
  // spends more on each (open, stat, read, close, each a trip to the thread pool) than the read.
  const text = source ?? readFileSync(absPath, "utf8");
  if (ext === ".py") {
    // Python's own syntax errors surface when the module runs; git's markers are plain to see.
    const conflict = mergeConflict(text);
    if (conflict) throw conflictError(text, conflict, displayPath);
    return analyzePython(text);
  }
  // Node runs a file of any other extension as JavaScript.
  const loader = LOADERS[ext] ?? "js";
  let code: string;
  try {
    // Loaded on first use: a no-op build answers from the stat cache and never needs it.
    const { transform } = await import("esbuild");
    const out = await transform(text, { loader, format: "esm", minifyWhitespace: true, legalComments: "none", sourcefile: displayPath, target: "es2022" });
    code = out.code;
  } catch (err) {
    // Unless it is not JavaScript (a native addon, say): then its bytes are the key.
    if (LOADERS[ext] === undefined) return { exports: null, starExports: [], imports: [], digest: await digestFile(absPath) };
    throw syntaxError(err, displayPath, text);
  }
  // Loaded here, not at start-up: importing it compiles its wasm, which a cached run never needs.
  const lexer = await import("es-module-lexer");
  await lexer.init;
  const [imports, exports] = lexer.parse(code);
  const specifiers: string[] = [];
  const starExports: string[] = [];
  let unknownExports = false;
  for (const imp of imports) {
    if (imp.n === undefined) continue;
    specifiers.push(imp.n);
    const stmt = code.slice(imp.ss, imp.se);
    if (/^export\s*\*\s*from/.test(stmt)) {
      if (imp.n.startsWith(".")) starExports.push(imp.n);
      else unknownExports = true;
    }
  }
  for (const match of code.matchAll(REQUIRE)) specifiers.push(match[2]);
  const names = exports.map((e) => e.n);
  // esbuild wraps a CommonJS module (`exports.x = ...`) in __commonJS and exports only a default:
  // its names are known only when it runs.
  const looksCommonJs = /\b__commonJS\(/.test(code) || (names.length === 0 && COMMONJS_EXPORTS.test(code));
  return {
    exports: unknownExports || looksCommonJs ? null : names,
    starExports,
    imports: [...new Set(specifiers)],
    digest: digestBytes(`${loader}\n${code}`),
  };
}

/**
 * Analyses a module the CLI compiles for the workers (see compiledHere) from that compilation,
 * so that a module read for the first time goes through esbuild once, not twice: each call
 * cost esbuild ~1 ms of CPU, a second of a cold build's at 500 experiments. The digest is of
 * the compiled code, what the workers run. Undefined when tsx compiles the module instead (see
 * compileModule); then analyzeModule reads it.
 */
export async function analyzeCompiled(absPath: string, displayPath: string): Promise<{ info: ModuleInfo; compiled: Compiled } | undefined> {
  const text = readFileSync(absPath, "utf8");
  let compiled: Compiled | undefined;
  try {
    compiled = await compileModule(absPath, text);
  } catch (err) {
    throw syntaxError(err, displayPath, text);
  }
  if (!compiled) return undefined;
  const { code } = compiled;
  const specifiers = [...code.matchAll(REQUIRE)].map((m) => m[2]);
  const starExports: string[] = [];
  let unknownExports = false;
  for (const m of code.matchAll(REEXPORT)) {
    if (m[2].startsWith(".")) starExports.push(m[2]);
    else unknownExports = true;
  }
  // esbuild marks a module with ES module syntax by building its exports object; code without
  // that mark is CommonJS (or exports nothing), as analyzeModule's esbuild output says too.
  const esModule = ES_MODULE.test(code);
  const names = esModule ? exportNames(code) : [];
  const looksCommonJs = !esModule && COMMONJS_EXPORTS.test(code);
  return {
    info: {
      exports: unknownExports || looksCommonJs || names === undefined ? null : names,
      starExports,
      imports: [...new Set(specifiers)],
      digest: digestBytes(`cjs\n${code}`),
    },
    compiled,
  };
}

/** `module.exports=__toCommonJS(x_exports)`: esbuild's CommonJS output of an ES module. */
const ES_MODULE = /\bmodule\.exports=__toCommonJS\([\w$]+_exports\)/;
/** `__reExport(x_exports,require("./y"),module.exports)`: `export * from "./y"`. */
const REEXPORT = /\b__reExport\([\w$]+_exports,require\((["'`])([^"'`]+)\1\)/g;
/** `__export(x_exports,{`: the start of the getters of an ES module's named exports. */
const EXPORTS_START = /\b__export\([\w$]+_exports,\{/;
/** One getter, `name:()=>value` or `"a-b":()=>value`, up to the comma or brace after it. */
const GETTER = /^(?:([A-Za-z_$][\w$]*)|"((?:[^"\\]|\\.)*)"):\(\)=>(?:[\w$.]|\[(?:"(?:[^"\\]|\\.)*"|\d+)\])+([,}])/;

/** The names in esbuild's `__export(x_exports,{...})`; [] without one; undefined if it is not as expected. */
function exportNames(code: string): string[] | undefined {
  const start = EXPORTS_START.exec(code);
  if (!start) return [];
  const names: string[] = [];
  let rest = code.slice(start.index + start[0].length);
  if (rest.startsWith("}")) return names;
  for (;;) {
    const getter = GETTER.exec(rest);
    if (!getter) return undefined;
    names.push(getter[1] ?? JSON.parse(`"${getter[2]}"`));
    if (getter[3] === "}") return names;
    rest = rest.slice(getter[0].length);
  }
}

function analyzePython(text: string): ModuleInfo {
  const { normalized, skeleton } = scanPython(text);
  const { names, sources } = pythonTopLevel(skeleton);
  return { exports: names, starExports: [], imports: pythonImports(skeleton), digest: digestBytes(`py\n${normalized}`), sources };
}

function conflictError(text: string, conflict: { offset: number; line: number }, displayPath: string): CrystallizeError {
  const end = text.indexOf("\n", conflict.offset);
  const excerpt = sourceExcerpt(conflict.line, text.slice(conflict.offset, end < 0 ? undefined : end), 1, 7);
  return new CrystallizeError("CODE_SYNTAX", "unresolved merge conflict", { location: { file: displayPath, line: conflict.line, column: 1 }, excerpt, hint: CONFLICT_HINT });
}

function syntaxError(err: unknown, displayPath: string, text: string): CrystallizeError {
  const conflict = mergeConflict(text);
  if (conflict) return conflictError(text, conflict, displayPath);
  const first: Message | undefined = (err as { errors?: Message[] }).errors?.[0];
  if (!first) return new CrystallizeError("CODE_SYNTAX", `${displayPath}: cannot parse: ${String(err)}`);
  const loc = first.location;
  return new CrystallizeError("CODE_SYNTAX", `syntax error: ${first.text}`, {
    location: { file: displayPath, line: loc?.line, column: loc ? loc.column + 1 : undefined },
    excerpt: loc ? sourceExcerpt(loc.line, loc.lineText, loc.column + 1) : undefined,
    hint: "fix the code; crystallize reads it to find exports and imports before running anything",
  });
}
