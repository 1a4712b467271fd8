import { fork, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { compilesFor } from "../code/compile.js";
import type { FromWorker, LoadRequest, ToWorker, UnitSpec, UserError, VerifyRequest } from "../runtime/protocol.js";

export type UnitOutcome =
  | { status: "ok"; metrics: Record<string, unknown[]>; durationMs: number; read?: string[]; loaded?: string[]; listed?: string[]; env?: string[] }
  | { status: "failed"; error: UserError; durationMs: number };

export type VerifyOutcome = { status: "ok"; result: Record<string, unknown> } | { status: "failed"; error: UserError };

/** A worker's answer to one request; a crash is reported as "failed". */
export type Reply = Extract<FromWorker, { type: "done" | "failed" | "verdict" | "loaded" }>;

export type LoadOutcome = { status: "ok"; value: unknown } | { status: "failed"; error: UserError };

export interface PoolEvents {
  /** A line the unit (or verifier) printed (stdout, stderr or ctx.log). */
  onLog(unitId: string, line: string): void;
  /** A worker received the unit: it starts running now. */
  onStart?(unitId: string): void;
}

/** A request a worker is busy with, in either language's pool. */
export interface Busy {
  id: string;
  /** What runs, for a crash message: "a step", "a verifier" or "a loader". */
  what: string;
  resolve(reply: Reply): void;
  started: number;
  /** The last lines of stderr, for the message when the worker crashes. */
  stderrTail: string[];
}

interface Slot {
  child: ChildProcess;
  /** Whether the worker said it is ready; until then it has nothing to finish. */
  ready?: boolean;
  busy?: Busy & { dying?: boolean };
  /** How the process ended, once it has. */
  ended?: { code: number | null; signal: NodeJS.Signals | null };
  /** Modules whose compiled code this worker has been sent (see RunMessage). */
  compiled: Set<string>;
}

/** What of `compiled` the slot's worker has not been sent yet; noted as sent. */
function unsent(slot: Slot, compiled: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, code] of Object.entries(compiled)) {
    if (slot.compiled.has(path)) continue;
    slot.compiled.add(path);
    out[path] = code;
  }
  return out;
}

/** The worker runtime as one file (scripts/bundle.mjs); tsc's lib/runtime/worker.js is its source. */
const WORKER = fileURLToPath(new URL("../runtime/worker-bundle.mjs", import.meta.url));

/**
 * Worker processes that run units for one build. Each is a separate Node process in its own
 * process group (so Ctrl-C can stop whatever a step spawned), with tsx loaded once: the
 * TypeScript loader's start-up is paid per worker, not per experiment.
 */
export class WorkerPool {
  /** Started workers waiting for a request. */
  private readonly idle: Slot[] = [];
  private readonly all = new Set<Slot>();
  /** Workers still starting up. */
  private starting = 0;
  /** How many workers to have once the first is ready (see warmInStages); 0 when none wait. */
  private deferred = 0;
  /** Requests waiting for a worker, in the order they came (the executor's priority order). */
  private readonly waiters: Array<(slot: Slot) => void> = [];
  private closed = false;

  /**
   * Workers start in `root`: tsx reads the tsconfig.json of its start-up directory, which must
   * not depend on where the CLI was run from (the key covers the root's tsconfig.json).
   */
  constructor(
    /** Replaceable: a pool started before the build's executor gets the executor's events. */
    public events: PoolEvents,
    private readonly root: string,
    private readonly memoryMb?: number,
  ) {}

  /**
   * Starts workers up to `n` in parallel. Called at the first cache miss, so that the loader
   * start-up of every slot overlaps instead of delaying each newly ready unit in turn. All
   * start at once: when a start cost ~0.3 s of CPU, starting the rest only once the first was
   * ready left them still starting when the first unit's dependents became ready (unbalanced
   * benchmark, -j 4: span 1.27 -> 1.21 of the lower bound; cold N=500 unchanged within noise).
   */
  warm(n: number): void {
    if (this.closed || this.all.size >= n) return;
    if (this.deferred > 0) {
      this.deferred = Math.max(this.deferred, n);
      return;
    }
    while (this.all.size < n) this.spawn();
  }

  /**
   * Starts `first` workers now, and the rest up to `total` (or what warm() asks for meanwhile)
   * once one of them is ready: a build that can run only `first` units at the start gets them
   * going sooner, as the others do not share two cores with them, and the rest, ~85 ms of CPU
   * each since workers load tsx only when needed, are ready about when those units end.
   * Interleaved, against all at once: the unbalanced benchmark (one root) at -j 4, whole
   * process 1.374 -> 1.315 of the lower bound (faster in 10 of 10), at -j 2 1.209 -> 1.198
   * (8 of 8), scheduling unchanged; the tutorial's cold build 461 -> 447 ms (11 of 12).
   */
  warmInStages(first: number, total: number): void {
    if (this.closed) return;
    this.warm(first);
    if (total > this.all.size) this.deferred = total;
  }

  /** Runs a unit; `compiled`: its modules compiled by the CLI (see RunMessage). */
  async run(unit: UnitSpec, compiled: Record<string, string> = {}): Promise<UnitOutcome> {
    const reply = await this.request(unit.id, "a step", (slot) => ({ type: "run", unit, compiled: unsent(slot, compiled) }), () => this.events.onStart?.(unit.id));
    return unitOutcome(reply, `a worker answered unit ${unit.id}`);
  }

  /** Calls a custom verifier in a worker: user code never runs in the CLI process. */
  async verify(request: VerifyRequest): Promise<VerifyOutcome> {
    const reply = await this.request(request.id, "a verifier", () => ({ type: "verify", request }));
    if (reply.type === "verdict") return { status: "ok", result: reply.result };
    if (reply.type === "failed") return { status: "failed", error: reply.error };
    throw new Error(`internal: a worker answered verifier call ${request.id} with ${reply.type}`);
  }

  /** Runs an upstream's loader for a unit in the other language (see LoadRequest). */
  async load(request: LoadRequest): Promise<LoadOutcome> {
    const reply = await this.request(request.id, "a loader", () => ({ type: "load", request }));
    if (reply.type === "loaded") return { status: "ok", value: reply.value };
    if (reply.type === "failed") return { status: "failed", error: reply.error };
    throw new Error(`internal: a worker answered load ${request.id} with ${reply.type}`);
  }

  /** `message`: what to send, once the worker that takes it is known. */
  private async request(id: string, what: string, message: (slot: Slot) => ToWorker, onStart?: () => void): Promise<Reply> {
    const slot = await this.acquire();
    return new Promise<Reply>((resolve) => {
      const busy = { id, what, resolve, started: performance.now(), stderrTail: [] };
      // A worker that died while starting fails the request it was handed, as a crash would.
      if (slot.ended) return resolve(crashReply(busy, slot.ended.code, slot.ended.signal));
      slot.busy = busy;
      onStart?.();
      slot.child.send(message(slot));
    });
  }

  /**
   * The next worker for a request: an idle one, else the first to finish starting or to come
   * free. Requests are served in order, so that the unit queued first (the executor's highest
   * priority) never waits on a worker still starting while a later one takes a ready worker.
   */
  private acquire(): Promise<Slot> {
    const slot = this.idle.pop();
    if (slot) return Promise.resolve(slot);
    // More requests than workers on their way (a crashed worker, verifier calls): start one.
    if (this.waiters.length >= this.starting) this.spawn();
    return new Promise<Slot>((resolve) => this.waiters.push(resolve));
  }

  /** A worker that started or finished a request: to the first waiting request, else idle. */
  private handOut(slot: Slot): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(slot);
    else if (!this.closed && !slot.ended) this.idle.push(slot);
  }

  private spawn(): Slot {
    const execArgv = ["--enable-source-maps"];
    if (this.memoryMb) execArgv.push(`--max-old-space-size=${this.memoryMb}`);
    // The worker starts esbuild's synchronous service ahead only for tsx to compile with.
    const child = fork(WORKER, compilesFor(this.root) ? ["--compiled-here"] : [], {
      cwd: this.root,
      execArgv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "advanced",
    });
    let started = false;
    const markReady = () => {
      if (started) return;
      started = true;
      slot.ready = true;
      this.starting--;
      if (this.deferred > 0) {
        const n = this.deferred;
        this.deferred = 0;
        // After the request waiting for this worker is sent: a start blocks this process ~10 ms.
        setImmediate(() => this.warm(n));
      }
      this.handOut(slot);
    };
    const slot: Slot = { child, compiled: new Set() };
    this.all.add(slot);
    this.starting++;
    const lineFrom = (stream: NodeJS.ReadableStream | null, isErr: boolean) => {
      if (!stream) return;
      createInterface({ input: stream }).on("line", (line) => {
        if (!slot.busy) return;
        if (isErr) {
          slot.busy.stderrTail.push(line);
          if (slot.busy.stderrTail.length > 20) slot.busy.stderrTail.shift();
          // V8's fatal-error report (GC trace, native frames) says nothing the crash message does not.
          if (slot.busy.dying || /^(<--- |FATAL ERROR:|\s*\d+: 0x[0-9a-f]+ )/.test(line)) {
            slot.busy.dying = true;
            return;
          }
        }
        this.events.onLog(slot.busy.id, line);
      });
    };
    lineFrom(child.stdout, false);
    lineFrom(child.stderr, true);
    child.on("message", (msg: FromWorker) => {
      if (msg.type === "ready") return markReady();
      if (msg.type === "log" || msg.type === "warn") return this.events.onLog(msg.id, msg.line);
      const busy = slot.busy;
      if (!busy || busy.id !== msg.id) return;
      slot.busy = undefined;
      busy.resolve(msg);
      this.handOut(slot);
    });
    // "close" comes after the child's stdio has ended, so its last stderr lines are in hand.
    child.on("close", (code, signal) => {
      slot.ended = { code, signal };
      this.all.delete(slot);
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
      markReady();
      const busy = slot.busy;
      if (!busy) return;
      slot.busy = undefined;
      busy.resolve(crashReply(busy, code, signal));
    });
    return slot;
  }

  /** Kills the worker running these units (and whatever they started); they come back failed. */
  kill(unitIds: ReadonlySet<string>): void {
    for (const slot of this.all) if (slot.busy && unitIds.has(slot.busy.id)) killGroup(slot.child, "SIGKILL");
  }

  /** Ends every worker and what it started: SIGTERM to each process group, SIGKILL soon after. */
  async close(force = false): Promise<void> {
    // A pool started early is closed by the executor, then by the build: once is enough.
    if (this.closed && !force) return;
    this.closed = true;
    const slots = [...this.all];
    for (const s of slots) {
      // A worker still starting is stopped, not asked to finish: it would first finish starting.
      if (!force && !s.busy && s.ready) s.child.disconnect?.();
      else killGroup(s.child, "SIGTERM");
    }
    await Promise.race([
      Promise.all(slots.map((s) => new Promise((r) => (s.child.exitCode !== null || s.child.signalCode !== null ? r(null) : s.child.once("exit", r))))),
      new Promise((r) => setTimeout(r, 1500).unref()),
    ]);
    for (const s of this.all) killGroup(s.child, "SIGKILL");
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** A worker's reply to a unit (of either language) as its outcome. `asked`: for the internal error. */
export function unitOutcome(reply: Reply, asked: string): UnitOutcome {
  if (reply.type === "done") return { status: "ok", metrics: reply.metrics, durationMs: reply.durationMs, read: reply.read, loaded: reply.loaded, listed: reply.listed, env: reply.env };
  if (reply.type === "failed") return { status: "failed", error: reply.error, durationMs: reply.durationMs };
  throw new Error(`internal: ${asked} with ${reply.type}`);
}

/** The reply for a request whose worker died before answering. */
export function crashReply(busy: Busy, code: number | null, signal: NodeJS.Signals | null): Reply {
  return { type: "failed", id: busy.id, durationMs: performance.now() - busy.started, error: crashError(code, signal, busy.stderrTail, busy.what) };
}

function crashError(code: number | null, signal: NodeJS.Signals | null, stderr: string[], what: string): UserError {
  const text = stderr.join("\n");
  let message: string;
  if (/heap out of memory|Reached heap limit/i.test(text)) message = "the worker process ran out of memory";
  else if (signal) message = `the worker process was killed by ${signal}`;
  else message = `the worker process exited with code ${code} while running ${what}`;
  return { name: "WorkerCrash", message, stack: "" };
}
