import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AggregateConfigError, CrystallizeError, formatError, sourceExcerpt } from "../errors/error.js";
import { findRoot } from "../workspace/workspace.js";

/** Where error locations are relative to: the workspace root, when there is one. */
function rootFor(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === "-C" || a === "--cwd");
  const cwd = i >= 0 && argv[i + 1] ? resolve(argv[i + 1]) : process.cwd();
  try {
    return findRoot(cwd);
  } catch {
    return undefined;
  }
}

/** Adds the source excerpt to errors found after parsing (graph and export checks). */
function withExcerpt(err: CrystallizeError, root: string | undefined): CrystallizeError {
  const loc = err.location;
  if (err.excerpt || !root || !loc?.line) return err;
  let text: string;
  try {
    text = readFileSync(join(root, loc.file), "utf8");
  } catch {
    return err;
  }
  const line = text.split(/\r?\n/)[loc.line - 1];
  if (line === undefined) return err;
  const col = loc.column ?? 1;
  const word = /^[^\s:#,\]}]+/.exec(line.slice(col - 1))?.[0].length ?? 1;
  return new CrystallizeError(err.code, err.message, { location: loc, hint: err.hint, excerpt: sourceExcerpt(loc.line, line, col, word) });
}

export function formatForTerminal(err: CrystallizeError | AggregateConfigError, argv: string[]): string {
  const root = rootFor(argv);
  if (err instanceof CrystallizeError) return formatError(withExcerpt(err, root));
  const n = err.errors.length;
  const body = err.errors.map((e) => formatError(withExcerpt(e, root))).join("\n\n");
  return n === 1 ? body : `${body}\n\n${n} problems found; nothing was run.`;
}
