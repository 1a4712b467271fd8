import { statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { ExperimentConfig, ModuleRole } from "../config/types.js";
import { AggregateConfigError } from "../config/load.js";
import { CrystallizeError, didYouMean, type SourceLocation } from "../errors/error.js";
import { toPosix } from "../workspace/workspace.js";
import { analyzeModule, type ModuleInfo } from "./analyze.js";

/** Built-in verifiers, usable in `hypotheses` without a verifiers module. */
export const BUILTIN_VERIFIERS = ["welch_t_test", "mann_whitney_u", "bootstrap_mean_diff"];

/** Analysed modules by workspace-relative path; shared so each file is read once per build. */
export type ModuleCache = Map<string, Promise<ModuleInfo>>;

export function analyzeCached(root: string, rel: string, cache: ModuleCache): Promise<ModuleInfo> {
  let p = cache.get(rel);
  if (!p) {
    p = analyzeModule(join(root, rel), rel);
    cache.set(rel, p);
  }
  return p;
}

/** Resolves a relative import the way Node + tsx do, including `./x.js` naming `./x.ts`. */
export function resolveLocalImport(root: string, fromRel: string, specifier: string): string | undefined {
  const base = join(root, dirname(fromRel), specifier);
  const candidates = [base];
  const m = /\.(m|c)?js$/.exec(base);
  if (m) candidates.push(base.slice(0, -m[0].length) + `.${m[1] ?? ""}ts`);
  for (const ext of [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".tsx", ".jsx"]) candidates.push(base + ext);
  for (const ext of [".ts", ".js", ".mts", ".mjs"]) candidates.push(join(base, "index" + ext));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return toPosix(relative(root, c));
    } catch {
      /* try the next candidate */
    }
  }
  return undefined;
}

/** Exports of a module, following local `export * from` chains; null when not statically known. */
async function exportsOf(root: string, rel: string, cache: ModuleCache, seen = new Set<string>()): Promise<string[] | null> {
  if (seen.has(rel)) return [];
  seen.add(rel);
  const info = await analyzeCached(root, rel, cache);
  if (info.exports === null) return null;
  const names = [...info.exports];
  for (const spec of info.starExports) {
    const target = resolveLocalImport(root, rel, spec);
    if (!target) return null;
    const more = await exportsOf(root, target, cache, seen);
    if (more === null) return null;
    names.push(...more.filter((n) => n !== "default"));
  }
  return names;
}

/**
 * Checks, without running any user code, that every function a config names is exported by
 * the module that should hold it. Also decides the single default data source.
 * Returns, per experiment, the export used as its single data source when `datasource:` is absent.
 */
export async function checkExports(root: string, configs: ExperimentConfig[], cache: ModuleCache): Promise<Map<string, string | undefined>> {
  const errors: CrystallizeError[] = [];
  const singles = new Map<string, string | undefined>();
  await Promise.all(
    configs.map(async (cfg) => {
      const need = async (role: ModuleRole, name: string, location: SourceLocation, what: string) => {
        const mod = cfg.modules[role];
        if (!mod) {
          errors.push(new CrystallizeError("CONFIG_MISSING_MODULE", `${what} \`${name}\` needs a ${role} module, but ${cfg.dir}/ has no ${role}.ts`, {
            location,
            hint: `create ${cfg.dir}/${role}.ts exporting \`${name}\``,
          }));
          return;
        }
        const names = await exportsOf(root, mod, cache);
        if (names === null || names.includes(name)) return;
        const guess = didYouMean(name, names);
        errors.push(new CrystallizeError("CONFIG_MISSING_EXPORT", `${what} \`${name}\` is not exported by ${mod}`, {
          location,
          hint: guess ? `did you mean \`${guess}\`?` : names.length ? `${mod} exports: ${names.join(", ")}` : `${mod} exports nothing; add \`export const ${name} = ...\``,
        }));
      };
      try {
        const checks: Promise<void>[] = [];
        for (const d of cfg.datasource ?? []) if (d.exportName) checks.push(need("datasources", d.exportName, d.location, "data source"));
        for (const s of cfg.steps) checks.push(need("steps", s.name, s.location, "step"));
        for (const o of cfg.outputs) {
          if (o.writer) checks.push(need("outputs", o.writer, o.writerLocation ?? o.location, "writer"));
          if (o.loader) checks.push(need("outputs", o.loader, o.loaderLocation ?? o.location, "loader"));
        }
        for (const h of cfg.hypotheses) {
          if (!BUILTIN_VERIFIERS.includes(h.verifier)) checks.push(need("verifiers", h.verifier, h.location, "verifier"));
        }
        await Promise.all(checks);
        if (cfg.datasource === undefined && cfg.modules.datasources) {
          const names = (await exportsOf(root, cfg.modules.datasources, cache))?.filter((n) => n !== "default");
          if (!names || names.length !== 1) {
            errors.push(new CrystallizeError("CONFIG_VALUE", names === undefined
              ? `${cfg.modules.datasources}: its exports cannot be read statically, so the single data source is unknown`
              : `no \`datasource:\` in the config, and ${cfg.modules.datasources} exports ${names.length} functions (${names.join(", ") || "none"})`, {
              location: cfg.location,
              hint: "name the source(s) to use: `datasource: {alias: export_name}`",
            }));
          } else singles.set(cfg.name, names[0]);
        }
      } catch (err) {
        if (err instanceof CrystallizeError) errors.push(err);
        else throw err;
      }
    }),
  );
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateConfigError(errors);
  return singles;
}
