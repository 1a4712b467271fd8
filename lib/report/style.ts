import { styleText } from "node:util";

type Style = Parameters<typeof styleText>[0];

/**
 * Colour only for a terminal, never under CI or NO_COLOR: CI logs stay plain text. A terminal
 * that reports no width (a pty made by `script`) is taken for a log too: it gets no live
 * progress, so it gets no escape codes at all.
 */
export function useColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && !env.NO_COLOR && !env.CI && env.TERM !== "dumb";
}

export function makePaint(enabled: boolean) {
  return (style: Style, text: string) => (enabled ? styleText(style, text) : text);
}

export type Paint = ReturnType<typeof makePaint>;

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}
