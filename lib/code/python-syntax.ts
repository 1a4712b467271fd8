import { execFile } from "node:child_process";
import { join } from "node:path";
import { CrystallizeError, sourceExcerpt } from "../errors/error.js";

/**
 * Compiles each file named on the command line and prints one JSON line per syntax error. Run
 * with `-I -S`: compiling needs no site packages, and the interpreter then starts in ~25 ms
 * instead of ~90.
 */
const CHECK = `
import json, sys
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            compile(f.read(), path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        print(json.dumps({"path": path, "message": getattr(e, "msg", str(e)), "line": getattr(e, "lineno", None), "column": getattr(e, "offset", None), "text": getattr(e, "text", None)}))
`;

interface Found {
  path: string;
  message: string;
  line: number | null;
  /** 1-based. */
  column: number | null;
  text: string | null;
}

/**
 * Python syntax errors found before anything runs, as esbuild finds TypeScript's: otherwise a
 * typo in the last experiment of a graph shows only after its upstreams have run. `files`:
 * workspace-relative modules by the interpreter (its real executable) that runs them; only
 * modules analysed afresh are given, those whose check is not remembered with their analysis.
 * Rejects with the first error in `files`' order; `failed` is told every file that has one,
 * so that its analysis is not kept and the next build checks it again.
 */
export async function checkPythonSyntax(root: string, files: Map<string, string[]>, failed: (rel: string) => void): Promise<void> {
  const found = (
    await Promise.all(
      [...files].filter(([, rels]) => rels.length > 0).map(([python, rels]) => compileAll(python, rels.map((rel) => join(root, rel)))),
    )
  ).flat();
  const byPath = new Map(found.map((f) => [f.path, f]));
  let first: { rel: string; f: Found } | undefined;
  for (const rel of [...files.values()].flat()) {
    const f = byPath.get(join(root, rel));
    if (!f) continue;
    failed(rel);
    first ??= { rel, f };
  }
  if (!first) return;
  const { rel, f } = first;
  const lineText = f.text?.replace(/\r?\n$/, "");
  throw new CrystallizeError("CODE_SYNTAX", `syntax error: ${f.message}`, {
    location: { file: rel, line: f.line ?? undefined, column: f.column ?? undefined },
    excerpt: f.line && lineText !== undefined ? sourceExcerpt(f.line, lineText, f.column ?? 1) : undefined,
    hint: "fix the code; crystallize checks Python modules before running anything",
  });
}

function compileAll(python: string, paths: string[]): Promise<Found[]> {
  return new Promise((resolve) => {
    execFile(python, ["-I", "-S", "-c", CHECK, ...paths], { encoding: "utf8", timeout: 30_000 }, (err, stdout) => {
      // An interpreter that cannot run at all was reported by its probe; here it checks nothing,
      // and the module fails when it runs, as before.
      if (err && !stdout) return resolve([]);
      resolve(stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Found));
    });
  });
}
