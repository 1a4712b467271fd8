/**
 * Entry point of a worker process. It runs one unit (experiment, condition, replicate) at a
 * time for the CLI, importing user modules with the TypeScript loader the CLI started it with.
 * A worker lives for one build: user modules are imported once per worker and reused.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { internals, type Artifact, type Context } from "./api.js";
import { resultProblem } from "../hypotheses/result.js";
import type { ExportRef, FromWorker, ToWorker, UnitSpec, UserError, VerifyRequest, LoadRequest } from "./protocol.js";
import { ModuleTypes } from "../code/module-type.js";
import { seededRandom } from "./random.js";
import { addCompiled, useCommonJsLoader, useEsmLoader } from "./register.js";
import { startEnvReads, takeEnvReads, watchEnv } from "./env-reads.js";
import { startReads, takeReads, watchReads } from "./reads.js";

const send = (msg: FromWorker) => process.send!(msg);
const modules = new Map<string, Promise<Record<string, unknown>>>();
let current: string | undefined;

const requireModule = createRequire(import.meta.url);
const moduleTypes = new ModuleTypes();
/** Whether the CLI compiles this workspace's TypeScript for its workers (see lib/code/compile.ts). */
const compiledHere = process.argv.includes("--compiled-here");

/**
 * esbuild's synchronous API starts its service (a thread running the esbuild binary) on first
 * use: about 120 ms that would otherwise fall on the first unit each worker runs, and on the
 * critical path when that unit is the build's first. tsx compiles CommonJS TypeScript in this
 * thread with that API, so where the workspace's code is CommonJS (no `"type": "module"` above
 * its root) the service starts before the worker says it is ready. ES module code is compiled
 * in the loader-hooks thread, which this does not reach.
 */
function startCompiler(): void {
  // The CLI compiles this workspace's TypeScript (lib/run/compile.ts): tsx rarely needs to.
  if (compiledHere || moduleTypes.packageType(process.cwd()) === "module") return;
  try {
    (requireModule("esbuild") as typeof import("esbuild")).transformSync("", { loader: "ts" });
  } catch {
    // Only a head start: tsx starts the service on first use anyway.
  }
}

async function importModule(module: string): Promise<Record<string, unknown>> {
  if (!moduleTypes.loadsAsCommonJs(module)) {
    useEsmLoader();
    return import(pathToFileURL(module).href) as Promise<Record<string, unknown>>;
  }
  const exports = requireModule(module) as Record<string, unknown>;
  // What import() makes of a CommonJS module: its exports, and as default the compiled default
  // export (`__esModule`, as tsx emits) or else the whole exports object.
  return { ...exports, default: exports.__esModule ? exports.default : exports };
}

async function resolveExport(ref: ExportRef, role: string): Promise<(...args: unknown[]) => unknown> {
  let mod = modules.get(ref.module);
  if (!mod) {
    mod = importModule(ref.module);
    modules.set(ref.module, mod);
  }
  const exports = await mod;
  const fn = exports[ref.name] ?? (exports.default as Record<string, unknown> | undefined)?.[ref.name];
  if (typeof fn !== "function") {
    const file = ref.module.split("/").pop();
    throw new UserFacingError(
      fn === undefined ? `${file} does not export \`${ref.name}\`, which config.yaml names as a ${role}` : `\`${ref.name}\` exported by ${file} is not a function (it is ${typeof fn})`,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/** Errors about the experiment's wiring rather than its code: shown without a stack. */
class UserFacingError extends Error {}

function toBytes(value: unknown, what: string): Uint8Array | string {
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new UserFacingError(`${what} returned ${value === null ? "null" : typeof value}; it must return a string or bytes (Buffer/Uint8Array)`);
}

async function runUnit(unit: UnitSpec): Promise<Record<string, unknown[]>> {
  process.chdir(unit.dir);
  const metrics: Record<string, unknown[]> = {};
  const addMetric = (name: string, value: unknown) => {
    if (typeof name !== "string" || name === "") throw new UserFacingError("ctx.metrics.add: the metric name must be a non-empty string");
    (metrics[name] ??= []).push(value);
  };
  const written = new Set<string>();
  const outputs: Record<string, Artifact> = {};
  for (const out of unit.outputs) {
    const writer = out.writer ? await resolveExport(out.writer, "writer") : undefined;
    outputs[out.alias] = Object.freeze({
      alias: out.alias,
      fileName: out.fileName,
      write(value: unknown) {
        if (written.has(out.alias)) throw new UserFacingError(`output \`${out.alias}\` was already written in this run; write each output once`);
        const bytes = writer ? toBytes(writer(value), `writer \`${out.writer!.name}\` of output \`${out.alias}\``) : toBytes(value, `output \`${out.alias}\` has no writer, and the value written`);
        // The build's one staging folder: made by the first write that finds it missing, not
        // checked by a mkdir before every write. Read-only, as the store keeps its objects
        // (OBJECT_MODE in lib/store/store.ts): then storing it needs no chmod.
        try {
          writeFileSync(out.path, bytes, { mode: 0o444 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          mkdirSync(dirname(out.path), { recursive: true });
          writeFileSync(out.path, bytes, { mode: 0o444 });
        }
        written.add(out.alias);
      },
    });
  }
  const random = seededRandom(unit.seed);
  const base = {
    outputs: Object.freeze(outputs),
    metrics: Object.freeze({ add: addMetric }),
    replicate: unit.replicate,
    condition: unit.condition,
    seed: unit.seed,
    random,
    log: (...args: unknown[]) => send({ type: "log", id: unit.id, line: format(...args) }),
  };
  const makeCtx = (params: Record<string, unknown>): Context =>
    Object.freeze({
      ...base,
      params: Object.freeze({ ...params }),
      get<T>(name: string, fallback?: T): T {
        return (name in params ? params[name] : fallback) as T;
      },
    });

  const sourceCtx = makeCtx({ ...unit.treatment });
  let data: unknown;
  if (unit.input.kind === "single") {
    data = await (await resolveExport(unit.input.fn, "data source"))(sourceCtx);
  } else if (unit.input.kind === "map") {
    const obj: Record<string, unknown> = {};
    for (const s of unit.input.sources) {
      if (s.kind === "local") obj[s.alias] = await (await resolveExport(s.fn, "data source"))(sourceCtx);
      else if (s.kind === "value") obj[s.alias] = s.value;
      else obj[s.alias] = s.loader ? await (await resolveExport(s.loader, "loader"))(s.path) : readFileSync(s.path);
    }
    data = obj;
  }
  for (const step of unit.steps) {
    const fn = await resolveExport(step.fn, "step");
    const params = { ...internals.defaultsOf(fn), ...step.kwargs, ...unit.treatment };
    const { data: next, metrics: returned } = internals.unwrap(await fn(data, makeCtx(params)));
    for (const [k, v] of Object.entries(returned ?? {})) addMetric(k, v);
    data = next;
  }
  const missing = unit.outputs.filter((o) => !written.has(o.alias)).map((o) => `\`${o.alias}\``);
  if (missing.length > 0) {
    throw new UserFacingError(`output ${missing.join(", ")} declared in config.yaml but never written; call ctx.outputs.<alias>.write(value) in a step`);
  }
  return metrics;
}

/** Keeps the user's frames, drops ours, Node's internals and the loader's. */
function userError(err: unknown): UserError {
  if (err instanceof UserFacingError) return { name: "ConfigError", message: err.message, stack: "" };
  const e = err instanceof Error ? err : new Error(format(err));
  const ours = (line: string) => line.includes("node:internal") || line.includes("/dist/lib/runtime/") || line.includes("/node_modules/tsx/");
  const frames = (e.stack ?? "")
    .split("\n")
    .filter((l) => /^\s+at /.test(l) && !ours(l));
  // Node's "Cannot find module" lists its require stack in the message, down to this runtime.
  const message = e.message
    .split("\n")
    .filter((l) => !(l.startsWith("- ") && ours(l)))
    .join("\n");
  return { name: e.name, message, stack: frames.join("\n") };
}

/** Runs a custom verifier; its result must survive the trip to hypotheses.json unchanged. */
async function verify(request: VerifyRequest): Promise<Record<string, unknown>> {
  process.chdir(request.dir);
  const fn = await resolveExport(request.fn, "verifier");
  const result = await fn(request.baseline, request.treatment, request.params);
  const problem = resultProblem(result);
  if (problem) throw new UserFacingError(`\`${request.fn.name}\`: ${problem}`);
  return result as Record<string, unknown>;
}

/** A loader for a Python consumer: its value must survive JSON, which is how it travels on. */
async function load(request: LoadRequest): Promise<unknown> {
  process.chdir(request.dir);
  const value = await (await resolveExport(request.fn, "loader"))(request.path);
  const json = JSON.stringify(value);
  if (json === undefined) throw new UserFacingError(`loader \`${request.fn.name}\` returned ${typeof value}; a value read by a Python experiment must be JSON (an object, array, string, number, boolean or null)`);
  return JSON.parse(json);
}

/**
 * What a unit prints from JavaScript goes to the CLI over the IPC channel, in order with the
 * unit's end: through the stdout pipe, its last lines could arrive after the end and be lost.
 * Output of native code and of child processes still takes the pipe. Returns a flush for the
 * unfinished last line.
 */
function captureLines(stream: NodeJS.WriteStream): () => void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let partial = "";
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (current === undefined) return write(chunk, ...rest);
    const lines = (partial + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString())).split("\n");
    partial = lines.pop()!;
    for (const line of lines) send({ type: "log", id: current, line });
    const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    return true;
  }) as typeof stream.write;
  return () => {
    if (partial && current !== undefined) send({ type: "log", id: current, line: partial });
    partial = "";
  };
}
const flushOutput = [captureLines(process.stdout), captureLines(process.stderr)];

process.on("message", async (msg: ToWorker) => {
  if (msg.type === "load") {
    current = msg.request.id;
    try {
      send({ type: "loaded", id: msg.request.id, value: await load(msg.request) });
    } catch (err) {
      send({ type: "failed", id: msg.request.id, error: userError(err), durationMs: 0 });
    } finally {
      current = undefined;
    }
    return;
  }
  if (msg.type === "verify") {
    const started = performance.now();
    current = msg.request.id;
    try {
      send({ type: "verdict", id: msg.request.id, result: await verify(msg.request) });
    } catch (err) {
      send({ type: "failed", id: msg.request.id, error: userError(err), durationMs: performance.now() - started });
    } finally {
      current = undefined;
    }
    return;
  }
  if (msg.type !== "run") return;
  addCompiled(msg.compiled);
  const started = performance.now();
  current = msg.unit.id;
  startReads();
  startEnvReads();
  try {
    const metrics = await runUnit(msg.unit);
    for (const flush of flushOutput) flush();
    send({ type: "done", id: msg.unit.id, metrics, durationMs: performance.now() - started, ...(await takeReads()), env: takeEnvReads() });
  } catch (err) {
    await takeReads();
    takeEnvReads();
    for (const flush of flushOutput) flush();
    send({ type: "failed", id: msg.unit.id, error: userError(err), durationMs: performance.now() - started });
  } finally {
    current = undefined;
  }
});

// A rejection nobody awaited belongs to the unit running now; the worker's state is suspect
// afterwards, so it reports and exits, and the CLI starts a fresh one.
process.on("unhandledRejection", (reason) => {
  if (current) send({ type: "failed", id: current, error: userError(reason), durationMs: 0 });
  process.exit(70);
});
process.on("disconnect", () => process.exit(0));
useCommonJsLoader(compiledHere);
watchReads();
// The workspace root: units change directory to their experiment's.
watchEnv(process.cwd());
// Where the workspace's code is ES modules, every unit needs those hooks: start them now,
// while the worker is not yet on anyone's critical path.
if (moduleTypes.packageType(process.cwd()) === "module") useEsmLoader();
startCompiler();
send({ type: "ready" });
