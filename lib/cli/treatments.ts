import { join } from "node:path";
import { openWorkspace } from "../api/open.js";
import { BASELINE } from "../config/types.js";
import { CrystallizeError, didYouMean } from "../errors/error.js";
import { writeFileAtomic } from "../store/atomic.js";
import { EXIT } from "./commands.js";

/**
 * `crystallize treatments <exp> [--enable NAME] [--disable NAME]`: lists an experiment's
 * treatments with their state and edits `config.state.json` (the 0.x format,
 * `{"inactive_treatments": [...]}`, sorted), never `config.yaml`.
 */
export async function treatmentsCommand(experiment: string, flags: { cwd: string; enable?: string[]; disable?: string[] }): Promise<number> {
  const { workspace, graph, from } = await openWorkspace(flags.cwd, { analyze: false });
  const name = graph.resolveTarget(experiment, from);
  const cfg = graph.node(name).config;
  const declared = cfg.treatments.map((t) => t.name).filter((t) => t !== BASELINE);
  const inactive = new Set(cfg.inactiveTreatments);
  for (const t of [...(flags.enable ?? []), ...(flags.disable ?? [])]) {
    if (!declared.includes(t)) {
      const guess = didYouMean(t, declared);
      throw new CrystallizeError("USAGE", `${name} has no treatment "${t}"`, { hint: guess ? `did you mean \`${guess}\`?` : `its treatments: ${declared.join(", ") || "none"}` });
    }
  }
  for (const t of flags.enable ?? []) inactive.delete(t);
  for (const t of flags.disable ?? []) inactive.add(t);
  if (flags.enable?.length || flags.disable?.length) {
    const file = join(workspace.root, cfg.dir, "config.state.json");
    await writeFileAtomic(file, JSON.stringify({ inactive_treatments: [...inactive].sort() }) + "\n");
  }
  const lines = declared.map((t) => `${inactive.has(t) ? "inactive" : "active  "}  ${t}`);
  process.stdout.write((lines.length ? lines.join("\n") : `${name} declares no treatments`) + "\n");
  return EXIT.ok;
}
