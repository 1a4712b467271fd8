// resolveRelative: the one resolver for relative imports, used by the CLI to follow a key's code
// and by a worker that has not loaded tsx (lib/runtime/register.ts). Its order must be that of
// the loaders that would otherwise decide: tsx's from TypeScript, Node's from JavaScript. Tests
// run under tsx (`--import tsx`), so each case is also asked of the real loaders.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRequire } from "node:module";
import { join } from "node:path";
import { resolveRelative } from "../lib/code/resolve.js";
import { makeWorkspace } from "./helpers.js";

const ws = makeWorkspace({
  "both/x.ts": "",
  "both/x.js": "",
  "only-js/y.js": "",
  "only-ts/z.ts": "",
  "tsx/w.tsx": "",
  "dir-ts/index.ts": "",
  "dir-js/index.js": "",
  "data/table.json": "{}",
  "cjs/m.cts": "",
  "cjs/m.cjs": "",
  "from/main.ts": "",
  "from/main.js": "",
});
const fromTs = join(ws, "from/main.ts");
const fromJs = join(ws, "from/main.js");

/** What resolveRelative says, checked against what Node with tsx resolves from the same module. */
function resolved(from: string, specifier: string): string | undefined {
  let loaders: string | undefined;
  try {
    loaders = createRequire(from).resolve(specifier);
  } catch {
    loaders = undefined;
  }
  const ours = resolveRelative(from, specifier);
  assert.is(ours, loaders, `${specifier} from ${from.endsWith(".ts") ? "TypeScript" : "JavaScript"}: as the loaders resolve it`);
  return ours === undefined ? undefined : ours.slice(ws.length + 1);
}

test("from TypeScript, tsx's order: TypeScript first, also for an import written with .js", () => {
  assert.is(resolved(fromTs, "../both/x"), "both/x.ts");
  assert.is(resolved(fromTs, "../both/x.js"), "both/x.ts");
  assert.is(resolved(fromTs, "../only-js/y.js"), "only-js/y.js");
  assert.is(resolved(fromTs, "../only-ts/z.js"), "only-ts/z.ts");
  assert.is(resolved(fromTs, "../tsx/w"), "tsx/w.tsx");
  assert.is(resolved(fromTs, "../cjs/m.cjs"), "cjs/m.cts");
});

test("from JavaScript, Node's order: JavaScript first, TypeScript only after Node's own extensions", () => {
  assert.is(resolved(fromJs, "../both/x"), "both/x.js");
  assert.is(resolved(fromJs, "../both/x.js"), "both/x.js");
  assert.is(resolved(fromJs, "../only-ts/z"), "only-ts/z.ts");
  assert.is(resolved(fromJs, "../only-ts/z.js"), undefined, "no .js to .ts from JavaScript");
});

test("folders resolve to their index, files as written, and nothing to undefined", () => {
  assert.is(resolved(fromTs, "../dir-ts"), "dir-ts/index.ts");
  assert.is(resolved(fromTs, "../dir-js"), "dir-js/index.js");
  assert.is(resolved(fromJs, "../dir-ts"), "dir-ts/index.ts");
  assert.is(resolved(fromTs, "../data/table.json"), "data/table.json");
  assert.is(resolved(fromTs, "./missing"), undefined);
  assert.is(resolved(fromTs, "../data"), undefined, "a folder with no index is no module");
});

test.run();
