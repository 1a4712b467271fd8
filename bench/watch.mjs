// Watch latency: time from a file edit to the rebuild starting (the `change` line, printed
// after the debounce, before planning), and to the rebuild finishing. Median of 7 edits.
//   node bench/watch.mjs
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { writeWorkspace } from "./workspace.mjs";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "crystallize.js");
const ws = mkdtempSync(join(tmpdir(), "cz-watch-bench-"));
writeWorkspace(ws, [["a", "b"], ["c"]]);
const child = spawn(process.execPath, [BIN, "watch"], { cwd: ws, env: { ...process.env, CI: "true" }, stdio: ["ignore", "ignore", "pipe"] });
let err = "";
const waiters = [];
child.stderr.on("data", (d) => {
  err += d;
  for (const w of [...waiters]) if (w.test()) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
});
const until = (test) => new Promise((resolve) => (test() ? resolve() : waiters.push({ test, resolve })));
const count = (re) => (err.match(re) ?? []).length;

await until(() => count(/watching for changes/g) >= 1);
const started = [];
const finished = [];
for (let i = 0; i < 7; i++) {
  await new Promise((r) => setTimeout(r, 600));
  const changes = count(/^(?:\d\d:\d\d:\d\d )?change /gm);
  const cycles = count(/watching for changes/g);
  const t0 = performance.now();
  appendFileSync(join(ws, "experiments/c/steps.ts"), `export const edit${i} = ${i};\n`);
  await until(() => count(/^(?:\d\d:\d\d:\d\d )?change /gm) > changes);
  started.push(performance.now() - t0);
  await until(() => count(/watching for changes/g) > cycles);
  finished.push(performance.now() - t0);
}
child.kill("SIGINT");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`watch: edit -> rebuild started   ${Math.round(median(started))} ms (median of ${started.length}; target <= 300 ms; debounce 80 ms)`);
console.log(`watch: edit -> rebuild finished  ${Math.round(median(finished))} ms (one experiment rerun, including its worker start-up)`);
