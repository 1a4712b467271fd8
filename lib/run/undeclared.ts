import { basename, isAbsolute, relative } from "node:path";
import { toPosix } from "../workspace/workspace.js";

/** Files whose part in a result the key records otherwise (the runtime's module system, tsconfig). */
const KEYED_ELSEWHERE = new Set(["package.json", "tsconfig.json"]);

/**
 * The files a unit read (absolute paths, see lib/runtime/reads.ts) that its key does not
 * cover, workspace-relative and sorted: inside the workspace, not in `keyed` (its code and
 * declared inputs), not under the data folder (upstream outputs are keyed by digest), and not
 * under node_modules or a dot-folder (packages, tool state, git). Editing one of these leaves
 * the experiment "up to date". Pure.
 */
export function undeclaredReads(root: string, dataDir: string, read: Iterable<string>, keyed: ReadonlySet<string>): string[] {
  const data = toPosix(relative(root, dataDir));
  const out = new Set<string>();
  for (const path of read) {
    const rel = toPosix(relative(root, path));
    if (rel === "" || rel.startsWith("../") || isAbsolute(rel) || keyed.has(rel) || KEYED_ELSEWHERE.has(basename(rel))) continue;
    if (rel === data || rel.startsWith(`${data}/`)) continue;
    const folders = rel.split("/").slice(0, -1);
    if (folders.some((f) => f === "node_modules" || f.startsWith("."))) continue;
    out.add(rel);
  }
  return [...out].sort();
}
