// Unit tests of the static Python reader (lib/code/python.ts) and of import resolution: what
// enters a Python module's key (comments out, strings byte for byte), what it imports, what it
// defines at top level.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { analyzeModule } from "../lib/code/analyze.js";
import { resolvePythonImport } from "../lib/code/modules.js";
import { pythonImports, pythonTopLevel, scanPython } from "../lib/code/python.js";
import { initHasher } from "../lib/hash/digest.js";
import { writeFiles } from "./helpers.js";

const norm = (src: string) => scanPython(src).normalized;
const skel = (src: string) => scanPython(src).skeleton;
const imports = (src: string) => pythonImports(skel(src)).sort();
const top = (src: string) => pythonTopLevel(skel(src));

// ---------------------------------------------------------------------------------------------
const scan = suite("scanPython");

scan("comments, blank lines and trailing spaces go; code and indentation stay", () => {
  assert.is(norm("# header\n\nimport os  # why\n\ndef f(x):   \n    # inside\n    return x\n"), "import os\ndef f(x):\n    return x\n");
});

scan("a # inside a string is not a comment, in every string form", () => {
  const cases = [
    'x = "a # b"',
    "x = 'a # b'",
    'x = rb"#"',
    "x = Rb'#'",
    'x = u"#"',
    'x = BR"#"',
    'x = f"{y}#"',
    'x = F"#{y}"',
    'x = b"\\x23#"',
  ];
  for (const c of cases) assert.is(norm(`${c}  # comment\n`), `${c}\n`, c);
});

scan("triple-quoted strings keep their #, blank lines and quotes; the comment after them goes", () => {
  const src = 'doc = """first # not a comment\n\n  \'quoted\' "q" \n\n"""  # a comment\ny = 1\n';
  assert.is(norm(src), 'doc = """first # not a comment\n\n  \'quoted\' "q" \n\n"""\ny = 1\n');
  assert.is(norm("s = '''a'b\"c # x''' # c\n"), "s = '''a'b\"c # x'''\n");
  assert.is(norm('s = """a\\"""#"""  # c\n'), 's = """a\\"""#"""\n', "an escaped quote does not close it");
});

scan("f-strings: nested quotes of the same kind (3.12), {{ }}, format specs, nested fields", () => {
  assert.is(norm('v = f"{d["k"]}"  # c\n'), 'v = f"{d["k"]}"\n');
  assert.is(norm("v = f'{d['k'] + \"#\"}' # c\n"), "v = f'{d['k'] + \"#\"}'\n");
  assert.is(norm('w = f"{{not a field}} # kept"  # c\n'), 'w = f"{{not a field}} # kept"\n');
  assert.is(norm('x = f"{a!r:>{width}} # in" # out\n'), 'x = f"{a!r:>{width}} # in"\n');
  assert.is(norm('x = f"{n:#x}" # c\n'), 'x = f"{n:#x}"\n', "# in a format spec");
  assert.is(norm("x = f\"{(lambda: '#')()}\" # c\n"), "x = f\"{(lambda: '#')()}\"\n");
  assert.is(norm('x = f"{ {"a": 1}["a"] } #" # c\n'), 'x = f"{ {"a": 1}["a"] } #"\n');
  assert.is(norm('x = f"""{a}\n# inside\n\n{b}""" # c\n'), 'x = f"""{a}\n# inside\n\n{b}"""\n');
});

scan("a quote in an f-string's format spec does not open a string", () => {
  // The fill character of `:'^10` is a quote: treating it as a string would swallow the file.
  const src = 'a = f"{x:\'^10}" # c\ny = "#keep"\nimport helpers  # drop\n';
  assert.is(norm(src), 'a = f"{x:\'^10}"\ny = "#keep"\nimport helpers\n');
  assert.equal(imports(src), ["helpers"]);
});

scan("raw strings: a backslash-quote does not end them; a trailing double backslash does", () => {
  assert.is(norm('r = r"\\"#"  # c\nz = 2\n'), 'r = r"\\"#"\nz = 2\n');
  assert.is(norm('r = r"a\\\\" # c\nz = 2\n'), 'r = r"a\\\\"\nz = 2\n');
  assert.is(norm("r = fr'{x}\\'#' # c\n"), "r = fr'{x}\\'#'\n");
});

scan("the skeleton empties string contents, so nothing in a string reads as a statement", () => {
  const src = 's = "import fake"\nt = """\nfrom fake2 import y\n"""\nimport real\n';
  assert.is(skel(src), 's = ""\nt = """"""\nimport real\n');
  assert.equal(imports(src), ["real"]);
});

scan("line continuations and CRLF", () => {
  assert.is(norm("x = 1 + \\\n  2  # c\n"), "x = 1 + \\\n  2\n");
  assert.is(norm('x = 1  # c\r\ny = "#"\r\n'), 'x = 1\ny = "#"\n');
});

scan("editing a comment keeps the module digest; editing a # inside a string changes it", async () => {
  await initHasher();
  const digest = async (src: string) => (await analyzeModule("/x/steps.py", "steps.py", src)).digest;
  const base = await digest('def s(data):\n    label = "a # b"  # note\n    return data\n');
  assert.is(await digest('# new header\ndef s(data):\n\n    label = "a # b"  # another note\n    return data\n'), base);
  assert.is.not(await digest('def s(data):\n    label = "a # c"  # note\n    return data\n'), base);
  assert.is.not(await digest('def s(data):\n    label = "a # b"  # note\n    return None\n'), base);
});

// ---------------------------------------------------------------------------------------------
const imp = suite("pythonImports");

imp("import forms: plain, dotted, aliased, several on a line, after ';', indented", () => {
  const src = "import os, sys as system\nimport a.b.c as abc\nimport json; import helpers\nif True:\n    import nested\ndef f():\n    import lazy\n";
  assert.equal(imports(src), ["a.b.c", "helpers", "json", "lazy", "nested", "os", "sys"]);
});

imp("from-imports: parenthesised over lines, aliases, comments inside, star", () => {
  const src = "from x import (a,\n  b as c)\nfrom typing import (\n    Any,  # comment\n    Dict,\n)\nfrom star import *\n";
  assert.equal(imports(src), ["star", "typing", "typing.Any?", "typing.Dict?", "x", "x.a?", "x.b?"]);
});

imp("relative imports keep their dots; a name from a package may be a module", () => {
  const src = "from . import sib\nfrom .pkg import mod\nfrom ..up.mod import thing\nfrom .. import other\n";
  assert.equal(imports(src), ["..other", "..up.mod", "..up.mod.thing?", ".pkg", ".pkg.mod?", ".sib"]);
});

// ---------------------------------------------------------------------------------------------
const names = suite("pythonTopLevel");

names("defs, async defs, classes, assignments with and without annotations, tuples", () => {
  const r = top("def step(data): pass\nasync def later(data): pass\nclass K(Base): pass\nx: int = 1\ny, z = 1, 2\n(a, b) = 3, 4\nd: dict[str, int] = {}\n");
  assert.equal(r.names!.sort(), ["K", "a", "b", "d", "later", "step", "x", "y", "z"]);
});

names("not bindings: a bare annotation, a comparison, indented code, string contents", () => {
  const r = top('w: list[int]\nv == 1\ndef f():\n    inner = 1\ns = "fake = 1"\n');
  assert.equal(r.names!.sort(), ["f", "s"]);
});

names("imports bind their alias or top package; multi-line from-imports bind every name", () => {
  const r = top("import u.v, t as tt\nfrom m import (p,\n  q as r)\nfrom n import s as ss, k\n");
  assert.equal(r.names!.sort(), ["k", "p", "r", "ss", "tt", "u"]);
});

names("statements after ';' at top level", () => {
  assert.equal(top("import json; x = 1\n").names!.sort(), ["json", "x"]);
});

names("from x import * makes the names unknowable (null)", () => {
  assert.is(top("from x import *\ndef f(): pass\n").names, null);
});

names("sources: the @data_source functions (any spelling of the decorator) when there are any", () => {
  const r = top("@data_source\ndef a(ctx): pass\n@crystallize.data_source\nasync def b(ctx): pass\n@data_source(\n    name='x',\n)\ndef c(ctx): pass\n@pipeline_step()\ndef d(data): pass\ndef helper(): pass\n");
  assert.equal(r.sources, ["a", "b", "c"]);
});

names("sources: every top-level function when none is decorated; a decorator spanning lines still applies", () => {
  assert.equal(top("def one(ctx): pass\ndef two(ctx): pass\nclass C: pass\n").sources, ["one", "two"]);
  assert.equal(top("@decorator(\n    arg=1,\n)\ndef decorated(): pass\n").names, ["decorated"]);
});

// ---------------------------------------------------------------------------------------------
const resolve = suite("resolvePythonImport");

resolve("local modules, packages and relative imports resolve to files; the rest are packages", () => {
  const root = mkdtempSync(join(tmpdir(), "cz-pyres-"));
  writeFiles(root, {
    "experiments/e/steps.py": "",
    "experiments/e/helpers.py": "",
    "experiments/e/pkg/__init__.py": "",
    "experiments/e/pkg/mod.py": "",
  });
  const from = "experiments/e/steps.py";
  const dirs = ["experiments/e"];
  assert.equal(resolvePythonImport(root, from, "helpers", dirs), { file: "experiments/e/helpers.py" });
  assert.equal(resolvePythonImport(root, from, "pkg", dirs), { file: "experiments/e/pkg/__init__.py" });
  assert.equal(resolvePythonImport(root, from, "pkg.mod?", dirs), { file: "experiments/e/pkg/mod.py" });
  assert.equal(resolvePythonImport(root, from, ".pkg.mod?", dirs), { file: "experiments/e/pkg/mod.py" });
  assert.equal(resolvePythonImport(root, "experiments/e/pkg/mod.py", "..helpers", dirs), { file: "experiments/e/helpers.py" });
  assert.equal(resolvePythonImport(root, from, "pkg.not_a_module?", dirs), {}, "a name inside pkg, not a file");
  assert.equal(resolvePythonImport(root, from, "numpy", dirs), { package: "numpy" });
  assert.equal(resolvePythonImport(root, from, "crystallize", dirs), {}, "provided by the CLI");
  assert.equal(resolvePythonImport(root, from, ".gone", dirs), { missing: true });
});

scan.run();
imp.run();
names.run();
resolve.run();
