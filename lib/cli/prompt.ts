import { createInterface } from "node:readline";
import { CrystallizeError } from "../errors/error.js";

/**
 * Questions in a terminal, on node:readline (no prompt library: the ones measured hang or exit
 * 13 when stdin ends). Only ever opened when stdin and stdout are both terminals.
 */

/** The user left the questions: Ctrl-C (`interrupt`) or Ctrl-D / end of input (`eof`). */
export class PromptCancelled extends Error {
  constructor(readonly how: "interrupt" | "eof") {
    super(how === "interrupt" ? "interrupted" : "input ended");
  }
}

export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

export interface Prompter {
  /** Asks until `parse` accepts the answer; a CrystallizeError from `parse` is shown and the question repeated. */
  ask<T>(question: string, parse: (answer: string) => T): Promise<T>;
  say(text: string): void;
  close(): void;
}

export function openPrompter(): Prompter {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  // Lines are queued rather than read with rl.question(): that drops lines typed or pasted
  // ahead of their question. Ctrl-C and the end of input settle a pending wait.
  const queued: string[] = [];
  let waiting: (() => void) | undefined;
  let cancelled: PromptCancelled["how"] | undefined;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  rl.on("line", (line) => {
    queued.push(line);
    wake();
  });
  rl.on("SIGINT", () => {
    cancelled = "interrupt";
    wake();
  });
  rl.on("close", () => {
    cancelled ??= "eof";
    wake();
  });
  const nextLine = async (): Promise<string> => {
    for (;;) {
      if (cancelled === "interrupt") throw new PromptCancelled("interrupt");
      const line = queued.shift();
      if (line !== undefined) return line;
      if (cancelled) throw new PromptCancelled(cancelled);
      await new Promise<void>((resolve) => (waiting = resolve));
    }
  };
  return {
    async ask<T>(question: string, parse: (answer: string) => T): Promise<T> {
      for (;;) {
        rl.setPrompt(question);
        rl.prompt();
        const answer = await nextLine();
        try {
          return parse(answer.trim());
        } catch (err) {
          if (!(err instanceof CrystallizeError)) throw err;
          process.stdout.write(`  ${err.message}${err.hint ? ` (${err.hint})` : ""}\n`);
        }
      }
    },
    say(text: string) {
      process.stdout.write(text + "\n");
    },
    close() {
      rl.close();
    },
  };
}
