import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { Message } from "esbuild";
import { CrystallizeError } from "../errors/error.js";
import { digestBytes, digestFile, type Digest } from "../hash/digest.js";
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
 * see more, so that no analysis by an older version is reused: "module" did not see `require`.
 */
export const ANALYSIS_KIND = "module-2";

/**
 * `require("x")` with a literal string: CommonJS code's imports, which the ES module lexer does
 * not see. Looked for in esbuild's output, where comments are gone; a match inside a string
 * only adds a file to the key.
 */
const REQUIRE = /\brequire\(\s*(["'`])([^"'`]+)\1\s*\)/g;

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
  if (ext === ".py") return analyzePython(text);
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
    throw syntaxError(err, displayPath);
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
  const looksCommonJs = /\b__commonJS\(/.test(code) || (names.length === 0 && /\b(module\.exports|exports\.[A-Za-z_$])/.test(code));
  return {
    exports: unknownExports || looksCommonJs ? null : names,
    starExports,
    imports: [...new Set(specifiers)],
    digest: digestBytes(`${loader}\n${code}`),
  };
}

function analyzePython(text: string): ModuleInfo {
  const { normalized, skeleton } = scanPython(text);
  const { names, sources } = pythonTopLevel(skeleton);
  return { exports: names, starExports: [], imports: pythonImports(skeleton), digest: digestBytes(`py\n${normalized}`), sources };
}

function syntaxError(err: unknown, displayPath: string): CrystallizeError {
  const first: Message | undefined = (err as { errors?: Message[] }).errors?.[0];
  if (!first) return new CrystallizeError("CODE_SYNTAX", `${displayPath}: cannot parse: ${String(err)}`);
  const loc = first.location;
  return new CrystallizeError("CODE_SYNTAX", `syntax error: ${first.text}`, {
    location: { file: displayPath, line: loc?.line, column: loc ? loc.column + 1 : undefined },
    excerpt: loc ? `  ${loc.line} | ${loc.lineText}\n  ${" ".repeat(String(loc.line).length)} | ${" ".repeat(loc.column)}^` : undefined,
    hint: "fix the code; crystallize reads it to find exports and imports before running anything",
  });
}
