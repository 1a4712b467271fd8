import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** A module's package scope: the folder of its nearest package.json, and what that says. */
export interface PackageScope {
  dir: string;
  /** The parsed package.json; empty when it does not parse. */
  manifest: Record<string, unknown>;
}

/**
 * How Node and tsx will load a module, decided as they decide it: by the `type` of the nearest
 * package.json. Used by the worker (require or import()), by the CLI to choose the modules it
 * compiles for the worker (lib/run/compile.ts) and by the key's runtime (lib/hash/facts.ts),
 * so the three always agree.
 */
export class ModuleTypes {
  /** Directory -> its nearest package.json (null when none). */
  private readonly scopes = new Map<string, PackageScope | null>();

  /**
   * The nearest package.json from `dir` upward, as Node finds a module's package scope; null
   * when there is none. `mayHaveOne`: false when `dir` is known to hold no package.json (a
   * cached folder listing).
   */
  scope(dir: string, mayHaveOne = true): PackageScope | null {
    let scope = this.scopes.get(dir);
    if (scope !== undefined) return scope;
    const parent = dirname(dir);
    const file = join(dir, "package.json");
    // Most folders have none: asking first spares an exception per experiment folder.
    if (!mayHaveOne || !existsSync(file)) {
      // The next one up decides, as for Node.
      scope = parent !== dir && !dir.endsWith("/node_modules") ? this.scope(parent) : null;
    } else {
      let manifest: Record<string, unknown> = {};
      try {
        const parsed = JSON.parse(readFileSync(file, "utf8"));
        if (parsed && typeof parsed === "object") manifest = parsed;
      } catch {
        // A broken or unreadable one decides nothing, as for Node.
      }
      scope = { dir, manifest };
    }
    this.scopes.set(dir, scope);
    return scope;
  }

  /** The `type` of the nearest package.json ("" when none says). */
  packageType(dir: string, mayHaveOne = true): string {
    const type = this.scope(dir, mayHaveOne)?.manifest.type;
    return typeof type === "string" ? type : "";
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
