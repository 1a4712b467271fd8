import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(REPO, "bin", "crystallize.js");

/** A fresh temp folder holding a copy of fixtures/<name> (no node_modules: imports must resolve anyway). */
export function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cz-${name}-`));
  // What a fresh clone has: no data, no lock, no tool state from a local run.
  const local = /\/(data|\.crystallize)(\/|$)|\/crystallize\.lock$/;
  cpSync(join(REPO, "fixtures", name), dir, { recursive: true, filter: (src) => !local.test(src.slice(join(REPO, "fixtures", name).length)) });
  return dir;
}

/** A temp workspace from a map of relative path -> content. */
export function makeWorkspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "cz-ws-"));
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together. */
  output: string;
}

/** Runs the real CLI in `cwd` with no terminal and CI set: plain output, no colour. */
/** Far longer than any command of a test takes: a CLI that never ends fails its test instead of hanging the suite. */
const CLI_TIMEOUT_MS = 120_000;

export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const options = { cwd, env: { ...process.env, CI: "true", NO_COLOR: "1", ...env }, maxBuffer: 1 << 26, timeout: CLI_TIMEOUT_MS, killSignal: "SIGKILL" as const };
    execFile(process.execPath, [BIN, ...args], options, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      if (err?.killed) stderr += `\n(test helper: killed after ${CLI_TIMEOUT_MS / 1000} s)`;
      resolve({ code: typeof code === "number" ? code : 1, stdout, stderr, output: stdout + stderr });
    });
  });
}

/** Starts the CLI without waiting, for tests that signal it. */
export function startCli(args: string[], cwd: string): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: "true", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function exists(path: string): boolean {
  return existsSync(path);
}

export async function waitFor(predicate: () => boolean, timeoutMs = 20000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}
