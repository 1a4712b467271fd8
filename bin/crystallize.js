#!/usr/bin/env node
// CommonJS (bin/package.json): Node starts a CommonJS entry sooner, and an unchanged `build` or
// `check` is answered from its stamp before any ES module loads (lib/cli/fast.ts).
"use strict";
const { answerFromStamp, commandName } = require("../dist/lib/cli/fast.cjs");

const argv = process.argv.slice(2);
const fast = answerFromStamp(argv);
if (fast.exitCode !== undefined) {
  process.exitCode = fast.exitCode;
  // Answered and written: left to end by itself, Node spent ~12 ms more on background heap
  // work and tearing its heap down, ~6% of the answer.
  if (fast.flushed) process.exit();
} else {
  // A build runs most of this process's code once. V8's optimizing compiler spent about a
  // second of CPU in background threads on code that ran too briefly to repay it, taken from
  // the workers on a two-core machine: a cold build of 500 experiments took 2.96 s with it and
  // 2.67 s without. `check` and `status` run alone and are ~4% faster with it, so keep it.
  // User code runs in the workers, which keep it.
  const command = commandName(argv);
  if (command === "build" || command === "verify") require("node:v8").setFlagsFromString("--no-opt");
  // What keeps this process alive before any work: the standard streams (answerFromStamp made them).
  const stdio = process.getActiveResourcesInfo().sort().join();
  import("../dist/lib/cli/crystallize.mjs").then(async ({ run }) => {
    process.exitCode = await run(argv, fast.context, fast.command);
    if (command === "check" || command === "status") exitWhenOnly(stdio);
  });
}

/**
 * Ends the process once its output is written and nothing but the standard streams (`stdio`,
 * as at the start) keeps it alive: when Node would end it too, minus the time Node then spends
 * waiting for V8's background heap work and tearing the heap down (`check` and `status` at 500
 * experiments, 20 interleaved pairs: 616 -> 607 ms and 613 -> 584 ms, faster in 14 of 20 each).
 * Anything else left (a timer, a request, a child or its pipe) and Node ends the process as
 * usual. Not for `build`, where no gain showed.
 */
function exitWhenOnly(stdio) {
  let writing = 2;
  const written = () => {
    if (--writing > 0) return;
    setImmediate(() => {
      if (process.getActiveResourcesInfo().sort().join() === stdio) process.exit();
    });
  };
  process.stdout.write("", written);
  process.stderr.write("", written);
}
