import type { ModuleRole } from "../config/types.js";
import { exampleOutput, has, type ScaffoldSpec } from "./spec.js";

/**
 * The Python modules of `crystallize new --python`: the same example as the TypeScript one (a
 * seeded data source, a step recording `mean`, a JSON writer and loader, a permutation test),
 * written the way docs/python.md calls functions, so that config.yaml is the same for both.
 */
export const PYTHON_MODULES: Record<ModuleRole, (spec: ScaffoldSpec) => string> = {
  datasources: (spec) =>
    spec.example
      ? `from crystallize import data_source, FrozenContext


@data_source
def numbers(ctx: FrozenContext) -> dict:
    """A data source is \`fn(ctx)\`. config.yaml names it under \`datasource:\`, so the first step
    receives \`{"numbers": <this value>}\`."""
    # ctx.random is seeded per replicate: replicates differ, and every rebuild is identical.
    return {"values": [ctx.random.randint(0, 100) for _ in range(10)]}
`
      : `from crystallize import data_source

# A data source is a function of the context returning data, for example:
#   @data_source
#   def numbers(ctx):
#       return {"numbers": [1, 2, 3]}
# With exactly one function and no \`datasource:\` in config.yaml, the first step receives its value.
`,

  steps: (spec) => (spec.example ? exampleSteps(spec) : `from crystallize import pipeline_step

# A step takes the data first and returns it, or \`(data, {"metric": value})\` to record metrics.
# Its other parameters are filled by name: \`ctx\`, an output's alias, a treatment value.
# List it under \`steps:\` in config.yaml to run it, e.g.
#   @pipeline_step()
#   def produce_summary(data: dict):
#       return data, {"count": 1}
`),

  outputs: (spec) =>
    spec.example
      ? `import json
from pathlib import Path


def dump_json(payload) -> bytes:
    """A writer turns what a step writes into the file's content (bytes or str)."""
    return json.dumps(payload, indent=2).encode("utf-8")


def load_json(path: Path):
    """A loader turns the file back into a value for the experiments that read this output."""
    return json.loads(path.read_text())
`
      : `from pathlib import Path

# Writers and loaders for the outputs declared in config.yaml:
#   writer: value -> bytes or str, e.g. def dump_json(payload) -> bytes: return json.dumps(payload).encode()
#   loader: pathlib.Path -> value, read by the experiments that use this output.
`,

  verifiers: (spec) =>
    spec.example
      ? `from itertools import combinations
from statistics import mean

from crystallize import verifier


@verifier
def permutation_test(baseline: dict, treatment: dict, metric: str = "", alpha: float = 0.05) -> dict:
    """A verifier compares one treatment with the baseline. Each side maps a metric name to its
    values, one per replicate. This one is an exact permutation test on the difference of means:
    use it in config.yaml as \`verifier: permutation_test\`."""
    metric = metric or next(iter(baseline))
    a, b = baseline.get(metric, []), treatment.get(metric, [])
    pooled = a + b
    observed = abs(mean(b) - mean(a))
    extreme = total = 0
    # Every way of choosing which pooled values form "the treatment": exact for small samples.
    for picked in combinations(range(len(pooled)), len(b)):
        rest = [v for i, v in enumerate(pooled) if i not in picked]
        total += 1
        if abs(mean(pooled[i] for i in picked) - mean(rest)) >= observed - 1e-12:
            extreme += 1
    p_value = extreme / total
    return {"p_value": p_value, "significant": p_value < alpha}
`
      : `from crystallize import verifier

# A verifier compares one treatment with the baseline for a hypothesis in config.yaml, e.g.
#   @verifier
#   def my_test(baseline: dict, treatment: dict, alpha: float = 0.05) -> dict:
#       return {"p_value": ..., "significant": ...}
# Each side maps a metric name to its values, one per replicate.
`,
};

function exampleSteps(spec: ScaffoldSpec): string {
  const local = has(spec, "datasources");
  const output = exampleOutput(spec);
  const imports = ["pipeline_step", ...(output ? ["Artifact"] : []), ...(local ? [] : ["FrozenContext"])];
  // Without a local data source the values are drawn here, from the context's seeded random.
  const params = [local || spec.uses.length > 0 ? "data: dict" : "data", ...(local ? [] : ["ctx: FrozenContext"]), "*", ...(output ? ["result: Artifact"] : []), "factor: float = 1"];
  const body = [
    ...spec.uses.map((u) => `    # data["${u.alias}"]: output \`${u.output}\` of ${u.experiment}, as its loader returns it.`),
    ...(local
      ? ['    values = [v * factor for v in data["numbers"]["values"]]']
      : ["    # ctx.random is seeded per replicate: replicates differ, and every rebuild is identical.", "    values = [ctx.random.randint(0, 100) * factor for _ in range(10)]"]),
    "    mean = sum(values) / len(values)",
    ...(output ? ['    result.write({"factor": factor, "mean": mean})'] : []),
    "    # The items of a returned dict are recorded as metrics.",
    '    return data, {"mean": mean}',
  ];
  return `from crystallize import ${imports.join(", ")}


@pipeline_step()
def summarize(${params.join(", ")}):
    """A step receives the data first; every other parameter is filled by name: \`ctx\` is the
    context, an output's alias is that output, and \`factor\` is the treatment's value, else the
    step's kwarg in config.yaml, else the default given here."""
${body.join("\n")}
`;
}
