import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { AggregateConfigError, CrystallizeError } from "../errors/error.js";
import { GRAPH_FORMATS } from "../report/graph-format.js";
import { buildCommand, checkCommand, EXIT, gcCommand, graphCommand, statusCommand, verifyCommand } from "./commands.js";
import { hookCommand } from "./hook.js";
import { listCommand } from "./list.js";
import type { NewFlags } from "./new.js";
import { showCommand } from "./show.js";
import { treatmentsCommand } from "./treatments.js";
import { formatForTerminal } from "./errors.js";
import { commandName } from "./fast.js";

/** Watch mode loads its file watcher only when used. */
async function watch(targets: string[], flags: { cwd: string; jobs?: number }, argv: string[]): Promise<number> {
  return (await import("./watch.js")).watchCommand(targets, flags, argv);
}

/** The scaffold and its prompts load only for `new`. */
async function scaffold(name: string | undefined, flags: NewFlags): Promise<number> {
  return (await import("./new.js")).newCommand(name, flags);
}

/** The package's version; the same relative path from the sources' and the bundle's folder. */
function toolVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")).version;
  } catch {
    return "unknown";
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function program(setExit: (code: Promise<number>) => void, argv: string[]): Command {
  const cmd = new Command("crystallize")
    .description("Incremental build runner for graphs of experiments")
    .version(toolVersion(), "-V, --version", "print the version of crystallize")
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
    .option("--force", "rerun the targets even when their results are stored")
    .option("--force-all", "rerun everything in the build")
    .option("--dry-run", "show what would run and why, run nothing")
    .option("--explain", "show why each experiment runs, then build")
    .option("--frozen", "fail (exit 1) if anything would run: for CI")
    .option("--fail-fast", "stop starting new work after the first failure")
    .option("--keep-going", "keep building what does not depend on a failure (the default)")
    .option("--replicates <n>", "override every experiment's replicate count (the lock is not updated)", positiveInt)
    .option("--treatment <name>", "run only this treatment and the baseline; repeatable (the lock is not updated)", collect)
    .option("--json", "print one JSON document (see docs/json.md)")
    .addOption(
      // Watch mode builds what the configs say and keeps the lock current: a flag it would drop
      // silently is refused instead.
      new Option("--watch", "after building, rebuild whenever inputs change (same as `crystallize watch`)").conflicts([
        "force",
        "forceAll",
        "dryRun",
        "explain",
        "frozen",
        "failFast",
        "replicates",
        "treatment",
        "json",
      ]),
    )
    .action((targets: string[], o) =>
      setExit(o.watch ? watch(targets, { jobs: o.jobs, cwd: cwd() }, argv) : buildCommand(targets, { ...o, treatments: o.treatment, cwd: cwd() })),
    );

  cmd
    .command("watch")
    .description("build, then rebuild what each change makes stale, until Ctrl-C")
    .argument("[targets...]", "experiment names or folders")
    .option("-j, --jobs <n>", "units to run at once (default: number of cores)", positiveInt)
    .action((targets: string[], o) => setExit(watch(targets, { jobs: o.jobs, cwd: cwd() }, argv)));

  cmd
    .command("status")
    .description("what is fresh or stale, and why, without running anything")
    .argument("[targets...]", "experiment names or folders")
    .option("--json", "print one JSON document")
    .action((targets: string[], o) => setExit(statusCommand(targets, { json: o.json, cwd: cwd() })));

  cmd
    .command("check")
    .description("exit 1 when crystallize.lock does not match config and code (runs nothing, reads no data)")
    .option("--json", "print one JSON document")
    .action((o) => setExit(checkCommand({ json: o.json, cwd: cwd() })));

  cmd
    .command("list")
    .description("experiments by group and priority, with their status (runs nothing)")
    .option("--all", "include experiments with `cli.hidden: true`")
    .option("--json", "print one JSON document")
    .action((o) => setExit(listCommand({ all: o.all, json: o.json, cwd: cwd() })));

  cmd
    .command("show")
    .description("an experiment's current version: metrics per condition, hypotheses, artifacts, upstream versions")
    .argument("<experiment>", "experiment name or folder")
    .option("--all-versions", "also list every version folder with a short metric summary")
    .option("--json", "print one JSON document")
    .action((experiment: string, o) => setExit(showCommand(experiment, { allVersions: o.allVersions, json: o.json, cwd: cwd() })));

  cmd
    .command("graph")
    .description("print the experiment graph, each experiment marked with its status (runs nothing)")
    .argument("[targets...]", "show only these and their upstream")
    .addOption(new Option("--format <format>", "output format").choices(GRAPH_FORMATS).default("text"))
    .action((targets: string[], o) => setExit(graphCommand(targets, { format: o.format, cwd: cwd() })));
  cmd
    .command("verify")
    .description("rerun ignoring the cache and compare every output with crystallize.lock (changes nothing)")
    .argument("[targets...]", "experiments to rerun (default: all)")
    .option("-j, --jobs <n>", "units to run at once (default: number of cores)", positiveInt)
    .option("--json", "print one JSON document")
    .action((targets: string[], o) => setExit(verifyCommand(targets, { jobs: o.jobs, json: o.json, cwd: cwd() })));

  cmd
    .command("hook")
    .description("git hooks")
    .command("install")
    .description("write a git pre-commit hook that runs `crystallize check`")
    .option("--force", "replace an existing pre-commit hook that crystallize did not write")
    .action((o) => setExit(hookCommand({ force: o.force, cwd: cwd() })));

  cmd
    .command("treatments")
    .description("list an experiment's treatments; --enable/--disable edit config.state.json")
    .argument("<experiment>", "experiment name or folder")
    .option("--enable <name>", "switch a treatment on (repeatable)", collect)
    .option("--disable <name>", "switch a treatment off (repeatable)", collect)
    .action((experiment: string, o) => setExit(treatmentsCommand(experiment, { enable: o.enable, disable: o.disable, cwd: cwd() })));

  cmd
    .command("new")
    .description("create an experiment folder with config.yaml and code modules (asks, when run bare in a terminal)")
    .argument("[name]", "experiment name: lowercase letters, digits, _ and -")
    .option("--with <files>", "modules to create, comma-separated: datasources,steps,outputs,verifiers (default: datasources,steps)")
    .option("--lang <language>", "language of the modules: ts or python (default: ts)")
    .option("--python", "same as --lang python: datasources.py, steps.py, ...")
    .option("--example", "put runnable starter code in each module")
    .option("--use <experiment#output>", "read another experiment's output as a data source (repeatable)", collect)
    .action((name: string | undefined, o) =>
      setExit(scaffold(name, { with: o.with, lang: o.lang, python: o.python, example: o.example, use: o.use, cwd: cwd() })),
    );

  cmd
    .command("gc")
    .description("remove store objects and records that neither crystallize.lock nor a version folder uses")
    .option("--dry-run", "say what would be removed, remove nothing")
    .option("--json", "print one JSON document")
    .action((o) => setExit(gcCommand({ dryRun: o.dryRun, json: o.json, cwd: cwd() })));
  return cmd;
}

/**
 * `--json` promises one document on stdout, whatever happens: a usage or configuration error is
 * one too (docs/json.md), beside the message on stderr.
 */
function printErrorJson(argv: string[], errors: Array<Pick<CrystallizeError, "code" | "message"> & Partial<Pick<CrystallizeError, "location" | "hint">>>): void {
  if (!argv.includes("--json")) return;
  const doc = {
    command: commandName(argv) ?? null,
    ok: false,
    errors: errors.map((e) => ({ code: e.code, message: e.message, file: e.location?.file ?? null, line: e.location?.line ?? null, column: e.location?.column ?? null, hint: e.hint ?? null })),
  };
  process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
}

/** Runs the CLI and returns the exit code; every user-facing error is printed here, once. */
export async function main(argv: string[]): Promise<number> {
  let result: Promise<number> = Promise.resolve(EXIT.ok);
  try {
    await program((c) => (result = c), argv).parseAsync(argv, { from: "user" });
    return await result;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok;
      printErrorJson(argv, [{ code: "USAGE", message: err.message.replace(/^error: /, "") }]);
      return EXIT.usage;
    }
    if (err instanceof CrystallizeError || err instanceof AggregateConfigError) {
      process.stderr.write(formatForTerminal(err, argv) + "\n");
      printErrorJson(argv, err instanceof AggregateConfigError ? err.errors : [err]);
      return EXIT.usage;
    }
    process.stderr.write(`crystallize: internal error (please report it): ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}
