// Times writing and reading a 500-entry crystallize.lock: the `yaml` package against our fast
// path (lib/lock/yaml-emit.ts, yaml-read.ts). Run after `npm run build`:
//   node bench/lock.mjs [entries]
// "warm" is the median of repeated calls in one process; "cold" the median over fresh processes
// of a single first call, as a CLI command makes it (module loading excluded).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { fastLockData, fastLockText, parseLock, serializeLock } from "../dist/lib/lock/lockfile.js";
import { seededRandom } from "../dist/lib/runtime/random.js";

const ENTRIES = Number(process.argv[2] ?? 500);
const WARM_RUNS = 15;
const COLD_RUNS = 7;
const YAML_OPTIONS = { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false };

/** Entries shaped like those of bench/workspace.mjs's layered graph, with random digests. */
function syntheticLock(n) {
  const random = seededRandom(1);
  const digest = () => Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(random() * 16)]).join("");
  const names = Array.from({ length: n }, (_, i) => `e${String(i).padStart(4, "0")}`);
  const experiments = {};
  names.forEach((name, i) => {
    const level = Math.floor((i * 10) / n);
    const above = names.filter((_, j) => Math.floor((j * 10) / n) === level - 1);
    const ups = level ? [...new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => above[Math.floor(random() * above.length)]))] : [];
    experiments[name] = {
      key: digest(),
      version: Math.floor(random() * 3),
      params: {
        datasource: ups.length ? Object.fromEntries(ups.map((u) => [u, `${u}#o`])) : null,
        steps: [{ name: "work", kwargs: {} }],
        outputs: { o: { file_name: "o.txt", writer: null, loader: null } },
        replicates: 1,
        seed: 0,
        treatments: {},
        inputs: [],
        env: [],
      },
      code: { [`experiments/${name}/steps.ts`]: digest() },
      packages: {},
      inputs: {},
      env: {},
      runtime: "node20 module tsconfig:3b70da417043",
      upstream: Object.fromEntries(ups.map((u) => [`${u}#o`, { "baseline/replicate_0": digest() }])),
      outputs: { "baseline/replicate_0/o.txt": digest() },
    };
  });
  return { version: 1, experiments };
}

const ops = {
  "yaml.stringify": (lock) => stringify(lock, YAML_OPTIONS),
  "fast emit": (lock) => fastLockText(lock),
  "yaml.parse": (_, text) => parse(text),
  "fast parse": (_, text) => fastLockData(text),
  parseLock: (_, text) => parseLock(text),
};

const lock = syntheticLock(ENTRIES);

// A child process: one call of one operation on the text in a file, its time on stdout. It
// runs nothing else first, so neither yaml's code nor ours has been optimised yet.
const [, , , only, onlyFile] = process.argv;
if (only) {
  const text = readFileSync(onlyFile, "utf8");
  const t = performance.now();
  await ops[only](lock, text);
  console.log(performance.now() - t);
  process.exit(0);
}

const text = await serializeLock(lock);
if (fastLockText(lock) !== text || fastLockData(text) === undefined) throw new Error("the fast path declined the benchmark lock");
if (text.slice(text.indexOf("\nexperiments:") + 1) !== stringify(lock, YAML_OPTIONS)) throw new Error("the fast writer differs from yaml");
const textFile = join(mkdtempSync(join(tmpdir(), "cz-lock-bench-")), "crystallize.lock");
writeFileSync(textFile, text);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function warm(op) {
  const times = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const t = performance.now();
    await op(lock, text);
    times.push(performance.now() - t);
  }
  return median(times);
}
function cold(name) {
  const self = fileURLToPath(import.meta.url);
  const times = Array.from({ length: COLD_RUNS }, () => Number(spawnSync(process.execPath, [self, String(ENTRIES), name, textFile], { encoding: "utf8" }).stdout));
  return median(times);
}

// Timings on a busy machine mean little: the load average says how busy it was.
console.log(`${ENTRIES} entries, ${text.split("\n").length} lines, ${(text.length / 1024).toFixed(0)} KiB; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`);
console.log(`${"".padEnd(16)} ${"cold".padStart(9)} ${"warm".padStart(9)}`);
const results = {};
for (const name of Object.keys(ops)) {
  results[name] = { cold: cold(name), warm: await warm(ops[name]) };
  console.log(`${name.padEnd(16)} ${results[name].cold.toFixed(1).padStart(6)} ms ${results[name].warm.toFixed(1).padStart(6)} ms`);
}
const ratio = (a, b, k) => (results[a][k] / results[b][k]).toFixed(1);
console.log(`emit:  ${ratio("yaml.stringify", "fast emit", "cold")}x faster cold, ${ratio("yaml.stringify", "fast emit", "warm")}x warm`);
console.log(`parse: ${ratio("yaml.parse", "fast parse", "cold")}x faster cold, ${ratio("yaml.parse", "fast parse", "warm")}x warm`);
rmSync(dirname(textFile), { recursive: true, force: true });
