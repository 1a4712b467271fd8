import { join } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { AggregateConfigError } from "../config/load.js";
import { CrystallizeError, formatError } from "../errors/error.js";
import { buildWorkspace, openWorkspace } from "../api/build.js";
import { ConsoleReporter } from "../report/console.js";
import { GRAPH_FORMATS, renderGraph, type GraphFormat } from "../report/graph-format.js";
import { renderSummary } from "../report/summary.js";
import { makePaint, seconds, useColor } from "../report/style.js";

/** Exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

async function buildCommand(targets: string[], opts: { jobs?: number; failFast?: boolean; replicates?: number; treatment?: string[]; cwd: string }): Promise<number> {
  const started = performance.now();
  const paint = makePaint(useColor(process.stderr));
  const loaded = await openWorkspace(opts.cwd);
  const reporter = new ConsoleReporter(process.stderr, paint);
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write("\ninterrupted: stopping workers and removing unfinished outputs\n");
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  try {
    const outcome = await buildWorkspace(loaded, {
      targets,
      jobs: opts.jobs,
      failFast: opts.failFast,
      replicates: opts.replicates,
      treatments: opts.treatment,
      events: reporter,
      signal: controller.signal,
    });
    if (outcome.interrupted) return EXIT.interrupted;
    const outPaint = makePaint(useColor(process.stdout));
    const dataDir = join(loaded.workspace.root, loaded.workspace.settings.data);
    const summary = renderSummary(outcome.experiments, loaded.graph, loaded.workspace.root, dataDir, outPaint);
    if (summary) process.stdout.write("\n" + summary + "\n");
    const count = (s: string) => outcome.experiments.filter((e) => e.status === s).length;
    const parts = [`${count("built")} built`];
    if (count("failed")) parts.push(`${count("failed")} failed`);
    if (count("skipped")) parts.push(`${count("skipped")} skipped`);
    process.stdout.write(`\n${outcome.ok ? outPaint("green", "done") : outPaint("red", "build failed")}: ${parts.join(", ")} in ${seconds(performance.now() - started)}\n`);
    return outcome.ok ? EXIT.ok : EXIT.failed;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

async function graphCommand(targets: string[], opts: { format: GraphFormat; cwd: string }): Promise<number> {
  const { graph } = await openWorkspace(opts.cwd);
  process.stdout.write(renderGraph(graph, graph.closure(graph.resolveTargets(targets)), opts.format) + "\n");
  return EXIT.ok;
}

function program(setExit: (code: number | Promise<number>) => void): Command {
  const cmd = new Command("crystallize")
    .description("Incremental build runner for graphs of experiments")
    .option("-C, --cwd <dir>", "run as if started in <dir>", process.cwd())
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const cwd = () => cmd.opts().cwd as string;

  cmd
    .command("build")
    .description("build targets and everything upstream of them (default: every experiment)")
    .argument("[targets...]", "experiment names or folders")
    .option("-j, --jobs <n>", "units to run at once (default: number of cores)", positiveInt)
    .option("--fail-fast", "stop starting new work after the first failure")
    .option("--keep-going", "keep building what does not depend on a failure (the default)")
    .option("--replicates <n>", "override every experiment's replicate count", positiveInt)
    .option("--treatment <name>", "run only this treatment and the baseline (repeatable)", collect)
    .action((targets: string[], o) => setExit(buildCommand(targets, { ...o, cwd: cwd() })));

  cmd
    .command("graph")
    .description("print the experiment graph")
    .argument("[targets...]", "show only these and their upstream")
    .addOption(new Option("--format <format>", "output format").choices(GRAPH_FORMATS).default("text"))
    .action((targets: string[], o) => setExit(graphCommand(targets, { format: o.format, cwd: cwd() })));
  return cmd;
}

/** Runs the CLI and returns the exit code; every user-facing error is printed here, once. */
export async function main(argv: string[]): Promise<number> {
  let result: number | Promise<number> = EXIT.ok;
  try {
    await program((c) => (result = c)).parseAsync(argv, { from: "user" });
    return await result;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CrystallizeError) {
      process.stderr.write(formatError(err) + "\n");
      return EXIT.usage;
    }
    if (err instanceof AggregateConfigError) {
      process.stderr.write(err.errors.map(formatError).join("\n\n") + "\n");
      process.stderr.write(`\n${err.errors.length} problems found; nothing was run.\n`);
      return EXIT.usage;
    }
    process.stderr.write(`crystallize: internal error (please report it): ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
