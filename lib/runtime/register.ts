/**
 * Loaded with `--import` before the worker: makes `"crystallize"` resolve to this
 * installation's API from user code, both for ES modules (a resolve hook) and for modules
 * that tsx compiles to CommonJS (a workspace without `"type": "module"`).
 */
import Module, { register } from "node:module";
import { fileURLToPath } from "node:url";

const apiUrl = new URL("./api.js", import.meta.url);
register(new URL("./hooks.js", import.meta.url), { data: { apiUrl: apiUrl.href } });

type ResolveFilename = (request: string, ...rest: unknown[]) => string;
const internals = Module as unknown as { _resolveFilename: ResolveFilename };
const original = internals._resolveFilename;
const apiPath = fileURLToPath(apiUrl);
internals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return request === "crystallize" ? apiPath : original.call(this, request, ...rest);
};
