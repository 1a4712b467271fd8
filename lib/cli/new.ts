import { join } from "node:path";
import { CrystallizeError } from "../errors/error.js";
import { agreedLanguage, checkName, DEFAULT_FILES, inventory, parseFiles, parseLanguage, resolveUses, shown, type Inventory } from "../scaffold/choices.js";
import { fileOf, type ScaffoldSpec } from "../scaffold/spec.js";
import { renderScaffold } from "../scaffold/templates.js";
import { writeFolderAtomic } from "../scaffold/write.js";
import { EXIT } from "./commands.js";
import { askSpec } from "./new-prompts.js";
import { canPrompt, openPrompter, PromptCancelled } from "./prompt.js";

export interface NewFlags {
  cwd: string;
  with?: string;
  lang?: string;
  python?: boolean;
  example?: boolean;
  use?: string[];
}

/**
 * `crystallize new [name] [--with ...] [--python | --lang ts|python] [--example] [--use exp#output ...]`:
 * creates an experiment folder. Bare in a terminal it asks for what the flags would say; without
 * a terminal it never waits for input.
 */
export async function newCommand(name: string | undefined, flags: NewFlags): Promise<number> {
  const inv = await inventory(flags.cwd);
  const chosen = flags.with === undefined ? undefined : parseFiles(flags.with);
  const files = chosen?.files;
  const language = agreedLanguage([
    ["--python", flags.python ? "python" : undefined],
    [`--lang ${flags.lang}`, flags.lang === undefined ? undefined : parseLanguage(flags.lang)],
    [`--with ${flags.with}`, chosen?.language],
  ]);
  const uses = flags.use === undefined ? undefined : resolveUses(flags.use.flatMap((u) => u.split(",")).filter(Boolean), inv);
  let spec: ScaffoldSpec;
  // Whether the user picked the language; otherwise the report says how to get Python.
  let picked = language !== undefined;
  if (name !== undefined) {
    spec = { name: checkName(name, inv), language: language ?? "ts", files: files ?? DEFAULT_FILES, example: Boolean(flags.example), uses: uses ?? [] };
  } else if (!canPrompt()) {
    throw new CrystallizeError("USAGE", "missing the experiment name: `crystallize new <name>`", {
      hint: "e.g. `crystallize new producer --with datasources,steps,outputs`; run `crystallize new` alone in a terminal to be asked instead",
    });
  } else {
    const prompter = openPrompter();
    try {
      spec = await askSpec(prompter, inv, { files, language, example: flags.example, uses });
      // Without --with, the language is part of the files question.
      picked ||= files === undefined;
    } catch (err) {
      if (!(err instanceof PromptCancelled)) throw err;
      if (err.how === "interrupt") {
        process.stderr.write("\ncancelled: nothing was created\n");
        return EXIT.interrupted;
      }
      throw new CrystallizeError("USAGE", "input ended before every question was answered; nothing was created", {
        hint: "pass everything as arguments instead: `crystallize new <name> --with steps --use producer#summary`",
      });
    } finally {
      prompter.close();
    }
  }
  const dir = join(inv.experimentsDir, spec.name);
  const rendered = renderScaffold(spec);
  writeFolderAtomic(dir, rendered, shown(dir));
  process.stdout.write(report(inv, spec, dir, rendered.map(([file]) => file), picked));
  return EXIT.ok;
}

function report(inv: Inventory, spec: ScaffoldSpec, dir: string, files: string[], picked: boolean): string {
  const where = shown(dir);
  const lines = [`created ${where}/${inv.fresh ? " (a new workspace: crystallize finds it by its experiments/ folder)" : ""}`];
  for (const f of files) lines.push(`  ${f}`);
  for (const u of spec.uses) lines.push(`reads ${u.experiment}#${u.output} as data${spec.language === "python" ? `["${u.alias}"]` : `.${u.alias}`}`);
  if (!picked && inv.experiments.some((e) => e.language === "python")) {
    lines.push("note: TypeScript modules, the default; this workspace has Python experiments too: add --python for .py modules");
  }
  lines.push("");
  if (spec.example) {
    lines.push("next: build it and see its metrics", `  crystallize build ${spec.name}`);
  } else {
    const steps = `${where}/${fileOf(spec, "steps")}`;
    const code = spec.files.includes("steps") ? `write your steps in ${steps}` : `add ${steps} with your steps`;
    lines.push(`next: ${code} and list them under \`steps:\` in ${where}/config.yaml, then`, `  crystallize build ${spec.name}`);
  }
  return lines.join("\n") + "\n";
}
