import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { FromWorker, UnitSpec } from "../runtime/protocol.js";
import { crashError, killGroup, type PoolEvents, type UnitOutcome } from "./pool.js";

const END_OF_LOG = "\0crystallize:end-of-log";
const WORKER = fileURLToPath(new URL("../runtime/python/worker.py", import.meta.url));

interface Slot {
  child: ChildProcess;
  /** The experiment folder this worker serves: its modules are imported by name, once. */
  dir: string;
  ready: Promise<void>;
  busy?: {
    unit: UnitSpec;
    resolve(o: UnitOutcome): void;
    started: number;
    stderrTail: string[];
    /** The worker's reply, held until the end of the unit's log has arrived on stderr too. */
    reply?: UnitOutcome;
    logEnded?: boolean;
  };
}

/**
 * Python worker processes for one build. A worker serves one experiment (its folder is on
 * `sys.path` and its modules stay imported), so Python's module cache never mixes two
 * experiments' `steps.py`. Replies travel as JSON lines on the worker's original stdout; the
 * step's own stdout and stderr arrive on stderr and become its log.
 */
export class PythonPool {
  private readonly all = new Set<Slot>();

  constructor(private readonly events: PoolEvents, private readonly root: string, private readonly maxIdle: number) {}

  async run(unit: UnitSpec, interpreter: string): Promise<UnitOutcome> {
    const slot = [...this.all].find((s) => !s.busy && s.dir === unit.dir) ?? this.spawn(unit.dir, interpreter);
    return new Promise<UnitOutcome>((resolve) => {
      const busy: NonNullable<Slot["busy"]> = { unit, resolve, started: performance.now(), stderrTail: [] };
      slot.busy = busy;
      void slot.ready.then(() => {
        // A worker that died before it was ready has already failed the unit (see "close").
        if (slot.busy !== busy) return;
        busy.started = performance.now();
        this.events.onStart?.(unit.id);
        slot.child.stdin!.write(JSON.stringify({ type: "run", unit }) + "\n");
      });
    });
  }

  private spawn(dir: string, interpreter: string): Slot {
    // Workers of other experiments that sit idle are not worth keeping past the job count.
    const idle = [...this.all].filter((s) => !s.busy);
    for (const s of idle.slice(0, Math.max(0, this.all.size + 1 - this.maxIdle))) this.retire(s);
    const child = spawn(interpreter, ["-u", WORKER], {
      cwd: this.root,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    });
    let markReady!: () => void;
    const slot: Slot = { child, dir, ready: new Promise<void>((r) => (markReady = r)) };
    this.all.add(slot);
    child.stdin!.on("error", () => {});
    const settle = () => {
      const busy = slot.busy;
      if (!busy?.reply || !busy.logEnded) return;
      slot.busy = undefined;
      busy.resolve(busy.reply);
    };
    createInterface({ input: child.stderr! }).on("line", (line) => {
      if (!slot.busy) return;
      // A step whose output ends without a newline (`print(x, end="")`) leaves the marker
      // mid-line: what precedes it is the step's last log line.
      const marker = line.indexOf(END_OF_LOG);
      if (marker >= 0) {
        if (marker > 0) this.events.onLog(slot.busy.unit.id, line.slice(0, marker));
        slot.busy.logEnded = true;
        return settle();
      }
      slot.busy.stderrTail.push(line);
      if (slot.busy.stderrTail.length > 20) slot.busy.stderrTail.shift();
      this.events.onLog(slot.busy.unit.id, line);
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let msg: FromWorker;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.type === "ready") return markReady();
      if (msg.type === "log" || msg.type === "warn") return this.events.onLog(msg.id, msg.line);
      const busy = slot.busy;
      if (!busy || busy.unit.id !== msg.id) return;
      if (msg.type === "done") busy.reply = { status: "ok", metrics: msg.metrics, durationMs: msg.durationMs };
      else if (msg.type === "failed") busy.reply = { status: "failed", error: msg.error, durationMs: msg.durationMs };
      settle();
    });
    child.on("error", () => {});
    child.on("close", (code, signal) => {
      this.all.delete(slot);
      markReady();
      const busy = slot.busy;
      if (!busy) return;
      slot.busy = undefined;
      busy.resolve({ status: "failed", durationMs: performance.now() - busy.started, error: crashError(code, signal, busy.stderrTail) });
    });
    return slot;
  }

  private retire(slot: Slot): void {
    this.all.delete(slot);
    slot.child.stdin!.end();
  }

  kill(unitIds: ReadonlySet<string>): void {
    for (const slot of this.all) if (slot.busy && unitIds.has(slot.busy.unit.id)) killGroup(slot.child, "SIGKILL");
  }

  /**
   * Ends every worker. A busy one first gets SIGINT, which Python turns into KeyboardInterrupt
   * inside the step (its `finally` blocks run); SIGKILL follows if it does not stop.
   */
  async close(force = false): Promise<void> {
    const slots = [...this.all];
    for (const s of slots) {
      if (!force && !s.busy) s.child.stdin!.end();
      else killGroup(s.child, "SIGINT");
    }
    await Promise.race([
      Promise.all(slots.map((s) => new Promise((r) => (s.child.exitCode !== null || s.child.signalCode !== null ? r(null) : s.child.once("exit", r))))),
      new Promise((r) => setTimeout(r, 1500).unref()),
    ]);
    for (const s of this.all) killGroup(s.child, "SIGKILL");
    for (const s of slots) if (s.child.exitCode === null && s.child.signalCode === null) killGroup(s.child, "SIGKILL");
  }
}
