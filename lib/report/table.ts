/** Characters a terminal shows: colour escapes take no room. */
function width(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** Left-aligned columns two spaces apart, trailing spaces trimmed; cells may be painted. */
export function table(rows: string[][], indent = "  "): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, width(c))), []);
  return rows.map((r) => (indent + r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i] - width(c)))).join("  ")).trimEnd());
}
