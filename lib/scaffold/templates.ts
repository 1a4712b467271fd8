import type { ModuleRole } from "../config/types.js";
import { PYTHON_MODULES } from "./python-templates.js";
import { exampleOutput, fileOf, has, type ScaffoldSpec } from "./spec.js";

/** The files of a new experiment folder, by name, in the order they are listed to the user. */
export function renderScaffold(spec: ScaffoldSpec): Array<[string, string]> {
  const modules = spec.language === "python" ? PYTHON_MODULES : TS_MODULES;
  const files: Array<[string, string]> = [["config.yaml", configYaml(spec)]];
  for (const role of spec.files) files.push([fileOf(spec, role), modules[role](spec)]);
  return files;
}

const python = (spec: ScaffoldSpec) => spec.language === "python";

/** How a config comment points at a module's function: TypeScript exports it, Python defines it. */
const fnOf = (spec: ScaffoldSpec, role: ModuleRole) => `${python(spec) ? "a function defined in" : "an export of"} ${fileOf(spec, role)}`;
const fnsOf = (spec: ScaffoldSpec, role: ModuleRole) => `${python(spec) ? "functions defined in" : "exports of"} ${fileOf(spec, role)}`;

function configYaml(spec: ScaffoldSpec): string {
  const lines = [
    `# Experiment \`${spec.name}\`. The keys are described in crystallize's config reference`,
    "# (docs/config.md); an unknown key or a wrong type is an error that names its line.",
    `name: ${spec.name}`,
    "# description: what this experiment measures",
  ];
  lines.push(spec.example && has(spec, "steps") ? "replicates: 5 # independent runs of each condition, each with its own seed" : "# replicates: 1 # independent runs of each condition, each with its own seed");
  lines.push("", ...datasourceSection(spec), "", ...stepsSection(spec), "", ...outputsSection(spec), "", ...treatmentsSection(spec));
  if (has(spec, "verifiers")) lines.push("", ...hypothesesSection(spec));
  return lines.join("\n") + "\n";
}

function datasourceSection(spec: ScaffoldSpec): string[] {
  const local = spec.example && has(spec, "datasources");
  if (spec.uses.length === 0 && !local) {
    return [
      "# Without `datasource:`, the first step receives the value of the one function that",
      `# ${fileOf(spec, "datasources")} ${python(spec) ? "defines" : "exports"}. To name sources, or to read another experiment's output:`,
      "# datasource:",
      `#   numbers: numbers                   # ${fnOf(spec, "datasources")}`,
      "#   producer_summary: producer#summary # output `summary` of experiment `producer`",
    ];
  }
  const lines = [`# The first step receives ${python(spec) ? "a dict" : "an object"} with one entry per alias.`];
  if (spec.uses.length > 0) lines.push("# `experiment#output` values arrive through that output's loader; they are built first.");
  lines.push("datasource:");
  if (local) lines.push(`  numbers: numbers # ${fnOf(spec, "datasources")}`);
  for (const u of spec.uses) lines.push(`  ${u.alias}: ${u.experiment}#${u.output}`);
  return lines;
}

function stepsSection(spec: ScaffoldSpec): string[] {
  const intro = python(spec)
    ? "# Steps, each a function defined in steps.py, run in order; `{name: {kwarg: value}}` passes parameters by name"
    : "# Exports of steps.ts, run in order; `{name: {kwarg: value}}` passes ctx.params";
  if (spec.example && has(spec, "steps")) return [`${intro}.`, "steps:", "  - summarize: {factor: 1}"];
  return [`${intro}:`, "# steps:", "#   - produce_summary", "#   - scale: {factor: 2}"];
}

function outputsSection(spec: ScaffoldSpec): string[] {
  if (exampleOutput(spec)) {
    const intro = python(spec)
      ? ["# Files a step writes with `result.write(value)`, through a parameter named after the", `# alias (\`result: Artifact\`). Other experiments read them as \`${spec.name}#result\`, through the loader.`]
      : ["# Files a step writes with ctx.outputs.<alias>.write(value). Other experiments read them", `# as \`${spec.name}#result\`, through the loader.`];
    return [
      ...intro,
      "outputs:",
      "  result:",
      "    file_name: result.json",
      `    writer: dump_json # ${fnOf(spec, "outputs")}: value -> ${python(spec) ? "bytes or str" : "string or bytes"}`,
      `    loader: load_json # ${fnOf(spec, "outputs")}: ${python(spec) ? "pathlib.Path" : "file path"} -> value`,
    ];
  }
  const where = `${fnsOf(spec, "outputs")}${has(spec, "outputs") ? "" : " (create it)"}`;
  const intro = python(spec)
    ? ["# Files a step writes through a parameter named after the alias (`summary: Artifact`,", `# then \`summary.write(value)\`); writer and loader are ${where},`, "# file_name defaults to the alias:"]
    : ["# Files a step writes with ctx.outputs.<alias>.write(value); writer and loader are", `# ${where}, file_name defaults to the alias:`];
  return [...intro, "# outputs:", "#   summary:", "#     file_name: summary.json", "#     writer: dump_json", "#     loader: load_json"];
}

function treatmentsSection(spec: ScaffoldSpec): string[] {
  const read = python(spec) ? "fill step parameters by name" : "read with ctx.get()";
  const intro = `# Conditions to compare; each one's values are merged over the baseline's and ${read}.`;
  if (spec.example && has(spec, "steps")) return [intro, "treatments:", "  baseline: {}", "  doubled: {factor: 2}"];
  return [intro, "# treatments:", "#   baseline: {}", "#   doubled: {factor: 2}"];
}

function hypothesesSection(spec: ScaffoldSpec): string[] {
  const metric = spec.example ? "mean" : "accuracy";
  return [
    "# A hypothesis compares each treatment with the baseline on metrics; it needs at least",
    "# one treatment besides the baseline. The verifier is built in (welch_t_test,",
    `# mann_whitney_u, bootstrap_mean_diff) or ${fnOf(spec, "verifiers")}:`,
    "# hypotheses:",
    `#   - name: ${spec.example ? "doubling_changes_mean" : "better_than_baseline"}`,
    `#     verifier: ${spec.example ? "permutation_test" : "welch_t_test"}`,
    `#     metrics: ${metric}`,
  ];
}

const TS_MODULES: Record<ModuleRole, (spec: ScaffoldSpec) => string> = {
  datasources: (spec) =>
    spec.example
      ? `import { dataSource } from "crystallize";

/**
 * A data source is \`(ctx) => data\`. config.yaml names it under \`datasource:\`, so the first
 * step receives \`{ numbers: <this value> }\`.
 */
export const numbers = dataSource((ctx) => ({
  // ctx.random() is seeded per replicate: replicates differ, and every rebuild is identical.
  values: Array.from({ length: 10 }, () => Math.round(ctx.random() * 100)),
}));
`
      : `import { dataSource } from "crystallize";

// A data source is \`(ctx) => data\`, for example:
//   export const numbers = dataSource((ctx) => ({ numbers: [1, 2, 3] }));
// With exactly one export and no \`datasource:\` in config.yaml, the first step receives its value.
`,

  steps: (spec) => (spec.example ? exampleSteps(spec) : `import { pipelineStep } from "crystallize";

// A step is \`(data, ctx) => data\`; list it under \`steps:\` in config.yaml to run it, e.g.
//   export const produce_summary = pipelineStep((data, ctx) => {
//     ctx.metrics.add("count", 1);
//     return data;
//   });
`),

  outputs: (spec) =>
    spec.example
      ? `import { readFileSync } from "node:fs";

/** A writer turns what a step writes into the file's content (a string or bytes). */
export const dump_json = (payload: unknown) => JSON.stringify(payload, null, 2);

/** A loader turns the file back into a value for the experiments that read this output. */
export const load_json = (path: string) => JSON.parse(readFileSync(path, "utf8"));
`
      : `// Writers and loaders for the outputs declared in config.yaml:
//   writer: value -> string or bytes, e.g. export const dump_json = (payload: unknown) => JSON.stringify(payload);
//   loader: file path -> value, read by the experiments that use this output.
`,

  verifiers: (spec) =>
    spec.example
      ? `/**
 * A verifier compares one treatment with the baseline. Each side maps a metric name to its
 * values, one per replicate. This one is an exact permutation test on the difference of means:
 * use it in config.yaml as \`verifier: permutation_test\`.
 */
export const permutation_test = (
  baseline: Record<string, number[]>,
  treatment: Record<string, number[]>,
  params: { metric?: string; alpha?: number },
) => {
  const metric = params.metric ?? Object.keys(baseline)[0];
  const a = baseline[metric] ?? [];
  const b = treatment[metric] ?? [];
  const pooled = [...a, ...b];
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const observed = Math.abs(mean(b) - mean(a));
  let extreme = 0;
  let total = 0;
  // Every way of choosing which pooled values form "the treatment": exact for small samples.
  const choose = (start: number, picked: number[]) => {
    if (picked.length === b.length) {
      const rest = pooled.filter((_, i) => !picked.includes(i));
      total++;
      if (Math.abs(mean(picked.map((i) => pooled[i])) - mean(rest)) >= observed - 1e-12) extreme++;
      return;
    }
    for (let i = start; i < pooled.length; i++) choose(i + 1, [...picked, i]);
  };
  choose(0, []);
  const p_value = extreme / total;
  return { p_value, significant: p_value < (params.alpha ?? 0.05) };
};
`
      : `// A verifier compares one treatment with the baseline for a hypothesis in config.yaml:
//   (baseline: Record<string, number[]>, treatment: Record<string, number[]>, params) => ({ p_value, significant })
// Each side maps a metric name to its values, one per replicate.
`,
};

function exampleSteps(spec: ScaffoldSpec): string {
  const local = has(spec, "datasources");
  const fields = [...(local ? ["numbers: { values: number[] }"] : []), ...spec.uses.map((u) => `${u.alias}: unknown`)];
  const input = fields.length ? `{ ${fields.join("; ")} }` : "unknown";
  const values = local
    ? "data.numbers.values"
    : "Array.from({ length: 10 }, () => Math.round(ctx.random() * 100))";
  const body = [
    ...spec.uses.map((u) => `  // data.${u.alias}: output \`${u.output}\` of ${u.experiment}, as its loader returns it.`),
    `  const factor = ctx.get("factor", 1);`,
    ...(local ? [] : ["  // ctx.random() is seeded per replicate: replicates differ, and every rebuild is identical."]),
    `  const values = ${values}.map((v) => v * factor);`,
    "  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;",
    `  ctx.metrics.add("mean", mean);`,
  ];
  if (exampleOutput(spec)) body.push("  ctx.outputs.result.write({ factor, mean });");
  body.push("  return data;");
  return `import { pipelineStep } from "crystallize";

/**
 * A step is \`(data, ctx) => data\`. \`factor\` comes from ctx.params: the treatment's value, else
 * the step's kwargs in config.yaml, else the default given here.
 */
export const summarize = pipelineStep({ factor: 1 }, (data: ${input}, ctx) => {
${body.join("\n")}
});
`;
}
