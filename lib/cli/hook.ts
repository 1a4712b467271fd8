import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CrystallizeError } from "../errors/error.js";
import { findRoot } from "../workspace/workspace.js";
import { EXIT } from "./commands.js";

const MARK = "# installed by crystallize hook install";

/**
 * The hook: fails the commit when crystallize.lock does not match config and code. npx alone
 * takes longer than the check (about a second, against a tenth for the check of an unchanged
 * workspace), so the hook runs the project's own install when it finds one, as npx would.
 */
function hookText(workspace: string): string {
  const cd = workspace === "." ? "" : `cd "${workspace}" || exit 1\n`;
  return [
    "#!/bin/sh",
    MARK,
    "# Fails the commit when crystallize.lock does not match config and code.",
    `${cd}d=$PWD`,
    "while :; do",
    '  if [ -x "$d/node_modules/.bin/crystallize" ]; then exec "$d/node_modules/.bin/crystallize" check; fi',
    '  [ "$d" = / ] && break',
    '  d=$(dirname "$d")',
    "done",
    "exec npx --no-install crystallize check",
    "",
  ].join("\n");
}

/** The work tree and git folder of the repository holding `dir`; undefined outside git. */
function findGit(dir: string): { tree: string; git: string } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const g = join(d, ".git");
    if (existsSync(g)) {
      if (statSync(g).isDirectory()) return { tree: d, git: g };
      // A worktree or submodule: ".git" is a file naming the real git folder.
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(g, "utf8"));
      if (m) return { tree: d, git: resolve(d, m[1].trim()) };
    }
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Files that say what a repository's pre-commit hook runs: the hook itself (ours, the
 * pre-commit framework's or lefthook's installer writes `.git/hooks/pre-commit`; husky's is
 * `.husky/pre-commit`), and the hook managers' configurations.
 */
const HOOK_CONFIGS = [".pre-commit-config.yaml", "lefthook.yml", "lefthook.yaml", ".lefthook.yml"];

/**
 * Whether a commit in the repository holding `root` runs `crystallize check`, as far as the
 * files say: a pre-commit hook is installed, and it or a hook manager's configuration names
 * crystallize. A hook kept elsewhere (git's `core.hooksPath`) is not seen.
 */
export function hookRunsCheck(root: string): boolean {
  const found = findGit(root);
  if (!found) return false;
  const hooks = [join(found.git, "hooks", "pre-commit"), join(found.tree, ".husky", "pre-commit")].filter((f) => existsSync(f));
  if (hooks.length === 0) return false;
  return [...hooks, ...HOOK_CONFIGS.map((f) => join(found.tree, f))].some((f) => {
    try {
      return readFileSync(f, "utf8").includes("crystallize");
    } catch {
      return false;
    }
  });
}

/** `crystallize hook install`: a plain git pre-commit hook running `crystallize check`. */
export async function hookCommand(flags: { cwd: string; force?: boolean }): Promise<number> {
  const root = findRoot(flags.cwd);
  const found = findGit(root);
  if (!found) throw new CrystallizeError("USAGE", `${root} is not inside a git repository`, { hint: "run `git init` first, or use the pre-commit framework (docs/pre-commit.md)" });
  const path = join(found.git, "hooks", "pre-commit");
  if (existsSync(path) && !readFileSync(path, "utf8").includes(MARK) && !flags.force) {
    throw new CrystallizeError("USAGE", `a pre-commit hook that crystallize did not write exists: ${path}`, {
      hint: "add `npx --no-install crystallize check` to it yourself, or rerun with --force to replace it",
    });
  }
  const workspace = relative(found.tree, root) || ".";
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, hookText(workspace));
  chmodSync(path, 0o755);
  process.stdout.write(`installed ${path}: commits now run \`crystallize check\`\n`);
  return EXIT.ok;
}
