// Bundles the CLI and its pure-JS dependencies into one file. Resolving and loading ~150
// separate modules cost more than all of a no-op build's own work; one file loads in a blink.
// The worker runtime, the public API and the type declarations stay as tsc emits them.
import { build } from "esbuild";

await build({
  entryPoints: ["dist/lib/cli/main.js"],
  outfile: "dist/lib/cli/crystallize.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // esbuild ships a native binary; tsx is located at run time for the worker processes.
  external: ["esbuild", "tsx"],
  // Bundled CommonJS dependencies (fast-glob) call require for Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning",
});
