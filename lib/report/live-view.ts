import { progressLine } from "./lines.js";
import type { ProgressRow } from "./progress.js";
import type { Paint } from "./style.js";

const ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** Columns a code point takes in a terminal: 2 for East Asian wide and emoji, 0 for combining marks. */
function cells(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

/** Columns `text` takes on screen, escape codes aside. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (let i = 0; i < text.length; ) {
    ESCAPE.lastIndex = i;
    const esc = ESCAPE.exec(text);
    if (esc) {
      i += esc[0].length;
      continue;
    }
    const cp = text.codePointAt(i)!;
    width += cells(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return width;
}

/**
 * `text` cut to at most `width` columns, with `…` where it was cut. Escape codes are kept whole
 * and styles reset after a cut, so a cut never leaves the terminal coloured.
 */
export function fitWidth(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  let styled = false;
  for (let i = 0; i < text.length; ) {
    ESCAPE.lastIndex = i;
    const esc = ESCAPE.exec(text);
    if (esc) {
      out += esc[0];
      styled = true;
      i += esc[0].length;
      continue;
    }
    const cp = text.codePointAt(i)!;
    if (used + cells(cp) > width - 1) break;
    out += String.fromCodePoint(cp);
    used += cells(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return out + (width > 0 ? "…" : "") + (styled ? "\x1b[0m" : "");
}

/**
 * The live region: a line per running experiment, each shorter than the terminal is wide (a
 * wrapped line would take two rows and throw off the redraw's cursor movement), and no more
 * lines than fit on the screen with room to spare.
 */
export function renderRegion(rows: ProgressRow[], size: { columns: number; rows: number }, paint: Paint): string[] {
  if (rows.length === 0) return [];
  const maxLines = Math.max(1, size.rows - 2);
  const shown = rows.length > maxLines ? rows.slice(0, maxLines - 1) : rows;
  const nameWidth = Math.min(32, Math.max(...shown.map((r) => r.name.length)));
  const lines = shown.map((r) => `${paint("cyan", "▸")} ${progressLine(r, paint, nameWidth)}`);
  if (shown.length < rows.length) lines.push(paint("dim", `  … and ${rows.length - shown.length} more running`));
  // One column stays free: writing into the last one leaves some terminals' cursor pending a wrap.
  return lines.map((l) => fitWidth(l, size.columns - 1));
}
