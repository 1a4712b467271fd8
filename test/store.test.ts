// The store's memory of objects it just stored (views are written from it): bounded, and only
// ever the bytes of the object it names.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { digestBytes, initHasher, type Digest } from "../lib/hash/digest.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import { Store } from "../lib/store/store.js";

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
  return { store, ingest };
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

test.run();
