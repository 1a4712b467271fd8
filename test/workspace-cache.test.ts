// Loading a workspace through the stat cache: folder listings and parsed configs remembered
// from an earlier run never hide an added, removed or edited experiment.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RuntimeProbe } from "../lib/hash/facts.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import { loadWorkspace } from "../lib/workspace/workspace.js";

const ws = suite("workspace through the stat cache");

/** Every file looks old to this clock, so everything is remembered (no racy window). */
const later = () => Date.now() + 3_600_000;

function experiment(root: string, name: string, config = "steps: [s]\n") {
  mkdirSync(join(root, "experiments", name), { recursive: true });
  writeFileSync(join(root, "experiments", name, "config.yaml"), config);
  writeFileSync(join(root, "experiments", name, "steps.ts"), "export const s = (d: unknown) => d;\n");
}

/** Loads the workspace in a fresh "process": a new cache object over the same folder. */
async function load(root: string) {
  const sc = StatCache.load(join(root, ".crystallize", "stat-cache"), later);
  const w = await loadWorkspace(root, sc);
  await sc.save();
  return w.experiments;
}

ws("added, removed and nested experiments and new modules are seen", async () => {
  const root = mkdtempSync(join(tmpdir(), "crystallize-wscache-"));
  experiment(root, "a");
  assert.equal((await load(root)).map((e) => e.name), ["a"]);
  assert.equal((await load(root)).map((e) => e.name), ["a"], "served from the cache");
  experiment(root, "b");
  assert.equal((await load(root)).map((e) => e.name), ["a", "b"]);
  experiment(root, "group/c");
  assert.equal((await load(root)).map((e) => e.name), ["a", "b", "c"]);
  writeFileSync(join(root, "experiments", "a", "datasources.ts"), "export const d = () => 1;\n");
  assert.is((await load(root)).find((e) => e.name === "a")!.modules.datasources, "experiments/a/datasources.ts");
  rmSync(join(root, "experiments", "b"), { recursive: true });
  assert.equal((await load(root)).map((e) => e.name), ["a", "c"]);
  rmSync(join(root, "experiments", "group", "c", "config.yaml"));
  assert.equal((await load(root)).map((e) => e.name), ["a"]);
});

ws("an edited config is parsed again", async () => {
  const root = mkdtempSync(join(tmpdir(), "crystallize-wscache-"));
  experiment(root, "a", "replicates: 2\nsteps: [s]\n");
  assert.is((await load(root))[0].replicates, 2);
  writeFileSync(join(root, "experiments", "a", "config.yaml"), "replicates: 3\nsteps: [s]\n");
  assert.is((await load(root))[0].replicates, 3);
});

ws("a package.json in an experiment folder, as a file or a link, is seen through the listing", async () => {
  const root = mkdtempSync(join(tmpdir(), "crystallize-wscache-"));
  experiment(root, "a");
  const pkg = join(root, "experiments", "a", "package.json");
  const moduleSystem = async () => {
    const [a] = await load(root);
    return new RuntimeProbe(root).of(a.dir, a.packageJson).split(" ")[1];
  };
  assert.is(await moduleSystem(), "commonjs");
  assert.is((await load(root))[0].packageJson, false, "the listing shows none: nothing to look for");
  writeFileSync(pkg, JSON.stringify({ type: "module" }));
  assert.is(await moduleSystem(), "module");
  rmSync(pkg);
  writeFileSync(join(root, "shared.json"), JSON.stringify({ type: "module" }));
  symlinkSync(join(root, "shared.json"), pkg);
  assert.is(await moduleSystem(), "module", "a symbolic link counts");

  // A listing remembered by an earlier version kept no links: the folder is listed again.
  const cache = join(root, ".crystallize", "stat-cache", "listing.json");
  writeFileSync(cache, readFileSync(cache, "utf8").replaceAll(/,"others":\[[^\]]*\]/g, ""));
  assert.not.match(readFileSync(cache, "utf8"), "others");
  assert.is(await moduleSystem(), "module");
  assert.match(readFileSync(cache, "utf8"), `"others":["package.json"]`);
});

ws.run();
