import { join, relative } from "node:path";
import { openWorkspace } from "../api/open.js";
import { currentVersion, experimentStatuses } from "../api/status.js";
import { CrystallizeError } from "../errors/error.js";
import { reasonJson } from "../report/assessment.js";
import { renderShow, versionDetail, type ShowDocument, type VersionDetail } from "../report/show-format.js";
import { makePaint, useColor } from "../report/style.js";
import { Store } from "../store/store.js";
import { readVersionFolder, versionNumbers } from "../store/version-files.js";
import { toPosix } from "../workspace/workspace.js";
import { EXIT, printJson } from "./commands.js";

/**
 * `crystallize show <exp> [--all-versions] [--json]`: the summary of an experiment's current
 * version (the one crystallize.lock records, else the highest folder). Reads files under
 * data/ and runs no user code. Exit 1 when the experiment has no version yet.
 */
export async function showCommand(experiment: string, flags: { cwd: string; json?: boolean; allVersions?: boolean }): Promise<number> {
  const loaded = await openWorkspace(flags.cwd);
  const name = loaded.graph.resolveTarget(experiment, loaded.from);
  const { statuses, lock, hypotheses } = await experimentStatuses(loaded, [name]);
  const root = loaded.workspace.root;
  const dataDir = join(root, loaded.workspace.settings.data);
  const store = new Store(dataDir, loaded.statCache);
  const current = await currentVersion(dataDir, name, lock);

  const detail = async (version: number): Promise<VersionDetail | undefined> => {
    const folder = await readVersionFolder(store, name, version);
    if (!folder) return undefined;
    const detail = versionDetail(folder, root, current);
    const file = folder.hypotheses;
    if (detail.current && file && "digest" in file && hypotheses.has(name)) detail.hypothesesOutdated = file.digest !== hypotheses.get(name);
    return detail;
  };
  let currentDetail: VersionDetail | null = null;
  if (current) {
    currentDetail = (await detail(current.version)) ?? null;
    if (!currentDetail) {
      const path = toPosix(relative(root, join(dataDir, name, `v${current.version}`)));
      throw new CrystallizeError("NOT_BUILT", `${path} has no readable metadata.json, and the store has no copy of it`, {
        hint: `run \`crystallize build ${name}\` to restore the folder from the store`,
      });
    }
  }
  const cfg = loaded.graph.node(name).config;
  const info = statuses.get(name)!;
  const doc: ShowDocument = {
    command: "show",
    name,
    dir: cfg.dir,
    description: cfg.description ?? null,
    status: info.status,
    reasons: info.reasons.map(reasonJson),
    current: currentDetail,
  };
  if (flags.allVersions) {
    const all = await Promise.all((await versionNumbers(dataDir, name)).map(detail));
    doc.versions = all.filter((v) => v !== undefined);
  }
  if (flags.json) printJson(doc);
  else process.stdout.write(renderShow(doc, makePaint(useColor(process.stdout))) + "\n");
  return currentDetail ? EXIT.ok : EXIT.failed;
}
