#!/usr/bin/env node
import { run } from "../dist/lib/cli/crystallize.mjs";

process.exitCode = await run(process.argv.slice(2));
