import { MODULE_ROLES, type ModuleRole } from "../config/types.js";
import { CrystallizeError } from "../errors/error.js";
import { agreedLanguage, checkName, DEFAULT_FILES, languageNamed, parseFiles, resolveUses, shown, usualLanguage, type Inventory } from "../scaffold/choices.js";
import { EXTENSION, type Language, type ScaffoldSpec, type UpstreamUse } from "../scaffold/spec.js";
import type { Prompter } from "./prompt.js";

/** What flags already answered; those questions are not asked. */
export interface Given {
  files?: ModuleRole[];
  language?: Language;
  example?: boolean;
  uses?: UpstreamUse[];
}

/**
 * The questions of `crystallize new` in a terminal, in the order of the 0.x create screen:
 * name, files, example code, upstream outputs. Each answer goes through the same checks as the
 * flags, and a bad one is asked again. The language is part of the files question, whose list
 * shows the default's extensions: one more word switches it, so the default costs no keystroke.
 */
export async function askSpec(p: Prompter, inv: Inventory, given: Given): Promise<ScaffoldSpec> {
  p.say(`New experiment in ${shown(inv.experimentsDir)}/ (Ctrl-C to cancel)`);
  const name = await p.ask("Name (lowercase letters, digits, _ and -): ", (answer) => checkName(answer, inv));

  let files = given.files;
  let language = given.language;
  if (files === undefined) {
    const shownLanguage = language ?? usualLanguage(inv);
    p.say("Files: " + MODULE_ROLES.map((r, i) => `${i + 1}) ${r}.${EXTENSION[shownLanguage]}`).join("  "));
    const fallback = DEFAULT_FILES.map((r) => MODULE_ROLES.indexOf(r) + 1).join(",");
    const switchTo = language ? "" : shownLanguage === "ts" ? `; add "py" for Python` : `; add "ts" for TypeScript`;
    ({ files, language } = await p.ask(`Which files? Numbers or names [${fallback}], "none" for config.yaml only${switchTo}: `, (answer) =>
      filesAnswer(answer, language, shownLanguage),
    ));
  }

  const example = given.example ?? (await p.ask("Add runnable example code? [y/N]: ", yesNo));

  let uses = given.uses;
  if (uses === undefined) {
    const candidates = inv.experiments.flatMap((e) => e.outputs.map((o) => `${e.name}#${o}`));
    if (inv.unreadable) {
      p.say("(some experiment configs have errors, so their outputs cannot be listed; `crystallize check` shows them)");
    } else if (candidates.length > 0) {
      p.say("Outputs of other experiments:");
      candidates.forEach((c, i) => p.say(`  ${i + 1}) ${c}`));
      uses = await p.ask("Use which? Numbers, comma-separated [none]: ", (answer) => resolveUses(pick(answer, candidates), inv));
    }
  }
  return { name, language: language ?? "ts", files, example, uses: uses ?? [] };
}

/** `2 outputs`, `1,2 py`, `none`, `steps.py`, or nothing for the defaults. */
function filesAnswer(answer: string, given: Language | undefined, fallback: Language): { files: ModuleRole[]; language: Language } {
  const words = answer.split(/[\s,]+/).filter(Boolean);
  const named = words.filter((w) => languageNamed(w));
  const rest = words.filter((w) => !languageNamed(w)).join(",");
  const parsed: { files: ModuleRole[]; language?: Language } = rest === "" ? { files: DEFAULT_FILES } : rest === "none" ? { files: [] } : parseFiles(rest.replace(/\d+/g, (n) => MODULE_ROLES[Number(n) - 1] ?? n));
  const language = agreedLanguage([
    ["the command line", given],
    ...named.map((w): [string, Language | undefined] => [`"${w}"`, languageNamed(w)]),
    ["a file extension", parsed.language],
  ]);
  return { files: parsed.files, language: language ?? fallback };
}

function yesNo(answer: string): boolean {
  if (/^(y|yes)$/i.test(answer)) return true;
  if (/^(n|no|)$/i.test(answer)) return false;
  throw new CrystallizeError("USAGE", `"${answer}": answer y or n`);
}

function pick(answer: string, candidates: string[]): string[] {
  return answer.split(/[\s,]+/).filter(Boolean).map((word) => {
    const n = Number(word);
    if (!Number.isInteger(n) || n < 1 || n > candidates.length) {
      throw new CrystallizeError("USAGE", `"${word}" is not in the list`, { hint: `pick numbers from 1 to ${candidates.length}` });
    }
    return candidates[n - 1];
  });
}
