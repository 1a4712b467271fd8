import type { ExecutionEvents, ExperimentResult, UnitResult } from "../run/executor.js";
import { seconds, type Paint } from "./style.js";

/** Build progress as plain lines: one when an experiment starts, one when it ends, its logs prefixed. */
export class ConsoleReporter implements ExecutionEvents {
  constructor(private readonly out: NodeJS.WritableStream, private readonly paint: Paint) {}

  private write(line: string): void {
    this.out.write(line + "\n");
  }

  experimentStarted(name: string, units: number): void {
    this.write(`${this.paint("cyan", "▸")} ${name}` + this.paint("dim", units > 1 ? `  (${units} units)` : ""));
  }

  unitFinished(name: string, unit: UnitResult, done: number, total: number): void {
    if (unit.outcome.status === "failed") {
      this.write(`${this.paint("red", "✗")} ${name} ${unit.condition}/replicate_${unit.replicate} failed (${done}/${total})`);
    }
  }

  experimentFinished(r: ExperimentResult): void {
    if (r.status === "cached") {
      if (r.view === "created" || r.view === "repaired") this.write(`${this.paint("green", "✓")} ${r.name}` + this.paint("dim", `  v${r.version}  ${r.view === "created" ? "restored" : "repaired"} from the store`));
    } else if (r.status === "built") {
      const ran = r.units.filter((u) => !u.cached).length;
      const partial = ran < r.units.length ? `  ${ran} of ${r.units.length} units ran, the rest from the store` : "";
      this.write(`${this.paint("green", "✓")} ${r.name}` + this.paint("dim", `  v${r.version}  ${seconds(r.durationMs)}${partial}`));
    } else if (r.status === "failed") {
      const failed = r.units.filter((u) => u.outcome.status === "failed");
      this.write(`${this.paint("red", "✗")} ${this.paint("bold", r.name)} failed: ${failed.length} of ${r.units.length} units`);
      for (const u of failed.slice(0, 3)) {
        if (u.outcome.status !== "failed") continue;
        const e = u.outcome.error;
        this.write(`  ${u.condition}/replicate_${u.replicate}: ${e.name === "Error" || e.name === "ConfigError" || e.name === "WorkerCrash" ? "" : e.name + ": "}${e.message}`);
        if (e.stack) this.write(e.stack.split("\n").map((l) => "  " + l.trim().replace(/^/, "  ")).join("\n"));
      }
      if (failed.length > 3) this.write(this.paint("dim", `  ... and ${failed.length - 3} more failed units`));
    } else {
      this.write(`${this.paint("yellow", "-")} ${r.name} skipped` + (r.skippedBecause ? ` (${r.skippedBecause})` : ""));
    }
  }

  log(experiment: string, line: string): void {
    this.write(this.paint("dim", `[${experiment}] `) + line);
  }

  warn(experiment: string, message: string): void {
    this.write(`${this.paint("yellow", "warning")} ${experiment}: ${message}`);
  }
}
