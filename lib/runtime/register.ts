/**
 * The module loaders of a worker process. User code imports `"crystallize"`, which must resolve
 * to this installation's API wherever the tool is installed (globally, via npx, or in a
 * workspace without node_modules), and it may be TypeScript, which Node 20 cannot load alone.
 *
 * CommonJS loading is set up at start. ES module loading is set up only when first needed:
 * its hooks run in a thread of their own, whose start and tsx's ES module hooks cost a worker
 * about 250 ms of CPU, more than the rest of its start-up. Most workspaces are CommonJS to
 * Node (no `"type": "module"`) and never need it.
 */
import { existsSync, realpathSync } from "node:fs";
import Module, { createRequire, isBuiltin, register } from "node:module";
import { extname, isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { resolveRelative } from "../code/resolve.js";
import type { FlushRequest, HookReport } from "./hooks.js";

const requireHere = createRequire(import.meta.url);
const apiUrl = new URL("./api.js", import.meta.url);

type ResolveFilename = (request: string, ...rest: unknown[]) => string;
type Compile = (content: string, filename: string) => unknown;
type Load = (module: { _compile: Compile }, filename: string) => unknown;
const internals = Module as unknown as { _resolveFilename: ResolveFilename; _extensions: Record<string, Load>; prototype: { _compile: Compile } };

/** CommonJS the CLI compiled for TypeScript modules, by absolute path (see lib/run/compile.ts). */
const compiled = new Map<string, string>();

/** Code the CLI compiled, for modules this worker may require later. */
export function addCompiled(code: Record<string, string>): void {
  for (const [path, text] of Object.entries(code)) compiled.set(path, text);
}

let esmReady = false;

/**
 * `import()` in CommonJS code goes through the ES module loader. Code that may call it (the
 * text says `import(`, comments and strings included: a needless start costs time, a missed
 * one a failed import) gets the ES module hooks before it runs.
 */
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** Files this worker ran as the CLI compiled them: their relative imports resolve as the key's did. */
const ranCompiled = new Set<string>();
/** The API as CommonJS, for `require("crystallize")`: Node loads it as is, tsx or not (scripts/bundle.mjs). */
const apiPath = fileURLToPath(new URL("./api.cjs", import.meta.url));
let tsxLoaded = false;
/** While tsx's own modules load: their text says `import(`, but they need no ES module hooks. */
let loadingTsx = false;

const RELATIVE = /^\.\.?\//;
/** What a worker that has not loaded tsx loads as Node would with it: by our `.ts` and `.js` handlers, or Node's own. */
const WITHOUT_TSX = new Set([".ts", ".js", ".json"]);

/**
 * `"crystallize"` resolved for require, `.ts` modules the CLI compiled run as compiled there,
 * and tsx for everything else. Called once, at start, before any user code loads.
 *
 * `lazy`: where the CLI compiles the workspace's TypeScript (lib/code/compile.ts), tsx loads
 * only when user code first needs it, and code that imports only builtins, `"crystallize"`
 * and its own compiled modules never does. Loading it is a third of a worker's start-up
 * (~35 ms of CPU). Until then a compiled module's relative imports resolve with the CLI's own
 * resolver (the one its key follows); anything else (a package, a module the CLI did not
 * compile, JavaScript, which tsx compiles when written as an ES module) loads tsx first and
 * goes on as if it had been there from the start.
 */
export function useCommonJsLoader(lazy: boolean): void {
  const nodeResolve = internals._resolveFilename;
  internals._resolveFilename = function (this: unknown, request: string, parent?: unknown, ...rest: unknown[]) {
    if (request === "crystallize") return apiPath;
    // Once tsx is loaded, this is the resolver it falls back to: Node's.
    if (tsxLoaded || isBuiltin(request)) return nodeResolve.call(this, request, parent, ...rest);
    const found = resolvedWithoutTsx(request, (parent as { filename?: string } | undefined)?.filename);
    if (found !== undefined) return found;
    loadTsx();
    return internals._resolveFilename.call(this, request, parent, ...rest);
  };
  // Once tsx is loaded, its handler with ours in front (see loadTsx).
  internals._extensions[".ts"] = runCompiledOr(() => {
    loadTsx();
    return internals._extensions[".ts"];
  });
  const nodeJs = internals._extensions[".js"];
  internals._extensions[".js"] = function (this: unknown, module, filename) {
    // Once tsx is loaded, this is reached only as its fallback for files it leaves to Node.
    if (tsxLoaded || filename === apiPath) return nodeJs.call(this, module, filename);
    loadTsx();
    return internals._extensions[".js"].call(this, module, filename);
  };
  const compile = internals.prototype._compile;
  internals.prototype._compile = function (this: unknown, content: string, filename: string) {
    if (!esmReady && !loadingTsx && DYNAMIC_IMPORT.test(content)) useEsmLoader();
    return compile.call(this, content, filename);
  };
  if (!lazy) loadTsx();
}

/** Where a request leads without tsx: a compiled module, or a relative import of one; undefined when tsx must say. */
function resolvedWithoutTsx(request: string, parent: string | undefined): string | undefined {
  let found: string | undefined;
  if (isAbsolute(request)) found = compiled.has(request) || ranCompiled.has(request) ? request : undefined;
  else if (parent !== undefined && ranCompiled.has(parent) && RELATIVE.test(request)) found = resolveRelative(parent, request);
  if (found === undefined || !WITHOUT_TSX.has(extname(found))) return undefined;
  // Node names a module by its real path; so must we, or a file reached both ways would load twice.
  return realpathSync.native(found);
}

/** The `.ts` handler: code the CLI compiled, else `other()`'s. */
function runCompiledOr(other: () => Load): Load {
  return function (this: unknown, module, filename) {
    const code = compiled.get(filename);
    if (code === undefined) return other().call(this, module, filename);
    compiled.delete(filename);
    ranCompiled.add(filename);
    return module._compile(code, filename);
  };
}

/** tsx for CommonJS, with our `.ts` handler and `"crystallize"` in front of its own. Idempotent. */
function loadTsx(): void {
  if (tsxLoaded) return;
  tsxLoaded = true;
  loadingTsx = true;
  try {
    requireHere("tsx/cjs");
  } finally {
    loadingTsx = false;
  }
  const tsxTypeScript = internals._extensions[".ts"];
  internals._extensions[".ts"] = runCompiledOr(() => tsxTypeScript);
  const tsxResolve = internals._resolveFilename;
  internals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return request === "crystallize" ? apiPath : tsxResolve.call(this, request, ...rest);
  };
}

/**
 * tsx's ES module hooks and ours, before the first `import()` of user code. Idempotent, and
 * synchronous: it may be called from inside a `require`. tsx's API is required here, when
 * first needed, not at start: loading it cost every worker ~60 ms of start-up (its ES module
 * build, which start-up used to import, ~80 ms).
 */
export function useEsmLoader(): void {
  if (esmReady) return;
  esmReady = true;
  // Its ES module hooks come with its CommonJS ones, as they did when both loaded at start.
  loadTsx();
  const api = requireHere("tsx/esm/api") as typeof import("tsx/esm/api");
  withTsxHooksFound(() => api.register());
  const { port1, port2 } = new MessageChannel();
  port1.on("message", (m: HookReport) => {
    if ("loaded" in m) onEsmLoad?.(fileURLToPath(m.loaded));
    else flushes.get(m.flushed)?.();
  });
  // The IPC channel keeps the worker alive; this port must not.
  port1.unref();
  esmPort = port1;
  register(new URL("./hooks.js", import.meta.url), { data: { apiUrl: apiUrl.href, port: port2 }, transferList: [port2] });
}

let esmPort: MessagePort | undefined;
let onEsmLoad: ((file: string) => void) | undefined;
const flushes = new Map<number, () => void>();
let flushId = 0;

/** Tells `listener` each file the ES module loader loads from now on (see hooks.ts). */
export function onEsmModuleLoad(listener: (file: string) => void): void {
  onEsmLoad = listener;
}

/**
 * Resolves once every load the hooks thread reported before now has reached the listener: its
 * reports and its reply to this request travel in order on one port. At once when no ES module
 * hooks run; after a second at most, should the hooks thread not answer.
 */
export function esmLoadsDelivered(): Promise<void> {
  if (!esmPort) return Promise.resolve();
  const id = ++flushId;
  return new Promise<void>((resolve) => {
    const done = () => {
      flushes.delete(id);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    flushes.set(id, done);
    esmPort!.postMessage({ flush: id } satisfies FlushRequest);
  });
}

/**
 * tsx's CommonJS build of tsx/esm/api registers its hooks as `./esm/index.mjs` relative to
 * its own file, dist/esm/api/index.cjs, where they are not: they are dist/esm/index.mjs. A
 * specifier that does not lead to a file is taken relative to tsx's dist/ folder instead; one
 * that does (a tsx that fixed this) is left alone.
 */
function withTsxHooksFound(registerHooks: () => void): void {
  const nodeModule = requireHere("node:module") as typeof Module;
  const original = nodeModule.register;
  const dist = new URL("../../", pathToFileURL(requireHere.resolve("tsx/esm/api")));
  nodeModule.register = ((specifier: string | URL, parent?: string | URL | { parentURL?: string | URL }, ...rest: unknown[]) => {
    const parentUrl = typeof parent === "string" || parent instanceof URL ? parent : parent?.parentURL;
    const asGiven = new URL(specifier, parentUrl);
    const found = asGiven.protocol !== "file:" || existsSync(fileURLToPath(asGiven)) ? asGiven : new URL(specifier, dist);
    return (original as (...args: unknown[]) => void).call(nodeModule, found.href, parent, ...rest);
  }) as typeof original;
  try {
    registerHooks();
  } finally {
    nodeModule.register = original;
  }
}
