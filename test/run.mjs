// Runs every test/**/*.test.ts with uvu (TypeScript through tsx), then prints the plain
// closing line "N passed, N failed" that CI reads. Usage: node test/run.mjs [file-pattern]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const uvuBin = join(dirname(require.resolve("uvu")), "..", "bin.js");
const pattern = process.argv[2] ?? "\\.test\\.ts$";
const child = spawn(process.execPath, ["--import", "tsx", uvuBin, "test", pattern, "--no-color"], {
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, FORCE_COLOR: "0" },
});
let out = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  out += chunk;
});
child.on("exit", (code, signal) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const failed = code === 0 ? total - passed - skipped : Math.max(1, total - passed - skipped);
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  process.exit(signal ? 1 : code ?? 1);
});
