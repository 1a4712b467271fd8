import type { UserError } from "../runtime/protocol.js";

/** `file:///abs/root/experiments/x/steps.ts:3:9` -> `experiments/x/steps.ts:3:9`. */
export function relativiseStack(stack: string, root: string): string {
  const prefix = root.endsWith("/") ? root : root + "/";
  return stack.split(`file://${prefix}`).join("").split(prefix).join("");
}

/**
 * A user error in one line, with the innermost user frame: `ValueError: nope
 * (experiments/e/verifiers.py:8)`. Node's stack starts at the innermost frame; a Python
 * traceback ends with it.
 */
export function oneLine(error: UserError, root: string): string {
  const lines = relativiseStack(error.stack, root).split("\n");
  const python = [...lines].reverse().map((l) => /File "([^"]+)", line (\d+)/.exec(l)).find(Boolean);
  const at = python ? `${python[1]}:${python[2]}` : /([^\s()]+:\d+:\d+)\)?$/.exec(lines[0] ?? "")?.[1];
  const kind = ["Error", "ConfigError", "WorkerCrash"].includes(error.name) ? "" : `${error.name}: `;
  return `${kind}${error.message}${at ? ` (${at})` : ""}`;
}
