import type { ExperimentConfig, ModuleRole } from "../config/types.js";
import { AggregateConfigError, CrystallizeError, didYouMean, type SourceLocation } from "../errors/error.js";
import { languageOf } from "../workspace/workspace.js";
import { BUILTIN_VERIFIER_NAMES, builtinParamsProblem, isBuiltin } from "../hypotheses/builtins.js";
import type { ModuleIndex } from "./modules.js";

/** Built-in verifiers, usable in `hypotheses` without a verifiers module. */
export const BUILTIN_VERIFIERS = BUILTIN_VERIFIER_NAMES;

/**
 * Checks, without running any user code, that every function a config names is exported by
 * the module that should hold it. Also decides the single default data source.
 * Returns, per experiment, the export used as its single data source when `datasource:` is absent.
 */
export async function checkExports(configs: ExperimentConfig[], modules: ModuleIndex): Promise<Map<string, string | undefined>> {
  const errors: CrystallizeError[] = [];
  const singles = new Map<string, string | undefined>();
  await Promise.all(
    configs.map(async (cfg) => {
      const need = async (role: ModuleRole, name: string, location: SourceLocation, what: string) => {
        const mod = cfg.modules[role];
        if (!mod) {
          const ext = languageOf(cfg) === "python" ? "py" : "ts";
          errors.push(new CrystallizeError("CONFIG_MISSING_MODULE", `${what} \`${name}\` needs a ${role} module, but ${cfg.dir}/ has no ${role}.${ext}`, {
            location,
            hint: `create ${cfg.dir}/${role}.${ext} ${ext === "py" ? "defining" : "exporting"} \`${name}\``,
          }));
          return;
        }
        const names = await modules.exportsOf(mod);
        if (names === null || names.includes(name)) return;
        const guess = didYouMean(name, names);
        errors.push(new CrystallizeError("CONFIG_MISSING_EXPORT", `${what} \`${name}\` is not exported by ${mod}`, {
          location,
          hint: guess ? `did you mean \`${guess}\`?` : names.length ? `${mod} defines: ${names.join(", ")}` : mod.endsWith(".py") ? `${mod} defines nothing; add \`def ${name}(...)\`` : `${mod} exports nothing; add \`export const ${name} = ...\``,
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
          if (!isBuiltin(h.verifier)) {
            const builtin = cfg.modules.verifiers ? undefined : didYouMean(h.verifier, BUILTIN_VERIFIER_NAMES);
            if (builtin) errors.push(new CrystallizeError("CONFIG_VALUE", `verifier \`${h.verifier}\` is not a built-in, and ${cfg.dir}/ has no verifiers.ts`, { location: h.location, hint: `did you mean \`${builtin}\`?` }));
            else checks.push(need("verifiers", h.verifier, h.location, "verifier"));
            continue;
          }
          // A mistyped param of a built-in would otherwise be ignored silently.
          const problem = builtinParamsProblem(h.verifier, h.params);
          if (problem) errors.push(new CrystallizeError("CONFIG_VALUE", `hypotheses \`${h.name}\`: ${problem.message}`, { location: h.location, hint: problem.hint }));
        }
        await Promise.all(checks);
        if (cfg.datasource === undefined && cfg.modules.datasources) {
          const names = await modules.sourceCandidates(cfg.modules.datasources);
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
