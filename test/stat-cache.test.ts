// The stat cache: a changed file is never served from it, whatever its size and mtime say.
import { existsSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StatCache } from "../lib/hash/stat-cache.js";

const cache = suite("stat cache");

/** A workspace-like folder with one file, and a clock an hour ahead: every file looks old. */
function setup() {
  const root = mkdtempSync(join(tmpdir(), "crystallize-statcache-"));
  const file = join(root, "a.txt");
  writeFileSync(file, "one");
  const dir = join(root, ".crystallize", "stat-cache");
  const later = () => Date.now() + 3_600_000;
  let computed = 0;
  const read = (sc: StatCache, kind = "digest") =>
    sc.get(file, kind, async () => {
      computed++;
      return `value of ${statSync(file).size}`;
    });
  return { root, file, dir, later, read, computed: () => computed };
}

cache("an unchanged file is served from the cache in the next process", async () => {
  const t = setup();
  const first = StatCache.load(t.dir, t.later);
  await t.read(first);
  await first.save();
  const second = StatCache.load(t.dir, t.later);
  assert.is(await t.read(second), "value of 3");
  assert.is(t.computed(), 1);
});

cache("same size and mtime but new content: recomputed (ctime and inode count too)", async () => {
  const t = setup();
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(t.file, old, old);
  const first = StatCache.load(t.dir, t.later);
  await t.read(first);
  await first.save();
  writeFileSync(t.file, "two");
  utimesSync(t.file, old, old);
  const second = StatCache.load(t.dir, t.later);
  await t.read(second);
  assert.is(t.computed(), 2);
});

cache("a file changed within the racy window is not remembered", async () => {
  const t = setup();
  // The real clock: the file was written just now, so its mtime may not have ticked yet.
  const first = StatCache.load(t.dir);
  await t.read(first);
  await first.save();
  const second = StatCache.load(t.dir, t.later);
  await t.read(second);
  assert.is(t.computed(), 2);
});

cache("a racy file not in the cache does not make its kind rewritten", async () => {
  const t = setup();
  const first = StatCache.load(t.dir, t.later);
  writeFileSync(join(t.root, "b.txt"), "b");
  await first.get(join(t.root, "b.txt"), "digest", async () => "b");
  await first.save();
  const before = statSync(join(t.dir, "digest.json")).ino;
  const second = StatCache.load(t.dir);
  await t.read(second);
  await second.save();
  assert.is(statSync(join(t.dir, "digest.json")).ino, before);
});

cache("a file whose mtime was set back is racy by its ctime", async () => {
  const t = setup();
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(t.file, old, old);
  const first = StatCache.load(t.dir);
  await t.read(first);
  await first.save();
  const second = StatCache.load(t.dir, t.later);
  await t.read(second);
  assert.is(t.computed(), 2);
});

cache("kinds are separate: one kind's entry never answers another", async () => {
  const t = setup();
  const sc = StatCache.load(t.dir, t.later);
  await t.read(sc, "digest");
  await t.read(sc, "module");
  assert.is(t.computed(), 2);
  await sc.save();
  assert.equal(readdirSync(t.dir).sort(), ["digest.json", "module.json"]);
});

cache("only changed kinds are rewritten; a run that changed nothing writes nothing", async () => {
  const t = setup();
  const first = StatCache.load(t.dir, t.later);
  await t.read(first, "digest");
  await t.read(first, "module");
  await first.save();
  const before = statSync(join(t.dir, "digest.json")).ino;
  const second = StatCache.load(t.dir, t.later);
  await t.read(second, "digest");
  await second.save();
  assert.is(statSync(join(t.dir, "digest.json")).ino, before);
  const third = StatCache.load(t.dir, t.later);
  writeFileSync(join(t.root, "b.txt"), "b");
  await third.get(join(t.root, "b.txt"), "module", async () => "b");
  await third.save();
  assert.is(statSync(join(t.dir, "digest.json")).ino, before);
});

cache("a corrupt cache file is an empty cache; the old single-file cache is removed", async () => {
  const t = setup();
  const first = StatCache.load(t.dir, t.later);
  await t.read(first);
  await first.save();
  writeFileSync(join(t.dir, "digest.json"), "{not json");
  writeFileSync(join(t.root, ".crystallize", "stat-cache.json"), "{}");
  const second = StatCache.load(t.dir, t.later);
  await t.read(second);
  assert.is(t.computed(), 2);
  await second.save();
  assert.not.ok(existsSync(join(t.root, ".crystallize", "stat-cache.json")));
});

cache.run();
