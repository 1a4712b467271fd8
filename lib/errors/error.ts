/** Where in a user's file a problem is. Paths are shown relative to the workspace root. */
export interface SourceLocation {
  /** File path, relative to the workspace root when it lies inside it. */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
}

/**
 * Stable codes for user-facing failures. The CLI maps every code to exit status 2
 * (usage or configuration); build failures are reported as results, not thrown.
 */
export type ErrorCode =
  | "USAGE"
  | "NO_WORKSPACE"
  | "YAML_SYNTAX"
  | "CONFIG_UNKNOWN_KEY"
  | "CONFIG_TYPE"
  | "CONFIG_VALUE"
  | "CONFIG_MISSING_EXPORT"
  | "CONFIG_MISSING_MODULE"
  | "BAD_REFERENCE"
  | "DUPLICATE_NAME"
  | "CYCLE"
  | "UNKNOWN_TARGET"
  | "STATE_FILE"
  | "WORKSPACE_BUSY"
  | "CODE_SYNTAX"
  | "LOCK_FILE"
  | "LOCK_CONFLICT"
  | "NOT_BUILT"
  | "INTERNAL_IO"
  | "CONFIG_MIXED_LANGUAGES"
  | "PYTHON_NOT_FOUND";

/** The one error type for failures the user can fix. */
export class CrystallizeError extends Error {
  readonly code: ErrorCode;
  readonly location?: SourceLocation;
  readonly hint?: string;
  /** A few lines of the source around `location`, already formatted. */
  readonly excerpt?: string;

  constructor(
    code: ErrorCode,
    message: string,
    options: { location?: SourceLocation; hint?: string; excerpt?: string } = {},
  ) {
    super(message);
    this.name = "CrystallizeError";
    this.code = code;
    this.location = options.location;
    this.hint = options.hint;
    this.excerpt = options.excerpt;
  }
}

/** Several problems found in one pass: config loading reports them all, not the first. */
export class AggregateConfigError extends Error {
  readonly errors: CrystallizeError[];
  constructor(errors: CrystallizeError[]) {
    super(errors.map((e) => e.message).join("\n"));
    this.name = "AggregateConfigError";
    this.errors = errors;
  }
}

export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return "";
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  return s;
}

/** Renders one error as the CLI prints it: `file:line:col error: message`, excerpt, hint. */
/** A line of a user's file with a caret under `width` characters from 1-based `column`, as compilers show it. */
export function sourceExcerpt(line: number, lineText: string, column = 1, width = 1): string {
  return `  ${line} | ${lineText}\n  ${" ".repeat(String(line).length)} | ${" ".repeat(Math.max(0, column - 1))}${"^".repeat(Math.max(1, width))}`;
}

export function formatError(err: CrystallizeError): string {
  const where = formatLocation(err.location);
  const lines = [`${where ? where + " " : ""}error: ${err.message}`];
  if (err.excerpt) lines.push(err.excerpt);
  if (err.hint) lines.push(`  hint: ${err.hint}`);
  return lines.join("\n");
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The closest candidate within a distance that still reads as a typo, if any. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDist <= limit ? best : undefined;
}
