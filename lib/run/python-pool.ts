import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { FromWorker, LoadRequest, ToWorker, UnitSpec, VerifyRequest } from "../runtime/protocol.js";
import { crashReply, killGroup, unitOutcome, type Busy, type LoadOutcome, type PoolEvents, type Reply, type UnitOutcome, type VerifyOutcome } from "./pool.js";


const END_OF_LOG = "\0crystallize:end-of-log";
const WORKER = fileURLToPath(new URL("../runtime/python/worker.py", import.meta.url));

interface Slot {
  child: ChildProcess;
  /** The experiment folder this worker serves: its modules are imported by name, once. */
  dir: string;
  ready: Promise<void>;
  busy?: Busy & {
    /** The worker's reply, held until the end of the unit's log has arrived on stderr too. */
    reply?: Reply;
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
    const reply = await this.request(unit.id, unit.dir, interpreter, "a step", { type: "run", unit, compiled: {} }, () => this.events.onStart?.(unit.id));
    return unitOutcome(reply, `a Python worker answered unit ${unit.id}`);
  }

  /** Calls a custom verifier of a Python experiment, in a worker of that experiment. */
  async verify(request: VerifyRequest, interpreter: string): Promise<VerifyOutcome> {
    const reply = await this.request(request.id, request.dir, interpreter, "a verifier", { type: "verify", request });
    if (reply.type === "verdict") return { status: "ok", result: reply.result };
    if (reply.type === "failed") return { status: "failed", error: reply.error };
    throw new Error(`internal: a Python worker answered verifier call ${request.id} with ${reply.type}`);
  }

  /** Runs a Python upstream's loader for a TypeScript unit (see LoadRequest). */
  async load(request: LoadRequest, interpreter: string): Promise<LoadOutcome> {
    const reply = await this.request(request.id, request.dir, interpreter, "a loader", { type: "load", request });
    if (reply.type === "loaded") return { status: "ok", value: reply.value };
    if (reply.type === "failed") return { status: "failed", error: reply.error };
    throw new Error(`internal: a Python worker answered load ${request.id} with ${reply.type}`);
  }

  private request(id: string, dir: string, interpreter: string, what: string, msg: ToWorker, onStart?: () => void): Promise<Reply> {
    const slot = [...this.all].find((s) => !s.busy && s.dir === dir) ?? this.spawn(dir, interpreter);
    return new Promise<Reply>((resolve) => {
      // Claimed before it is ready, so that a second request for the experiment spawns its own.
      const busy: NonNullable<Slot["busy"]> = { id, what, resolve, started: performance.now(), stderrTail: [] };
      slot.busy = busy;
      void slot.ready.then(() => {
        // A worker that died before it was ready has already failed the request (see "close").
        if (slot.busy !== busy) return;
        busy.started = performance.now();
        onStart?.();
        slot.child.stdin!.write(JSON.stringify(msg) + "\n");
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
        if (marker > 0) this.events.onLog(slot.busy.id, line.slice(0, marker));
        slot.busy.logEnded = true;
        return settle();
      }
      slot.busy.stderrTail.push(line);
      if (slot.busy.stderrTail.length > 20) slot.busy.stderrTail.shift();
      this.events.onLog(slot.busy.id, line);
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
      if (!busy || busy.id !== msg.id) return;
      busy.reply = msg;
      settle();
    });
    child.on("error", () => {});
    child.on("close", (code, signal) => {
      this.all.delete(slot);
      markReady();
      const busy = slot.busy;
      if (!busy) return;
      slot.busy = undefined;
      busy.resolve(crashReply(busy, code, signal));
    });
    return slot;
  }

  private retire(slot: Slot): void {
    this.all.delete(slot);
    slot.child.stdin!.end();
  }

  kill(unitIds: ReadonlySet<string>): void {
    for (const slot of this.all) if (slot.busy && unitIds.has(slot.busy.id)) killGroup(slot.child, "SIGKILL");
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
