import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import type { ExperimentConfig } from "../config/types.js";
import type { CodeClosure, ModuleIndex } from "../code/modules.js";
import { ModuleTypes } from "../code/module-type.js";
import { interpreterFor, probePython, type PythonEnv } from "../code/python-env.js";
import { CrystallizeError } from "../errors/error.js";
import { languageOf, toPosix } from "../workspace/workspace.js";
import { digestBytes, digestFile, digestValue, type Digest } from "./digest.js";
import type { ExperimentFacts } from "./keys.js";
import type { StatCache } from "./stat-cache.js";

const NODE = `node${process.versions.node.split(".")[0]}`;

/**
 * What decides how the code is compiled and loaded, besides the code: the Node major version,
 * the module system (`type` of the nearest package.json: ESM or CommonJS) and the tsconfig.json
 * tsx applies in every worker (see tsconfigDigest). One instance per build: folders are looked
 * up once each.
 */
export class RuntimeProbe {
  private readonly moduleTypes = new ModuleTypes();
  private readonly tsconfig: string;

  constructor(private readonly root: string) {
    this.tsconfig = tsconfigDigest(root);
  }

  /** `packageJson`: false when the folder is known to hold none (see ExperimentConfig). */
  of(dir: string, packageJson = true): string {
    // As the worker decides between require and import() (lib/code/module-type.ts).
    const type = this.moduleTypes.packageType(join(this.root, dir), packageJson) === "module" ? "module" : "commonjs";
    return `${NODE} ${type} tsconfig:${this.tsconfig}`;
  }
}

/**
 * The tsconfig.json tsx compiles a worker's TypeScript with: the one TSX_TSCONFIG_PATH names,
 * else the first found from the workspace root (the workers' start folder) upward, as tsx
 * looks; with every file it `extends`, as tsx follows them. "none" without one. A tsconfig
 * in a monorepo's root above the workspace counts like one in it.
 */
export function tsconfigDigest(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const first = tsconfigOf(root, env);
  if (first === undefined) return "none";
  const texts: Buffer[] = [];
  const seen = new Set<string>();
  const follow = (file: string) => {
    if (seen.has(file) || seen.size > 10) return;
    seen.add(file);
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch {
      texts.push(Buffer.from(`missing ${toPosix(relative(root, file))}`));
      return;
    }
    texts.push(text);
    for (const spec of extendsOf(text.toString("utf8"))) {
      try {
        follow(createRequire(file).resolve(spec.endsWith(".json") || !spec.startsWith(".") ? spec : `${spec}.json`));
      } catch {
        texts.push(Buffer.from(`unresolved ${spec}`));
      }
    }
  };
  follow(first);
  // One file: the digest of its bytes, as before extends were followed.
  return (texts.length === 1 ? digestBytes(texts[0]) : digestValue(texts.map((t) => digestBytes(t)))).slice(0, 12);
}

/** The tsconfig.json tsx applies in a worker started in `root` (see tsconfigDigest); undefined for none. */
export function tsconfigOf(root: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TSX_TSCONFIG_PATH !== undefined) return join(root, env.TSX_TSCONFIG_PATH);
  for (let d = root; ; d = dirname(d)) {
    if (existsSync(join(d, "tsconfig.json"))) return join(d, "tsconfig.json");
    if (dirname(d) === d) return undefined;
  }
}

/** The `extends` of a tsconfig (a string or, since TypeScript 5, a list), read without a JSON-with-comments parser. */
function extendsOf(text: string): string[] {
  const m = /"extends"\s*:\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\])/.exec(text);
  if (!m) return [];
  return [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]);
}

/**
 * The interpreter and its facts per Python experiment, probed once per interpreter per
 * command (and remembered across commands, see probePython). Undefined for JS/TS experiments.
 */
export class PythonEnvs {
  private readonly byInterpreter = new Map<string, PythonEnv>();
  /** Per experiment folder: its interpreter, found once (a PATH search stats every folder). */
  private readonly interpreters = new Map<string, string>();

  constructor(private readonly root: string, private readonly stateDir: string) {}

  of(cfg: ExperimentConfig): PythonEnv | undefined {
    if (languageOf(cfg) !== "python") return undefined;
    const interpreter = this.interpreter(cfg);
    let env = this.byInterpreter.get(interpreter);
    if (!env) {
      try {
        env = probePython(interpreter, this.root, this.stateDir);
      } catch (err) {
        // An interpreter named in config.yaml that does not work: point at the line naming it.
        if (err instanceof CrystallizeError && !err.location && cfg.python) {
          throw new CrystallizeError(err.code, err.message, { location: cfg.pythonLocation ?? { file: cfg.configFile }, hint: err.hint });
        }
        throw err;
      }
      this.byInterpreter.set(interpreter, env);
    }
    return env;
  }

  /**
   * What to start the workers with. An interpreter named in config.yaml runs as given (it may be
   * a wrapper that sets up an environment); one found on PATH runs as its real executable,
   * skipping a version manager's shim (see probePython).
   */
  command(cfg: ExperimentConfig): string | undefined {
    const env = this.of(cfg);
    if (!env) return undefined;
    return cfg.python ? this.interpreter(cfg) : env.executable;
  }

  private interpreter(cfg: ExperimentConfig): string {
    let found = this.interpreters.get(cfg.dir);
    if (found === undefined) {
      found = interpreterFor(this.root, cfg);
      this.interpreters.set(cfg.dir, found);
    }
    return found;
  }
}

/**
 * Reads what keys are made of: each experiment's code closure, declared input files and env
 * values. Effects only; keys themselves are computed by pure functions from these facts.
 * The verifiers module is left out (unless other code imports it): it never runs in a unit,
 * and editing it only recomputes the verdicts (see verifierDigests).
 */
export async function gatherFacts(root: string, configs: ExperimentConfig[], modules: ModuleIndex, statCache: StatCache, pythons: PythonEnvs): Promise<Map<string, ExperimentFacts>> {
  const runtime = new RuntimeProbe(root);
  const entries = await Promise.all(
    configs.map(async (cfg): Promise<[string, ExperimentFacts]> => {
      const python = pythons.of(cfg);
      const unitModules = Object.entries(cfg.modules).filter(([role]) => role !== "verifiers").map(([, m]) => m);
      const code = await modules.closure(unitModules.filter((m): m is string => m !== undefined), python);
      const inputs: Record<string, Digest> = {};
      if (cfg.inputs.length > 0) {
        const { glob } = await import("./glob.js");
        const files = await glob(cfg.inputs, { cwd: join(root, cfg.dir), onlyFiles: true, dot: false, absolute: true });
        for (const abs of files.sort()) inputs[toPosix(relative(root, abs))] = await statCache.get(abs, "digest", () => digestFile(abs));
      }
      const env: Record<string, Digest | null> = {};
      for (const name of cfg.env) env[name] = process.env[name] === undefined ? null : digestBytes(process.env[name]!);
      return [cfg.name, { code, inputs, env, runtime: python ? `python${python.version}` : runtime.of(cfg.dir, cfg.packageJson) }];
    }),
  );
  return new Map(entries);
}

/**
 * The code closure of each output's loader (`experiment#alias`): it runs inside the units that
 * read the output, whose keys include its digest. Null for the default loader (the file's bytes).
 */
export async function loaderClosures(configs: ExperimentConfig[], modules: ModuleIndex, pythons: PythonEnvs): Promise<Map<string, CodeClosure | null>> {
  const out = new Map<string, CodeClosure | null>();
  for (const cfg of configs) {
    for (const o of cfg.outputs) {
      const id = `${cfg.name}#${o.alias}`;
      if (!o.loader || !cfg.modules.outputs) out.set(id, null);
      else out.set(id, await modules.closure([cfg.modules.outputs], pythons.of(cfg)));
    }
  }
  return out;
}

/** Digest of the verifiers module's code closure, per experiment with hypotheses; null without a module. */
export async function verifierDigests(configs: ExperimentConfig[], modules: ModuleIndex, pythons: PythonEnvs): Promise<Map<string, Digest | null>> {
  const out = new Map<string, Digest | null>();
  for (const cfg of configs) {
    if (cfg.hypotheses.length === 0) continue;
    out.set(cfg.name, cfg.modules.verifiers ? digestValue(await modules.closure([cfg.modules.verifiers], pythons.of(cfg))) : null);
  }
  return out;
}
