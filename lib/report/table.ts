/** Characters a terminal shows: colour escapes take no room. */
function width(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/**
 * Left-aligned columns two spaces apart, trailing spaces trimmed; cells may be painted.
 * A column empty in every row is left out rather than shown as a gap. The last cell of a row
 * shorter than the others runs on without widening its column (long values, notes).
 */
export function table(rows: string[][], indent = "  "): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const keep = Array.from({ length: columns }, (_, i) => rows.some((r) => width(r[i] ?? "") > 0));
  const kept = rows.map((r) => r.filter((_, i) => keep[i]));
  const full = Math.max(0, ...kept.map((r) => r.length));
  const widths: number[] = [];
  for (const r of kept) {
    const last = r.length < full ? r.length - 1 : -1;
    r.forEach((c, i) => {
      if (i !== last) widths[i] = Math.max(widths[i] ?? 0, width(c));
    });
  }
  return kept.map((r) => (indent + r.map((c, i) => c + " ".repeat(Math.max(0, (widths[i] ?? 0) - width(c)))).join("  ")).trimEnd());
}
