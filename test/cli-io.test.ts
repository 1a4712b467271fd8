import { spawn } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BIN, copyFixture, exists, runCli } from "./helpers.js";
import { join } from "node:path";

test("a reader that leaves early does not crash the CLI, and the build still finishes", async () => {
  const ws = copyFixture("tutorial");
  const child = spawn(process.execPath, [BIN, "build", "--json"], { cwd: ws, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  // Like `| head -c0`: the read end is gone before the CLI writes anything.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.is(code, 0, stderr);
  assert.not.match(stderr, /EPIPE|at .*\(node:/, "no stack trace");
  assert.ok(exists(join(ws, "crystallize.lock")), "the build wrote its lock");
  assert.is((await runCli(["check"], ws)).code, 0);
});

test.run();
