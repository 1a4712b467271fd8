import { styleText } from "node:util";

type Style = Parameters<typeof styleText>[0];

/** Colour only for a terminal, never under CI or NO_COLOR: CI logs stay plain text. */
export function useColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && !process.env.CI && process.env.TERM !== "dumb";
}

export function makePaint(enabled: boolean) {
  return (style: Style, text: string) => (enabled ? styleText(style, text) : text);
}

export type Paint = ReturnType<typeof makePaint>;

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}
