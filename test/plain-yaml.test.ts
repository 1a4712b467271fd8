import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { parsePlainYaml } from "../lib/config/plain-yaml.js";
import { parseConfig } from "../lib/config/load.js";
import { CrystallizeError } from "../lib/errors/error.js";
import { layeredLevels, writeWorkspace } from "../bench/workspace.mjs";
import { REPO } from "./helpers.js";

/** A node as the config validator sees it: kinds, values, and where each starts (and a scalar ends). */
function shape(node: unknown): unknown {
  if (node === null || node === undefined) return null;
  if (isMap(node)) return { map: node.items.map((p) => [shape(p.key), shape(p.value)]), flow: Boolean(node.flow), at: node.range?.[0] };
  if (isSeq(node)) return { seq: node.items.map(shape), flow: Boolean(node.flow), at: node.range?.[0] };
  if (isScalar(node)) {
    const v = node.value;
    const value = typeof v === "number" ? `${typeof v}:${Object.is(v, -0) ? "-0" : String(v)}` : `${typeof v}:${String(v)}`;
    return { value, type: node.type, format: node.format ?? null, source: node.source, range: node.range?.slice(0, 2), json: JSON.stringify(node.toJSON()) };
  }
  if (isPair(node)) return "pair";
  return "unknown";
}

/** Parses `text` both ways; when the plain parser accepts it, the library must accept it and agree node for node. */
function compare(text: string): boolean {
  const plain = parsePlainYaml(text);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (!plain) return false;
  assert.equal(doc.errors.map((e) => e.code), [], `the plain parser accepted what the library rejects:\n${text}`);
  assert.equal(shape(plain.contents), shape(doc.contents), `nodes differ for:\n${text}`);
  assert.equal(plain.lineStarts, lines.lineStarts, `line starts differ for:\n${text}`);
  if (doc.contents) assert.equal(JSON.stringify(doc.toJS()), JSON.stringify((plain.contents as { toJSON(): unknown } | null)?.toJSON?.() ?? null), text);
  return true;
}

function configsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === ".git" || name === "data") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...configsUnder(path));
    else if (name === "config.yaml") out.push(path);
  }
  return out;
}

test("every config in the repository and a benchmark workspace is read by the plain parser, as the library reads it", () => {
  const bench = mkdtempSync(join(tmpdir(), "cz-plain-"));
  writeWorkspace(bench, layeredLevels(60));
  const files = [...configsUnder(join(REPO, "fixtures")), ...configsUnder(bench)];
  assert.ok(files.length > 60, `found ${files.length} configs`);
  for (const file of files) assert.ok(compare(readFileSync(file, "utf8")), `declined ${file}`);
});

test("the YAML examples of the docs: whatever the plain parser accepts, it reads as the library does", () => {
  const docs = [join(REPO, "README.md"), ...readdirSync(join(REPO, "docs")).map((f) => join(REPO, "docs", f))].filter((f) => f.endsWith(".md"));
  let blocks = 0;
  let accepted = 0;
  for (const file of docs) {
    for (const m of readFileSync(file, "utf8").matchAll(/```ya?ml\n([\s\S]*?)```/g)) {
      blocks++;
      if (compare(m[1])) accepted++;
    }
  }
  assert.ok(blocks > 5 && accepted > 0, `${accepted} of ${blocks} blocks accepted`);
});

/** Scalars whose reading the library and YAML 1.2's core schema decide: both parsers must agree on each, or the plain one decline. */
const SCALARS = [
  "1", "-1", "+1", "0", "-0", "007", "0o17", "0o8", "0x1F", "0x", "1.5", "-.5", ".5", "1.", "1e3", "1E-3", "-1.5e+3", ".inf", "-.inf", ".Inf",
  ".nan", ".NaN", "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "yes", "no", "on", "off", "y", "1_000",
  "1:2", "a:b", "http://x.y/z", "a#b", "a #b", "a,b", "a[0]", "e0065#o", "hello world", "-x", "-", "--", "- x", ":x", "?x", "a: b", "a:",
  "'q'", "'it''s'", "''", '""', '"d q"', '"esc\\n"', "'open", '"open', "[a, b]", "{a: b}", "[]", "{}", "[a,b]", "{a:b}", "[a, [b, c]]",
  "{a: [1, 2], b: {c: d}}", "[a, ]", "[, a]", "{a: }", "{a, b}", "[a: b]", "{a: b, a: c}", "&anchor x", "*alias", "!tag x", "!!str 1",
  "|", ">-", "%x", "@x", "`x", "a  b", "x # comment", "2001-12-14", "0b101", "ü", "日本", 'a"b', "a'b", "a\\b", "'a\\b'", "[a] b",
  "{a: b} # c", "[a]#c", "#", "a:#", "a :b", "?", ":", ",", "a, b", "{'k': v}", '{"k": 1}', "[-1, +2, .5]", "[~, null, true]",
];
/** What configs mostly hold, so that most generated files take the plain path. */
const COMMON = ["1", "0.5", "true", "x", "e0001#o", "hello world", "[a, b]", "{a: 1}", "{}", "'q'", '"d q"', "~", "-2"];
const KEYS = ["name", "steps", "a", "b c", "1", "true", "null", '"q"', "'s'", "k-1", "x.y", "-k", "k#1", "a[0]", "?k", "k ", '"a\\"b"', "~"];

/** A deterministic pseudo-random source (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random YAML text in the shapes configs take, with some of what the plain parser must decline. */
function generate(rnd: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const scalar = () => pick(rnd() < 0.6 ? COMMON : SCALARS);
  const key = () => (rnd() < 0.7 ? pick(KEYS.slice(0, 3)) + String(Math.floor(rnd() * 3)) : pick(KEYS));
  const out: string[] = [];
  const comment = () => (rnd() < 0.15 ? "  # note" : "");
  const block = (indent: number, depth: number, first?: string) => {
    const pad = " ".repeat(indent);
    const keys = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < keys; k++) {
      let head = `${k === 0 && first !== undefined ? first : pad}${key()}:`;
      if (rnd() < 0.1) out.push(`${pad}# a comment`);
      if (rnd() < 0.05) out.push("");
      const r = rnd();
      if (depth < 3 && r < 0.25) {
        out.push(head + comment());
        block(indent + pick([2, 2, 4, 1]), depth + 1);
      } else if (depth < 3 && r < 0.4) {
        out.push(head + comment());
        const seqIndent = indent + pick([0, 2, 2, 4]);
        for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++) {
          if (rnd() < 0.3) block(seqIndent + 2, depth + 1, `${" ".repeat(seqIndent)}- `);
          else out.push(`${" ".repeat(seqIndent)}- ${scalar()}${comment()}`);
        }
      } else if (r < 0.45) {
        out.push(head + comment());
      } else {
        head += rnd() < 0.05 ? "   " : " ";
        out.push(head + scalar() + comment());
      }
      if (rnd() < 0.03) out.push(`${pad}   ${scalar()}`);
    }
  };
  block(0, 0);
  return out.join("\n") + (rnd() < 0.8 ? "\n" : "");
}

test("on 3,000 generated files the plain parser reads what it accepts exactly as the library does", () => {
  const rnd = random(20261130);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) if (compare(generate(rnd))) accepted++;
  // The comparison means something only if many files take the plain path.
  assert.ok(accepted > 800, `accepted ${accepted} of 3000`);
  assert.ok(accepted < 2900, `accepted ${accepted} of 3000: the generator no longer makes what must be declined`);
});

test("one-line forms: each scalar alone, in a list and in a mapping", () => {
  let accepted = 0;
  for (const s of SCALARS) {
    for (const text of [`k: ${s}\n`, `k: [${s}]\n`, `k: {a: ${s}}\n`, `- ${s}\n`, `${s}: 1\n`, `k:\n  - ${s}\n`]) if (compare(text)) accepted++;
  }
  assert.ok(accepted > 250, `accepted ${accepted}`);
});

test("what the plain parser declines: the library's forms it does not read", () => {
  for (const text of ["a: &x 1\nb: *x\n", "a: |\n  text\n", "a: hello\n  world\n", "a: [1,\n  2]\n", "--- \na: 1\n", "a:\tb\n", "a: 1\r\n", "a: 1\na: 2\n", "a: \"x\\ty\"\n", "a : 1\n", "? a\n: b\n"]) {
    assert.is(parsePlainYaml(text), undefined, JSON.stringify(text));
  }
});

test("a config error found on the plain path is reported as the library places it", () => {
  const text = "name: e1\nsteps: [ok]\noutputs: {o: {file_name: 3}}\nreplicates: two\n";
  assert.ok(parsePlainYaml(text), "the plain parser reads this file");
  let error: unknown;
  try {
    parseConfig(text, { configFile: "experiments/e1/config.yaml", dir: "experiments/e1", folderId: "e1", modules: {}, inactiveTreatments: [] });
  } catch (err) {
    error = err;
  }
  assert.instance(error, Error);
  const errors = (error as { errors?: CrystallizeError[] }).errors ?? [error as CrystallizeError];
  const where = errors.map((e) => `${e.location?.line}:${e.location?.column}`).sort();
  assert.equal(where, ["3:26", "4:13"]);
});

test.run();
