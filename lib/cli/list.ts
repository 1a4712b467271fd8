import { join } from "node:path";
import { openWorkspace } from "../api/open.js";
import { currentVersion, experimentStatuses } from "../api/status.js";
import { listEntry, orderEntries, renderList, type ListDocument } from "../report/list-format.js";
import { makePaint, useColor } from "../report/style.js";
import { EXIT, printJson } from "./commands.js";

/**
 * `crystallize list [--all] [--json]`: every experiment, grouped and ordered by its `cli`
 * settings, with its status. Status comes from config, code and store lookups; no user code runs.
 */
export async function listCommand(flags: { cwd: string; all?: boolean; json?: boolean }): Promise<number> {
  const loaded = await openWorkspace(flags.cwd);
  const { graph } = loaded;
  // Hidden experiments are assessed too: a stale hidden upstream makes its readers blocked.
  const { statuses, lock } = await experimentStatuses(loaded);
  const dataDir = join(loaded.workspace.root, loaded.workspace.settings.data);
  const entries = await Promise.all(
    [...graph.nodes.values()]
      .filter((n) => flags.all || !n.config.cli.hidden)
      .map(async (n) => listEntry(n.config, n.upstream, statuses.get(n.config.name)!.status, (await currentVersion(dataDir, n.config.name, lock))?.version ?? null)),
  );
  if (flags.json) {
    const doc: ListDocument = { command: "list", experiments: orderEntries(entries) };
    printJson(doc);
  } else {
    process.stdout.write(renderList(entries, makePaint(useColor(process.stdout))) + "\n");
  }
  return EXIT.ok;
}
