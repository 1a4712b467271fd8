import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { MODULE_ROLES, type ModuleRole } from "../config/types.js";
import { AggregateConfigError, CrystallizeError, didYouMean } from "../errors/error.js";
import { findRoot, languageOf, loadSettings, loadWorkspace, toPosix } from "../workspace/workspace.js";
import type { Language, UpstreamUse } from "./spec.js";
import { exists } from "./write.js";

/**
 * The checks behind every answer to `crystallize new`, whether it came from a flag or a
 * prompt: the name, the files, and the upstream outputs, against the workspace as it is.
 */

/** What `new` needs to know about the workspace it adds to. */
export interface Inventory {
  /** The experiments folder (absolute); it may not exist yet. */
  experimentsDir: string;
  /** Folders a new experiment may not take: discovery skips them. */
  reserved: Set<string>;
  experiments: Array<{ name: string; folderId: string; configFile: string; outputs: string[]; language: Language }>;
  /** A broken config elsewhere: a new experiment can still be created, but `--use` cannot be checked. */
  unreadable?: CrystallizeError | AggregateConfigError;
  /** No workspace was found: `experiments/` is created in the current folder. */
  fresh: boolean;
}

export const DEFAULT_FILES: ModuleRole[] = ["datasources", "steps"];
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export async function inventory(cwd: string): Promise<Inventory> {
  let root: string;
  try {
    root = findRoot(cwd);
  } catch (err) {
    if (!(err instanceof CrystallizeError) || err.code !== "NO_WORKSPACE") throw err;
    const here = resolve(cwd);
    return { experimentsDir: join(here, "experiments"), reserved: new Set(), experiments: [], fresh: true };
  }
  const settings = await loadSettings(root);
  const experimentsDir = join(root, settings.experiments);
  const inv: Inventory = { experimentsDir, reserved: new Set([join(root, settings.data)]), experiments: [], fresh: false };
  try {
    const ws = await loadWorkspace(root);
    inv.experiments = ws.experiments.map((e) => ({ name: e.name, folderId: e.folderId, configFile: e.configFile, outputs: e.outputs.map((o) => o.alias), language: languageOf(e) === "python" ? "python" : "ts" }));
  } catch (err) {
    if (err instanceof CrystallizeError && err.code === "NO_WORKSPACE") return inv;
    if (err instanceof CrystallizeError || err instanceof AggregateConfigError) inv.unreadable = err;
    else throw err;
  }
  return inv;
}

/** Returns `name` when a new experiment may take it; throws why not. */
export function checkName(name: string, inv: Inventory): string {
  if (name === "") throw new CrystallizeError("USAGE", "the experiment needs a name", { hint: "e.g. `producer`" });
  if (!NAME.test(name)) {
    throw new CrystallizeError("USAGE", `"${name}" cannot be an experiment name`, {
      hint: "use lowercase letters, digits, `_` and `-`, starting with a letter or digit, e.g. `producer`",
    });
  }
  if (name === "node_modules" || /^replicate_\d+$/.test(name)) {
    throw new CrystallizeError("USAGE", `"${name}" is reserved`, { hint: "crystallize skips folders named node_modules and uses replicate_N for its own folders; choose another name" });
  }
  const taken = inv.experiments.find((e) => e.name === name);
  if (taken) throw new CrystallizeError("USAGE", `an experiment named "${name}" already exists: ${taken.configFile}`, { hint: "choose another name" });
  const dir = join(inv.experimentsDir, name);
  if (existsSync(dir) || inv.reserved.has(dir)) throw exists(shown(dir));
  return name;
}

/** The names `--lang` and the prompt accept for each language. */
const LANGUAGE_NAMES: Record<string, Language> = { ts: "ts", typescript: "ts", python: "python", py: "python" };

/** A word naming a language (`py`, `Python`, `ts`), else undefined. */
export function languageNamed(word: string): Language | undefined {
  return LANGUAGE_NAMES[word.toLowerCase()];
}

/** `--lang` text -> a language. */
export function parseLanguage(text: string): Language {
  const language = languageNamed(text);
  if (language) return language;
  const guess = didYouMean(text.toLowerCase(), Object.keys(LANGUAGE_NAMES));
  throw new CrystallizeError("USAGE", `unknown language "${text}"`, {
    hint: guess ? `did you mean \`--lang ${guess}\`?` : "use `--lang ts` (the default) or `--lang python` (same as `--python`)",
  });
}

/** The language that every answer naming one agrees on; undefined when none names one. */
export function agreedLanguage(answers: Array<[where: string, language: Language | undefined]>): Language | undefined {
  const named = answers.filter((a): a is [string, Language] => a[1] !== undefined);
  const other = named.find(([, l]) => l !== named[0][1]);
  if (other) {
    const name = (l: Language) => (l === "python" ? "Python" : "TypeScript");
    throw new CrystallizeError("USAGE", `${named[0][0]} says ${name(named[0][1])} but ${other[0]} says ${name(other[1])}`, {
      hint: "an experiment's modules are all in one language",
    });
  }
  return named[0]?.[1];
}

/**
 * The language a new experiment gets when nothing says which: Python when most of the
 * workspace's experiments are Python. Only the prompt uses it, where the choice is shown;
 * flags keep TypeScript, so a command gives the same files in every workspace.
 */
export function usualLanguage(inv: Inventory): Language {
  const python = inv.experiments.filter((e) => e.language === "python").length;
  return python * 2 > inv.experiments.length ? "python" : "ts";
}

/**
 * `datasources,steps` (names, optionally with an extension) -> roles, in the canonical order.
 * Extensions also say the language (`steps.py`), which must then be the same for every file.
 */
export function parseFiles(text: string): { files: ModuleRole[]; language?: Language } {
  const chosen = new Set<string>();
  const languages: Array<[string, Language]> = [];
  for (const word of text.split(/[\s,]+/).filter(Boolean)) {
    const [, role, ext] = /^(.*?)(?:\.(ts|mts|js|mjs|py))?$/.exec(word)!;
    if (!(MODULE_ROLES as readonly string[]).includes(role)) {
      const guess = didYouMean(role, MODULE_ROLES);
      throw new CrystallizeError("USAGE", `unknown file "${word}"`, { hint: guess ? `did you mean \`${guess}\`?` : `choose from ${MODULE_ROLES.join(", ")}` });
    }
    chosen.add(role);
    if (ext) languages.push([word, ext === "py" ? "python" : "ts"]);
  }
  return { files: MODULE_ROLES.filter((r) => chosen.has(r)), language: agreedLanguage(languages) };
}

/** Checks each `experiment#output` against the workspace and gives it a datasource alias. */
export function resolveUses(refs: string[], inv: Inventory): UpstreamUse[] {
  const uses: UpstreamUse[] = [];
  for (const ref of refs) {
    const [experiment, output, ...rest] = ref.split("#");
    if (!experiment || !output || rest.length > 0) {
      throw new CrystallizeError("USAGE", `--use ${ref}: expected experiment#output`, { hint: "e.g. `--use producer#summary`" });
    }
    if (inv.unreadable) throw inv.unreadable;
    const exp = inv.experiments.find((e) => e.name === experiment) ?? inv.experiments.find((e) => e.folderId === experiment);
    if (!exp) {
      const names = inv.experiments.map((e) => e.name);
      const guess = didYouMean(experiment, names);
      throw new CrystallizeError("USAGE", `--use ${ref}: there is no experiment "${experiment}"`, {
        hint: guess ? `did you mean \`${guess}#${output}\`?` : names.length ? `experiments: ${names.join(", ")}` : "there are no experiments yet: create the one that writes the output first",
      });
    }
    if (!exp.outputs.includes(output)) {
      const guess = didYouMean(output, exp.outputs);
      throw new CrystallizeError("USAGE", `--use ${ref}: experiment ${exp.name} has no output "${output}"`, {
        hint: guess
          ? `did you mean \`${exp.name}#${guess}\`?`
          : exp.outputs.length ? `its outputs: ${exp.outputs.join(", ")}` : `it declares none; add one under \`outputs:\` in ${exp.configFile}`,
      });
    }
    if (uses.some((u) => u.experiment === exp.name && u.output === output)) continue;
    uses.push({ experiment: exp.name, output, alias: uniqueAlias(`${exp.name}_${output}`.replace(/[^A-Za-z0-9_]/g, "_"), uses) });
  }
  return uses;
}

function uniqueAlias(base: string, taken: UpstreamUse[]): string {
  let alias = base;
  for (let i = 2; taken.some((u) => u.alias === alias); i++) alias = `${base}_${i}`;
  return alias;
}

/** A path as the user can type it from where they are. */
export function shown(path: string): string {
  return toPosix(relative(process.cwd(), path)) || ".";
}

