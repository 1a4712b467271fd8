/**
 * Summary of one metric's values in one condition. Numeric when every value is a finite
 * number; anything else (strings, booleans, objects, NaN written as null) is shown as values.
 */
export type MetricSummary =
  | {
      kind: "numeric";
      /** Number of values (a step may record a metric more than once per replicate). */
      n: number;
      mean: number;
      /** Sample standard deviation (divisor n - 1); null when n = 1. */
      std: number | null;
    }
  | {
      kind: "values";
      n: number;
      values: unknown[];
    };

/** Mean and sample standard deviation, two-pass so that large offsets do not lose precision. */
export function summarize(values: unknown[]): MetricSummary {
  if (values.length === 0 || !values.every((v): v is number => typeof v === "number" && Number.isFinite(v))) {
    return { kind: "values", n: values.length, values };
  }
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { kind: "numeric", n, mean, std };
}

/** A number for people: integers as they are, else six significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const s = value.toPrecision(6);
  return s.includes("e") ? s : s.replace(/\.?0+$/, "");
}

/** A JSON value for people, cut at `max` characters. */
export function formatValue(value: unknown, max = 40): string {
  if (typeof value === "number") return formatNumber(value);
  const s = JSON.stringify(value) ?? String(value);
  return s.length > max ? s.slice(0, max - 3) + "..." : s;
}
