import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * How Node and tsx will load a module, decided as they decide it: by the `type` of the nearest
 * package.json. Used by the worker (require or import()), by the CLI to choose the modules it
 * compiles for the worker (lib/run/compile.ts) and by the key's runtime (lib/hash/facts.ts),
 * so the three always agree.
 */
export class ModuleTypes {
  /** Directory -> the `type` of its nearest package.json ("" when none says). */
  private readonly types = new Map<string, string>();

  /** `mayHaveOne`: false when `dir` is known to hold no package.json (a cached folder listing). */
  packageType(dir: string, mayHaveOne = true): string {
    let type = this.types.get(dir);
    if (type !== undefined) return type;
    const parent = dirname(dir);
    const file = join(dir, "package.json");
    // Most folders have none: asking first spares an exception per experiment folder.
    if (!mayHaveOne || !existsSync(file)) {
      // The next one up decides, as for Node.
      type = parent !== dir && !dir.endsWith("/node_modules") ? this.packageType(parent) : "";
    } else {
      try {
        const parsed = JSON.parse(readFileSync(file, "utf8")) as { type?: unknown };
        type = typeof parsed?.type === "string" ? parsed.type : "";
      } catch {
        // A broken or unreadable one decides nothing, as for Node.
        type = "";
      }
    }
    this.types.set(dir, type);
    return type;
  }

  /**
   * A `.ts` file outside a `"type": "module"` package is CommonJS to Node and tsx: the worker
   * loads it with require. import() would end in the same CommonJS loader, but only after round
   * trips to the loader-hooks thread that cost several times the module's own loading.
   * Everything that may be ES module code (`.mts`, `.mjs`, `.js` with module syntax) keeps
   * import().
   */
  loadsAsCommonJs(module: string): boolean {
    return module.endsWith(".ts") && this.packageType(dirname(module)) !== "module";
  }
}
