#!/usr/bin/env node
// CommonJS (bin/package.json): Node starts a CommonJS entry sooner, and an unchanged `build` or
// `check` is answered from its stamp before any ES module loads (lib/cli/fast.ts).
"use strict";
const { answerFromStamp } = require("../dist/lib/cli/fast.cjs");

const argv = process.argv.slice(2);
const fast = answerFromStamp(argv);
if (fast.exitCode !== undefined) process.exitCode = fast.exitCode;
else import("../dist/lib/cli/crystallize.mjs").then(async ({ run }) => (process.exitCode = await run(argv, fast.context, fast.command)));
