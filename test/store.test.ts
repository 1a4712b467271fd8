// The store's memory of objects it just stored (views are written from it): bounded, and only
// ever the bytes of the object it names; objects read-only; files' digests; and what a store
// claimed empty answers from memory.
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { digestBytes, digestFileContent, initHasher, type Digest } from "../lib/hash/digest.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import type { UnitKey } from "../lib/hash/keys.js";
import { Store, type UnitRecord } from "../lib/store/store.js";

async function setup() {
  await initHasher();
  const data = join(mkdtempSync(join(tmpdir(), "crystallize-store-")), "data");
  const staging = join(data, ".tmp");
  mkdirSync(staging, { recursive: true });
  const store = new Store(data, StatCache.load(undefined));
  let n = 0;
  const ingest = async (content: string | Buffer) => {
    const staged = join(staging, `u${n++}.o`);
    writeFileSync(staged, content);
    return (await store.ingest(staged)).digest;
  };
  return { store, ingest, data };
}

function record(key: string, digest: Digest): UnitRecord {
  return { key: key as UnitKey, experiment: "e", condition: "baseline", replicate: 0, seed: 0, outputs: { o: { file: "o.txt", digest, size: 1 } }, metrics: {}, durationMs: 1 };
}

/** What `writeRecord` writes for `key`, put there behind the store's back. */
function plantRecord(data: string, r: UnitRecord): void {
  const dir = join(data, ".store", "units", r.key.slice(0, 2));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.key.slice(2)}.json`), JSON.stringify(r));
}

test("objects just stored are kept with their bytes; past 256 the oldest are dropped", async () => {
  const { store, ingest } = await setup();
  const digests: Digest[] = [];
  for (let i = 0; i < 300; i++) digests.push(await ingest(`output ${i}`));
  for (const [i, digest] of digests.entries()) {
    const kept = store.recentObject(digest);
    if (i < 300 - 256) assert.is(kept, undefined, `object ${i} is dropped`);
    else {
      assert.is(kept?.toString(), `output ${i}`, `object ${i} is kept`);
      assert.equal(kept, readFileSync(store.objectPath(digest)), `object ${i}: the stored file's bytes`);
    }
  }
});

test("objects over 1 MiB are not kept, and no more than 16 MiB in all", async () => {
  const { store, ingest } = await setup();
  const big = await ingest(Buffer.alloc((1 << 20) + 1, 1));
  assert.is(store.recentObject(big), undefined, "over 1 MiB: copied when needed");
  const mib: Digest[] = [];
  for (let i = 0; i < 17; i++) mib.push(await ingest(Buffer.alloc(1 << 20, i + 2)));
  assert.is(store.recentObject(mib[0]), undefined, "the oldest megabyte goes once 17 are stored");
  assert.ok(store.recentObject(mib[16]), "the newest stays");
  assert.is(digestBytes(store.recentObject(mib[16])!), mib[16]);
});

test("a file's digest is its bytes' digest, whether read whole or streamed, with its size and mode", async () => {
  const { data } = await setup();
  for (const [name, bytes] of [["empty", Buffer.alloc(0)], ["small", Buffer.from("hello")], ["large", Buffer.alloc((4 << 20) + 3, 7)]] as const) {
    const path = join(data, name);
    writeFileSync(path, bytes, { mode: 0o640 });
    const got = await digestFileContent(path);
    assert.is(got.digest, digestBytes(bytes), `${name}: digest`);
    assert.is(got.size, bytes.length, `${name}: size`);
    assert.is(got.mode & 0o777, 0o640, `${name}: mode`);
    if (name === "large") assert.is(got.bytes, undefined, "a large file is streamed, not kept");
    else assert.equal(got.bytes, bytes, `${name}: the bytes read`);
  }
  // Not a regular file: its size says nothing, it is read to its end.
  assert.is((await digestFileContent("/dev/null")).digest, digestBytes(Buffer.alloc(0)));
});

test("objects are read-only whatever mode their staged file had", async () => {
  const { store, ingest } = await setup();
  const writable = await ingest("staged 0644, as the Python worker leaves it");
  assert.is(statSync(store.objectPath(writable)).mode & 0o777, 0o444);
  const staged = join(store.dataDir, ".tmp", "readonly.o");
  writeFileSync(staged, "staged 0444, as the Node worker writes it", { mode: 0o444 });
  const readonly = (await store.ingest(staged)).digest;
  assert.is(statSync(store.objectPath(readonly)).mode & 0o777, 0o444);
  assert.is(readFileSync(store.objectPath(readonly), "utf8"), "staged 0444, as the Node worker writes it");
});

test("a store claimed empty finds the records and version indexes it wrote, and answers every other lookup from memory", async () => {
  const { store, ingest, data } = await setup();
  assert.ok(store.claimEmpty(), "nothing stored, no view folder: claimed");
  const digest = await ingest("x");
  await store.writeRecord(record("aa11", digest));
  assert.is((await store.lookup("aa11" as UnitKey))?.key, "aa11", "a record it wrote is found");
  // Only another process could put this here, and none can while the workspace lock is held.
  plantRecord(data, record("bb22", digest));
  assert.is(await store.lookup("bb22" as UnitKey), undefined, "a key it did not write is not looked for");
  assert.ok(store.isNew("e"));
  const index = { results: { r: 0 }, units: { 0: ["aa11" as UnitKey] }, metadata: {} };
  await store.writeVersions("e", index);
  assert.not.ok(store.isNew("e"), "indexed: its folders are looked at");
  assert.equal(await store.readVersions("e"), index);
});

test("a store holding a record, a version index or a view folder is not claimed empty", async () => {
  const withRecord = await setup();
  plantRecord(withRecord.data, record("cc33", await withRecord.ingest("y")));
  assert.not.ok(withRecord.store.claimEmpty());
  assert.is((await withRecord.store.lookup("cc33" as UnitKey))?.key, "cc33", "found on disk");

  const withIndex = await setup();
  mkdirSync(join(withIndex.data, ".store", "versions"), { recursive: true });
  writeFileSync(join(withIndex.data, ".store", "versions", "e.json"), JSON.stringify({ results: {}, units: {}, metadata: {} }));
  assert.not.ok(withIndex.store.claimEmpty());
  assert.not.ok(withIndex.store.isNew("e"));

  // Views left after the store was deleted: new versions are numbered after their folders.
  const withView = await setup();
  mkdirSync(join(withView.data, "e", "v0"), { recursive: true });
  assert.not.ok(withView.store.claimEmpty());
  assert.not.ok(withView.store.isNew("e"));
});

test.run();
