#!/usr/bin/env node
import { main } from "../dist/lib/cli/crystallize.mjs";

process.exitCode = await main(process.argv.slice(2));
