/**
 * Module hooks for worker processes, run in Node's module hooks thread:
 * - `import ... from "crystallize"` in user code resolves to this installation's API, wherever
 *   the tool is installed (globally, via npx, or in a workspace without node_modules);
 * - every file loaded as a module is reported to the worker's main thread, which cannot see
 *   these loads (they read files in this thread): the CLI warns about modules a unit loaded
 *   that its key does not follow (see lib/runtime/reads.ts).
 */
import type { MessagePort } from "node:worker_threads";

/** What the hooks thread tells the worker's main thread over the port it was given. */
export type HookReport =
  /** A module was loaded from this file: URL. */
  | { loaded: string }
  /** Every report posted before the `flush` request with this id has been posted. */
  | { flushed: number };

/** What the worker's main thread asks: a `flushed` reply once earlier reports are on their way. */
export interface FlushRequest {
  flush: number;
}

let apiUrl = "";
let port: MessagePort | undefined;

export function initialize(data: { apiUrl: string; port?: MessagePort }): void {
  apiUrl = data.apiUrl;
  port = data.port;
  // Reports and replies share one port, whose messages arrive in order.
  port?.on("message", (m: FlushRequest) => port!.postMessage({ flushed: m.flush } satisfies HookReport));
  port?.unref();
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;
type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === "crystallize") return { url: apiUrl, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url: string, context: unknown, next: NextLoad): Promise<unknown> {
  const result = await next(url, context);
  if (url.startsWith("file:")) port?.postMessage({ loaded: url } satisfies HookReport);
  return result;
}
