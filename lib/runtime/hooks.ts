/**
 * Module resolution hook for worker processes: `import ... from "crystallize"` in user code
 * resolves to this installation's API, wherever the tool is installed (globally, via npx, or
 * in a workspace without node_modules).
 */
let apiUrl = "";

export function initialize(data: { apiUrl: string }): void {
  apiUrl = data.apiUrl;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === "crystallize") return { url: apiUrl, shortCircuit: true };
  return next(specifier, context);
}
