import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { analyzeCompiled, analyzeModule, type ModuleInfo } from "../lib/code/analyze.js";
import { compileModule, workerCode } from "../lib/code/compile.js";
import { initHasher } from "../lib/hash/digest.js";
import { StatCache } from "../lib/hash/stat-cache.js";
import { Compiler } from "../lib/run/compile.js";
import { exists, makeWorkspace } from "./helpers.js";
import { layeredLevels, writeWorkspace } from "../bench/workspace.mjs";
import { REPO } from "./helpers.js";

/** Module sources in the forms TypeScript exports and imports take. */
const FORMS: Record<string, string> = {
  named: 'import { a } from "./a";\nexport const one = 1, two = a;\nexport function f() { return one; }\nexport class C {}\nexport let l = 3;\nexport enum E { X }\nexport async function* gen() {}\n',
  default: 'import def from "./def";\nexport default function () { return def; }\n',
  defaultExpression: "export default 42;\n",
  reexports: 'export { b as renamed } from "./b";\nexport * from "./star";\nexport * as ns from "./ns";\n',
  packageStar: 'export * from "some-package";\nexport const x = 1;\n',
  namespace: 'import * as p from "pkg";\nexport { p };\n',
  sideEffect: 'import "./side";\nconsole.log(1);\n',
  types: "export type T = number;\nexport interface I { a: T }\nexport declare const d: number;\nexport const v: T = 1;\n",
  typeImport: 'import type { T } from "./types";\nimport { type U, w } from "./u";\nexport const z: T | U = w;\n',
  onlyTypes: "export type A = 1;\n",
  empty: "",
  emptyExport: "export {};\n",
  onlyStar: 'export * from "./x";\n',
  exportEquals: "const a = 1;\nexport = a;\n",
  importEquals: 'import x = require("./x");\nexport const y = x;\n',
  commonJs: 'const dep = require("./dep");\nmodule.exports = { a: dep };\n',
  exportsDot: "exports.a = 1;\nexports.b = 2;\n",
  mixed: 'import { a } from "./a";\nexports.z = a;\n',
  stringName: 'const a = 1;\nexport { a as "a-b" };\n',
  stringReexport: 'export { "x-y" as z } from "./m";\n',
  requireInside: 'export function load() { return require("./lazy"); }\n',
  requireInString: 'export const s = "require(\\"./not-a-module\\")";\n',
  steps: 'import { helper } from "../common/helper";\nexport const produce = async (data: any, ctx: any) => {\n  // a comment\n  ctx.outputs.summary.write(JSON.stringify(helper(data)));\n  return data;\n};\nexport const inspect = (d: unknown) => d;\n',
};

function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "data" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFilesUnder(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

test.before(async () => {
  await initHasher();
});

const shapeOf = (info: ModuleInfo) => ({ exports: info.exports, starExports: info.starExports, imports: [...info.imports].sort() });

test("a module analysed from its compilation has the exports and imports its ES module analysis finds", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cz-cjs-"));
  const files = Object.entries(FORMS).map(([name, text]) => {
    const path = join(dir, `${name}.ts`);
    writeFileSync(path, text);
    return path;
  });
  const bench = mkdtempSync(join(tmpdir(), "cz-cjs-bench-"));
  writeWorkspace(bench, layeredLevels(12));
  files.push(...tsFilesUnder(join(REPO, "fixtures")), ...tsFilesUnder(bench));
  assert.ok(files.length > 35, `${files.length} modules`);
  let named = 0;
  for (const file of files) {
    const compiled = await analyzeCompiled(file, file);
    assert.ok(compiled, `compiled here: ${file}`);
    assert.equal(shapeOf(compiled.info), shapeOf(await analyzeModule(file, file)), file);
    if (compiled.info.exports?.length) named++;
  }
  assert.ok(named > 20, `${named} modules with named exports`);
});

test("the compiled digest ignores comments and whitespace, follows the code, and names no path", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cz-cjs-"));
  const digest = async (sub: string, text: string) => {
    mkdirSync(join(dir, sub), { recursive: true });
    const path = join(dir, sub, "steps.ts");
    writeFileSync(path, text);
    return (await analyzeCompiled(path, "steps.ts"))!.info.digest;
  };
  const base = await digest("a", FORMS.steps);
  assert.is(await digest("b", FORMS.steps), base, "the same code at another path");
  assert.is(await digest("c", FORMS.steps.replace("// a comment", "/* another\n   comment */").replace(/\n/g, "\n\n")), base, "comments and blank lines");
  assert.is.not(await digest("d", FORMS.steps.replace("return data;", "return data ?? 0;")), base, "a code edit");
});

test("what a worker runs is what esbuild writes with the banner, footer and inline map, byte for byte", async () => {
  const { transform } = await import("esbuild");
  const files = tsFilesUnder(join(REPO, "fixtures"));
  for (const abs of files) {
    const text = readFileSync(abs, "utf8");
    const direct = await transform(text, {
      target: "node20",
      loader: "ts",
      sourcemap: "inline",
      sourcesContent: false,
      minifyWhitespace: true,
      keepNames: true,
      format: "cjs",
      platform: "node",
      sourcefile: abs,
      banner: `__filename=${JSON.stringify(abs)};(()=>{`,
      footer: "})()",
    });
    assert.is(workerCode(abs, (await compileModule(abs, text))!), direct.code, abs);
  }
});

test("modules that say import( or import.meta are left to tsx and analysed as ES modules", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cz-cjs-"));
  const path = join(dir, "dyn.ts");
  writeFileSync(path, 'export const load = () => import("./plugin");\n');
  assert.is(await analyzeCompiled(path, "dyn.ts"), undefined);
  assert.equal((await analyzeModule(path, "dyn.ts")).imports, ["./plugin"]);
});

test("compiled code is kept across builds while its source is unchanged, and not for a file just written", async () => {
  const ws = makeWorkspace({ "experiments/p/steps.ts": FORMS.steps, "experiments/p/config.yaml": "steps: [produce]\n" });
  const rel = "experiments/p/steps.ts";
  const abs = join(ws, rel);
  const later = () => Date.now() + 10_000;
  const compileOnce = async (root: string, cache: StatCache) => {
    const compiler = new Compiler(root, cache);
    const out = await compiler.compiled([rel]);
    await compiler.flush();
    return out;
  };
  const first = await compileOnce(ws, StatCache.load(undefined, later));
  const keptDir = join(ws, ".crystallize", "compiled");
  const [name] = readdirSync(keptDir);
  const kept = JSON.parse(readFileSync(join(keptDir, name), "utf8"));
  assert.is(kept.path, abs);
  // What a later build runs comes from the kept file, not from esbuild: marked, it shows.
  kept.compiled.code = kept.compiled.code.replace("return data", "return data/*kept*/");
  writeFileSync(join(keptDir, name), JSON.stringify(kept));
  const second = await compileOnce(ws, StatCache.load(undefined, later));
  assert.ok(second[abs].includes("/*kept*/"), "an unchanged module is not compiled again");
  assert.is(second[abs].replace("/*kept*/", ""), first[abs]);
  // An edit changes the source's stat: compiled anew, and kept anew.
  writeFileSync(abs, FORMS.steps.replace("return data;", "return data ?? 1;"));
  const third = await compileOnce(ws, StatCache.load(undefined, later));
  assert.ok(third[abs].includes("data??1") && !third[abs].includes("/*kept*/"), "an edited module is compiled again");
  // A source changed within the racy window is compiled but not kept: its stat may not have ticked.
  const fresh = makeWorkspace({ "experiments/p/steps.ts": FORMS.steps });
  await compileOnce(fresh, StatCache.load(undefined));
  assert.is(exists(join(fresh, ".crystallize", "compiled")), false);
});

test.run();
