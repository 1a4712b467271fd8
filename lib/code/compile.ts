import { extname } from "node:path";
import { tsconfigOf } from "../hash/facts.js";
import type { ModuleTypes } from "./module-type.js";

/**
 * TypeScript compiled once, in the CLI, for the workers (see lib/run/compile.ts for why). The
 * options are tsx's own for CommonJS (tsx 4, `transformSync` in its register module), so that
 * a module behaves the same whichever compiled it, but for the target: the oldest Node we
 * support, not the running one. The compiled code is also what a module's digest is taken of
 * (see analyzeCompiled): it must be the same on every machine, whichever Node it has (a lock
 * written on one is checked on another), and code compiled for Node 20 runs on every later
 * one. What tsx does beyond these options is left to tsx: code that says `import(` (tsx
 * rewrites dynamic imports) or `import.meta` (tsx defines it), and every module when a
 * tsconfig.json applies (tsx passes parts of it to esbuild).
 */
const OPTIONS = {
  target: "node20",
  loader: "ts",
  sourcesContent: false,
  minifyWhitespace: true,
  keepNames: true,
  format: "cjs",
  platform: "node",
} as const;

/** What tsx handles beyond compiling: left to it. */
const TSX_ONLY = /\bimport\s*(\(|\.\s*meta\b)/;

/** Whether the CLI compiles a workspace's TypeScript for its workers: not where a tsconfig.json applies. */
export function compilesFor(root: string): boolean {
  return tsconfigOf(root) === undefined;
}

/** Whether the CLI compiles this module (absolute path) of a workspace it compiles for. */
export function compiledHere(abs: string, moduleTypes: ModuleTypes): boolean {
  // The worker takes compiled code only for `.ts` (a `.js` or `.json` file needs none), and
  // what it loads with import() goes through tsx's ES module hooks instead.
  return extname(abs) === ".ts" && moduleTypes.loadsAsCommonJs(abs);
}

/** A module compiled for the workers: the code as esbuild printed it, and its source map. */
export interface Compiled {
  code: string;
  map: string;
}

/** Compiles `text`, or undefined when tsx must (see TSX_ONLY). Throws esbuild's error on a syntax error. */
export async function compileModule(abs: string, text: string): Promise<Compiled | undefined> {
  if (TSX_ONLY.test(text)) return undefined;
  const { transform } = await import("esbuild");
  const out = await transform(text, { ...OPTIONS, sourcemap: "external", sourcefile: abs });
  return { code: out.code, map: out.map };
}

/**
 * What a worker runs: the code in a function that sets `__filename`, and the source map
 * inline, byte for byte what esbuild writes given that banner, footer and an inline map (the
 * map's lines move down one, past the banner's). The code's digest is taken without these: the
 * banner holds the module's absolute path.
 */
export function workerCode(abs: string, { code, map }: Compiled): string {
  const shifted = map.replace('"mappings": "', '"mappings": ";');
  return `__filename=${JSON.stringify(abs)};(()=>{\n${code}})()\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(shifted).toString("base64")}\n`;
}
