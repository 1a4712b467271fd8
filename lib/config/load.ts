import { isMap, isScalar, isSeq, type Node, type Pair } from "yaml";
import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { FieldReader, nodeOf } from "./fields.js";
import { describeNode, YamlSource } from "./source.js";
import {
  type CliSettings,
  type DatasourceEntry,
  type ExperimentConfig,
  type HypothesisSpec,
  type OutputSpec,
  type StepSpec,
} from "./types.js";

const TOP_KEYS = [
  "name", "description", "replicates", "seed", "datasource", "steps", "outputs",
  "treatments", "hypotheses", "cli", "inputs", "env", "python",
];
const OUTPUT_KEYS = ["file_name", "writer", "loader"];
const HYPOTHESIS_KEYS = ["name", "verifier", "metrics", "params"];
const CLI_KEYS = ["group", "priority", "icon", "color", "hidden"];

/** Names used as folder names under `data/`: no separators, no dot-files, no `replicate_N`. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ConfigFileInfo {
  /** Config path relative to the workspace root. */
  configFile: string;
  /** Experiment folder relative to the workspace root. */
  dir: string;
  /** Experiment folder relative to the experiments folder. */
  folderId: string;
  /** Modules found in the folder, by role. */
  modules: ExperimentConfig["modules"];
  inactiveTreatments: string[];
}

/**
 * Validates one `config.yaml` strictly. Every problem in the file is reported (not just the
 * first), each with `file:line:column`, the key and a hint.
 */
export function parseConfig(text: string, info: ConfigFileInfo): ExperimentConfig {
  const plain = YamlSource.parsePlain(info.configFile, text);
  if (plain) {
    const v = new Validator(plain);
    const cfg = v.experiment(info);
    if (v.errors.length === 0) return cfg;
  }
  // The library's parse reports syntax errors, and places every other error as it reads the file.
  const src = YamlSource.parse(info.configFile, text);
  const v = new Validator(src);
  const cfg = v.experiment(info);
  if (v.errors.length > 0) throw v.errors.length === 1 ? v.errors[0] : new AggregateConfigError(v.errors);
  return cfg;
}

class Validator extends FieldReader {
  experiment(info: ConfigFileInfo): ExperimentConfig {
    const root = this.src.contents;
    const folderName = info.dir.split("/").pop() ?? info.dir;
    const cfg: ExperimentConfig = {
      name: folderName,
      dir: info.dir,
      configFile: info.configFile,
      folderId: info.folderId,
      replicates: 1,
      seed: 0,
      steps: [],
      outputs: [],
      treatments: [],
      hypotheses: [],
      cli: {},
      inputs: [],
      env: [],
      modules: info.modules,
      inactiveTreatments: info.inactiveTreatments,
      location: { file: info.configFile, line: 1, column: 1 },
    };
    if (root === null || root === undefined || (isScalar(root) && root.value === null)) return this.checkName(cfg, undefined);
    if (!isMap(root)) {
      this.fail("CONFIG_TYPE", root as Node, `a config must be a mapping of keys, got ${describeNode(root)}`, "start with `name: my_experiment` or `steps:`");
      return cfg;
    }
    const pairs = this.pairs(root, TOP_KEYS, "");
    const get = (k: string) => pairs.get(k);

    if (get("name")) {
      cfg.name = this.string(get("name")!, "name") ?? cfg.name;
      cfg.nameLocation = this.src.locationOf(get("name")!);
    }
    this.checkName(cfg, get("name"));
    if (get("description")) cfg.description = this.string(get("description")!, "description");
    if (get("python")) {
      cfg.python = this.string(get("python")!, "python");
      cfg.pythonLocation = this.src.locationOf(get("python")!);
    }
    if (get("replicates")) cfg.replicates = this.integer(get("replicates")!, "replicates", 1) ?? 1;
    if (get("seed")) cfg.seed = this.integer(get("seed")!, "seed", 0) ?? 0;
    if (get("datasource")) {
      cfg.datasource = this.datasource(get("datasource")!);
      cfg.datasourceLocation = this.src.locationOf(get("datasource")!);
    }
    if (get("steps")) cfg.steps = this.steps(get("steps")!);
    if (get("outputs")) cfg.outputs = this.outputs(get("outputs")!);
    if (get("treatments")) cfg.treatments = this.treatments(get("treatments")!);
    if (get("hypotheses")) cfg.hypotheses = this.hypotheses(get("hypotheses")!);
    if (get("cli")) cfg.cli = this.cli(get("cli")!);
    if (get("inputs")) cfg.inputs = this.stringList(get("inputs")!, "inputs");
    if (get("env")) {
      cfg.env = this.stringList(get("env")!, "env");
      const seq = get("env")!.value;
      cfg.env.forEach((name, i) => {
        if (!ENV_NAME.test(name)) this.fail("CONFIG_VALUE", isSeq(seq) ? (seq.items[i] as Node) : get("env"), `env[${i}]: ${JSON.stringify(name)} is not an environment variable name`, "list variable names only, e.g. `- CUDA_VISIBLE_DEVICES`; values are never stored");
      });
    }
    return cfg;
  }

  private checkName(cfg: ExperimentConfig, pair: Pair | undefined): ExperimentConfig {
    if (!SAFE_NAME.test(cfg.name) || /^replicate_\d+$/.test(cfg.name)) {
      const msg = `name: ${JSON.stringify(cfg.name)} cannot be an experiment name (it names a folder under data/)`;
      if (pair) this.fail("CONFIG_VALUE", pair.value as Node, msg, "use letters, digits, `_`, `-` and `.`");
      else this.errors.push(new CrystallizeError("CONFIG_VALUE", msg, { location: cfg.location, hint: "rename the folder or set `name:`" }));
    }
    return cfg;
  }

  private datasource(pair: Pair): DatasourceEntry[] {
    const node = nodeOf(pair);
    if (!isMap(node)) {
      this.fail("CONFIG_TYPE", node, `datasource: expected a mapping of alias -> source, got ${describeNode(node)}`,
        "write `datasource: {numbers: numbers}` or `datasource: {summary: producer#summary}`");
      return [];
    }
    const entries: DatasourceEntry[] = [];
    for (const [alias, item] of this.pairs(node, null, "datasource")) {
      const value = this.string(item, `datasource.${alias}`);
      if (value === undefined) continue;
      const location = this.src.locationOf(item.value as Node);
      if (value.includes("#")) {
        const [experiment, output, ...rest] = value.split("#");
        if (!experiment || !output || rest.length > 0) {
          this.fail("CONFIG_VALUE", item.value as Node, `datasource.${alias}: ${JSON.stringify(value)} is not a reference`, "write `experiment#output`, e.g. `producer#summary`");
          continue;
        }
        entries.push({ alias, ref: { experiment, output }, location });
      } else if (!IDENTIFIER.test(value)) {
        this.fail("CONFIG_VALUE", item.value as Node, `datasource.${alias}: ${JSON.stringify(value)} is not the name of an export`, "name a function exported by datasources.ts, or reference `experiment#output`");
      } else {
        entries.push({ alias, exportName: value, location });
      }
    }
    if (entries.length === 0 && node.items.length === 0) {
      this.fail("CONFIG_VALUE", node, "datasource: declares no source", "add an alias, or remove `datasource:` to use the single source exported by datasources.ts");
    }
    return entries;
  }

  private steps(pair: Pair): StepSpec[] {
    const node = nodeOf(pair);
    if (!isSeq(node)) {
      this.fail("CONFIG_TYPE", node, `steps: expected a list, got ${describeNode(node)}`, "write each step on its own line: `- produce_summary`");
      return [];
    }
    const steps: StepSpec[] = [];
    node.items.forEach((raw, i) => {
      const item = raw as Node;
      const location = this.src.locationOf(item);
      if (isScalar(item) && typeof item.value === "string") {
        if (!IDENTIFIER.test(item.value)) this.fail("CONFIG_VALUE", item, `steps[${i}]: ${JSON.stringify(item.value)} is not the name of an export`);
        else steps.push({ name: item.value, kwargs: {}, location });
        return;
      }
      if (isMap(item) && item.items.length === 1) {
        const p = item.items[0];
        const name = isScalar(p.key) ? String(p.key.value) : "";
        const args = p.value as Node | null;
        if (!IDENTIFIER.test(name)) {
          this.fail("CONFIG_VALUE", p, `steps[${i}]: ${JSON.stringify(name)} is not the name of an export`);
          return;
        }
        if (args === null || (isScalar(args) && args.value === null)) {
          steps.push({ name, kwargs: {}, location });
        } else if (isMap(args)) {
          steps.push({ name, kwargs: this.plainValue(args) as Record<string, unknown>, location });
        } else {
          this.fail("CONFIG_TYPE", args, `steps[${i}].${name}: expected a mapping of keyword arguments, got ${describeNode(args)}`, `write \`- ${name}: {param: value}\``);
        }
        return;
      }
      this.fail("CONFIG_TYPE", item, `steps[${i}]: expected a step name or \`{name: {kwarg: value}}\`, got ${describeNode(item)}${isMap(item) ? ` with ${item.items.length} keys` : ""}`,
        "one step per list item; put keyword arguments under the step's name");
    });
    return steps;
  }

  private outputs(pair: Pair): OutputSpec[] {
    const node = nodeOf(pair);
    if (!isMap(node)) {
      this.fail("CONFIG_TYPE", node, `outputs: expected a mapping of alias -> {file_name, writer, loader}, got ${describeNode(node)}`);
      return [];
    }
    const outputs: OutputSpec[] = [];
    const fileNames = new Map<string, string>();
    for (const [alias, item] of this.pairs(node, null, "outputs")) {
      const value = item.value as Node | null;
      const spec: OutputSpec = { alias, fileName: alias, location: this.src.locationOf(item) };
      if (!IDENTIFIER.test(alias)) this.fail("CONFIG_VALUE", item, `outputs: ${JSON.stringify(alias)} is not a valid alias`, "use letters, digits and `_`: steps write it as `ctx.outputs.<alias>`");
      if (value !== null && !(isScalar(value) && value.value === null)) {
        if (!isMap(value)) {
          this.fail("CONFIG_TYPE", value, `outputs.${alias}: expected a mapping with file_name, writer, loader, got ${describeNode(value)}`);
          continue;
        }
        const fields = this.pairs(value, OUTPUT_KEYS, `outputs.${alias}`);
        const fn = fields.get("file_name");
        if (fn) {
          const name = this.string(fn, `outputs.${alias}.file_name`);
          if (name !== undefined) {
            const problem = fileNameProblem(name);
            if (problem) this.fail("CONFIG_VALUE", fn.value as Node, `outputs.${alias}.file_name: ${JSON.stringify(name)} ${problem}`, "use a relative name inside the output folder, e.g. `summary.json`");
            else spec.fileName = name.split("/").filter((s) => s !== "." && s !== "").join("/");
          }
        }
        for (const role of ["writer", "loader"] as const) {
          const f = fields.get(role);
          if (!f) continue;
          const name = this.string(f, `outputs.${alias}.${role}`);
          if (name === undefined) continue;
          if (!IDENTIFIER.test(name)) this.fail("CONFIG_VALUE", f.value as Node, `outputs.${alias}.${role}: ${JSON.stringify(name)} is not the name of an export`);
          spec[role] = name;
          spec[role === "writer" ? "writerLocation" : "loaderLocation"] = this.src.locationOf(f.value as Node);
        }
      }
      const clash = fileNames.get(spec.fileName);
      if (clash) this.fail("CONFIG_VALUE", item, `outputs.${alias}: file_name ${JSON.stringify(spec.fileName)} is already used by output \`${clash}\``, "give each output its own file_name");
      fileNames.set(spec.fileName, alias);
      outputs.push(spec);
    }
    return outputs;
  }

  private treatments(pair: Pair): ExperimentConfig["treatments"] {
    const node = nodeOf(pair);
    if (!isMap(node)) {
      this.fail("CONFIG_TYPE", node, `treatments: expected a mapping of name -> values, got ${describeNode(node)}`, "write `treatments: {baseline: {}, plus_one: {delta: 1}}`");
      return [];
    }
    const out: ExperimentConfig["treatments"] = [];
    for (const [name, item] of this.pairs(node, null, "treatments")) {
      const value = item.value as Node | null;
      if (!SAFE_NAME.test(name) || /^replicate_\d+$/.test(name)) {
        this.fail("CONFIG_VALUE", item, `treatments: ${JSON.stringify(name)} cannot be a treatment name (it names a folder)`, "use letters, digits, `_`, `-` and `.`, and not `replicate_N`");
        continue;
      }
      if (value === null || (isScalar(value) && value.value === null)) {
        out.push({ name, values: {}, location: this.src.locationOf(item) });
      } else if (isMap(value)) {
        out.push({ name, values: this.plainValue(value) as Record<string, unknown>, location: this.src.locationOf(item) });
      } else {
        this.fail("CONFIG_TYPE", value, `treatments.${name}: expected a mapping of values, got ${describeNode(value)}`, `write \`${name}: {param: value}\``);
      }
    }
    return out;
  }

  private hypotheses(pair: Pair): HypothesisSpec[] {
    const node = nodeOf(pair);
    if (!isSeq(node)) {
      this.fail("CONFIG_TYPE", node, `hypotheses: expected a list, got ${describeNode(node)}`);
      return [];
    }
    const out: HypothesisSpec[] = [];
    node.items.forEach((raw, i) => {
      const item = raw as Node;
      if (!isMap(item)) {
        this.fail("CONFIG_TYPE", item, `hypotheses[${i}]: expected a mapping with name, verifier, metrics, got ${describeNode(item)}`);
        return;
      }
      const f = this.pairs(item, HYPOTHESIS_KEYS, `hypotheses[${i}]`);
      const verifier = f.get("verifier") ? this.string(f.get("verifier")!, `hypotheses[${i}].verifier`) : undefined;
      if (!f.get("verifier")) this.fail("CONFIG_VALUE", item, `hypotheses[${i}]: no verifier`, "add `verifier: welch_t_test` or the name of an export of verifiers.ts");
      const name = f.get("name") ? this.string(f.get("name")!, `hypotheses[${i}].name`) : `hypothesis_${i}`;
      let metrics: string[] = [];
      const m = f.get("metrics");
      if (m) {
        const mv = m.value as Node;
        if (isScalar(mv) && typeof mv.value === "string") metrics = [mv.value];
        else metrics = this.stringList(m, `hypotheses[${i}].metrics`);
      }
      let params: Record<string, unknown> = {};
      const p = f.get("params");
      if (p) {
        if (isMap(p.value)) params = this.plainValue(p.value) as Record<string, unknown>;
        else this.fail("CONFIG_TYPE", p.value as Node, `hypotheses[${i}].params: expected a mapping, got ${describeNode(p.value)}`);
      }
      if (verifier !== undefined && name !== undefined) out.push({ name, verifier, metrics, params, location: this.src.locationOf(item) });
    });
    return out;
  }

  private cli(pair: Pair): CliSettings {
    const node = nodeOf(pair);
    if (!isMap(node)) {
      this.fail("CONFIG_TYPE", node, `cli: expected a mapping, got ${describeNode(node)}`);
      return {};
    }
    const f = this.pairs(node, CLI_KEYS, "cli");
    const cli: CliSettings = {};
    for (const key of ["group", "icon", "color"] as const) if (f.get(key)) cli[key] = this.string(f.get(key)!, `cli.${key}`);
    const pr = f.get("priority");
    if (pr) {
      const v = isScalar(pr.value) ? pr.value.value : undefined;
      if (typeof v === "number") cli.priority = v;
      else this.fail("CONFIG_TYPE", pr.value as Node, `cli.priority: expected a number, got ${describeNode(pr.value)}`);
    }
    const hidden = f.get("hidden");
    if (hidden) {
      const v = isScalar(hidden.value) ? hidden.value.value : undefined;
      if (typeof v === "boolean") cli.hidden = v;
      else this.fail("CONFIG_TYPE", hidden.value as Node, `cli.hidden: expected true or false, got ${describeNode(hidden.value)}`);
    }
    return cli;
  }
}

/** Why a `file_name` is unsafe, or undefined when it stays inside its folder. */
export function fileNameProblem(name: string): string | undefined {
  if (name.trim() === "") return "is empty";
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name)) return "is an absolute path";
  if (name.includes("\\")) return "uses a backslash; use `/`";
  const parts = name.split("/").filter((s) => s !== "." && s !== "");
  if (parts.some((p) => p === "..")) return "escapes its output folder";
  if (parts.length === 0) return "names no file";
  return undefined;
}
