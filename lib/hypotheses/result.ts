/**
 * What a verifier may return: a plain object of JSON values. Checked in the worker, before the
 * result crosses the process boundary, and again by the evaluation, whatever ran the verifier.
 */

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return `a ${(v as object).constructor?.name ?? "object"}`;
  return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
}

function jsonProblem(v: unknown, path: string, seen: Set<object>): string | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : `${path} is ${v}, which JSON cannot hold`;
  if (typeof v !== "object" || !(Array.isArray(v) || isPlainObject(v))) return `${path} is ${describe(v)}, which JSON cannot hold`;
  if (seen.has(v)) return `${path} refers back to itself`;
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = jsonProblem(v[i], `${path}[${i}]`, seen);
        if (p) return p;
      }
      return undefined;
    }
    for (const [k, x] of Object.entries(v)) {
      // Dropped on the way to JSON, as JSON.stringify drops it: not worth failing a verdict for.
      if (x === undefined) continue;
      const p = jsonProblem(x, `${path}.${k}`, seen);
      if (p) return p;
    }
    return undefined;
  } finally {
    seen.delete(v);
  }
}

/** Why `value` cannot be a verifier's result, or undefined when it can. */
export function resultProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return `the verifier returned ${describe(value)}; it must return a plain object such as {p_value, significant}`;
  return jsonProblem(value, "result", new Set());
}
