// Bundles the CLI and its pure-JS dependencies: one entry file plus chunks that load only when
// needed. Resolving and loading ~150 separate modules cost more than a no-op build's own work.
// The public API and the type declarations stay as tsc emits them; the Node worker is bundled
// on its own (below).
import { cpSync, readdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry content hashes: drop the previous bundle (tsc emits only .js here).
for (const f of readdirSync("dist/lib/cli")) if (f.endsWith(".mjs")) rmSync(`dist/lib/cli/${f}`);

await build({
  entryPoints: { crystallize: "dist/lib/cli/entry.js" },
  outdir: "dist/lib/cli",
  outExtension: { ".js": ".mjs" },
  // Modules only imported dynamically (the YAML parser, fast-glob, chokidar) go to chunks that
  // load only when needed: a no-op build never parses them. Chunks sit beside the entry so
  // that paths relative to import.meta.url mean the same in both.
  splitting: true,
  chunkNames: "[name]-[hash]",
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

// The stamp check the bin runs first, as one CommonJS file: Node loads that sooner than ES
// modules, and it must load nothing it does not use (lib/cli/fast.ts).
await build({
  entryPoints: ["dist/lib/cli/fast.js"],
  outfile: "dist/lib/cli/fast.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
});

// The Node worker, as one file: a worker loading eight modules and their source maps took
// 211-218 ms to be ready, this bundle 183-189 ms. No source map: with --enable-source-maps
// (the workers' flag, for user code's stacks) Node parses it at every start (+13 ms), and the
// worker's own frames are dropped from the stacks users see. The `crystallize` API stays
// outside (api.js), one module for the worker and user code alike; so do the ES module hooks
// (hooks.js), which Node loads by URL in their own thread, and tsx and esbuild.
await build({
  entryPoints: ["dist/lib/runtime/worker.js"],
  outfile: "dist/lib/runtime/worker-bundle.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["esbuild", "tsx", "tsx/*", "./api.js"],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning",
});

// The Python worker and the `crystallize` module Python experiments import are plain files.
rmSync("dist/lib/runtime/python", { recursive: true, force: true });
cpSync("lib/runtime/python", "dist/lib/runtime/python", { recursive: true, filter: (src) => !src.includes("__pycache__") });

// The API as CommonJS, for user code that requires "crystallize": Node loads it as it is, where
// api.js, an ES module, needs tsx to compile it, and a worker loads tsx only when user code
// needs it (lib/runtime/register.ts).
await build({
  entryPoints: ["dist/lib/runtime/api.js"],
  outfile: "dist/lib/runtime/api.cjs",
  format: "cjs",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
