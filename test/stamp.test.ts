import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Mixer } from "../lib/stamp/hash.js";
import { bindingLooks, followedSignature, mixCurrent, mixRecorded, signatureOf, statLooks, type Looks, type Signature } from "../lib/stamp/signature.js";
import { alwaysCounted, replayable, terminalState, writeStamp, type Context } from "../lib/stamp/stamp.js";
import { BIN, copyFixture, REPO, runCli, startCli, waitFor } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "cz-stamp-"));
}

function same(path: string, looks: Looks): boolean {
  const a = new Mixer();
  const b = new Mixer();
  mixCurrent(a, path, false, looks);
  mixRecorded(b, signatureOf(path));
  return a.digest() === b.digest();
}

test("the mixer takes a double as its two 32-bit halves, so different numbers mix differently", () => {
  const halves = new Uint32Array(new Float64Array([0]).buffer);
  for (const n of [0, -0, 1, -1, 0.1, 1796050699235.44, 2 ** 53 + 2, NaN, Infinity]) {
    const a = new Mixer();
    const b = new Mixer();
    a.number(n);
    new Float64Array(halves.buffer)[0] = n;
    b.word(halves[0]);
    b.word(halves[1]);
    assert.is(a.digest(), b.digest(), String(n));
  }
  const digests = [0, -0, 1, 1 + 2 ** -52, 1796050699235.44, 1796050699235.45].map((n) => {
    const m = new Mixer();
    m.number(n);
    return m.digest();
  });
  assert.is(new Set(digests).size, digests.length);
});

test("a recorded signature hashes like the path it was taken of, looked at either way", () => {
  const dir = scratch();
  writeFileSync(join(dir, "f"), "x");
  symlinkSync(join(dir, "f"), join(dir, "link"));
  symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
  const binding = bindingLooks(join(dir, "f"));
  assert.ok(binding, "Node 20's fs binding agrees with statSync");
  for (const looks of [statLooks, binding]) for (const p of ["f", "link", "dangling", "absent", "."]) assert.ok(same(join(dir, p), looks), p);
  assert.is(signatureOf(join(dir, "absent")), "-");
});

test("the fs binding is used only where it agrees with statSync, and never for a path with a NUL", () => {
  const dir = scratch();
  writeFileSync(join(dir, "f"), "x");
  const binding = bindingLooks(join(dir, "f"))!;
  assert.not.ok(mixCurrent(new Mixer(), `${join(dir, "f")}\0ignored`, true, binding), "the binding would have looked at f");
  const process_ = process as unknown as { binding(name: string): unknown };
  const real = process_.binding;
  try {
    // A binding whose array is laid out otherwise than this code expects.
    process_.binding = (name: string) => {
      const fs = real.call(process, name) as Record<string, (...args: unknown[]) => Float64Array | undefined>;
      const shifted = (fn: (...args: unknown[]) => Float64Array | undefined) => (...args: unknown[]) => fn(...args)?.map((_, i, a) => a[i + 1] ?? 0);
      return { stat: shifted(fs.stat), lstat: shifted(fs.lstat) };
    };
    assert.is(bindingLooks(join(dir, "f")), undefined, "a binding that disagrees is not used");
    process_.binding = () => {
      throw new Error("No such module: fs");
    };
    assert.is(bindingLooks(join(dir, "f")), undefined, "no binding");
  } finally {
    process_.binding = real;
  }
});

test("a command's own stat serves as the signature, as numbers or bigints, through links", () => {
  const dir = scratch();
  const f = join(dir, "f");
  writeFileSync(f, "x");
  symlinkSync(f, join(dir, "link"));
  for (const p of [f, join(dir, "link"), dir, join(dir, "absent")]) {
    const sig = followedSignature(statSync(p, { throwIfNoEntry: false }));
    assert.is(followedSignature(statSync(p, { bigint: true, throwIfNoEntry: false })), sig, `${p}: bigint stats`);
    const a = new Mixer();
    const b = new Mixer();
    assert.ok(mixCurrent(a, p, true));
    mixRecorded(b, sig);
    assert.is(a.digest(), b.digest(), p);
  }
  assert.is(followedSignature(statSync(join(dir, "link"))), followedSignature(statSync(f)), "a link is followed");
});

test("a signature changes with content, even when size and mtime are put back", async () => {
  const dir = scratch();
  const f = join(dir, "f");
  writeFileSync(f, "aaaa");
  const before = signatureOf(f);
  await sleep(20);
  writeFileSync(f, "bbbb");
  assert.is.not(signatureOf(f), before, "same size, new content");
  const { utimesSync, statSync } = await import("node:fs");
  const [, , , mtime] = before.split(":");
  utimesSync(f, statSync(f).atime, new Date(Number(mtime)));
  assert.is.not(signatureOf(f), before, "mtime set back: ctime still moved");
});

const context: Context = { argv: ["build"], cwd: "/w", tool: "t", terminal: "false:false false:false" };

function stampOf(files: string[], startedAt: number, env: Set<string> | null = new Set(), terminal = false): { file: string; written: boolean } {
  const dir = scratch();
  const file = join(dir, "stamp");
  const reads = new Map(files.map((p) => [p, signatureOf(p)] as [string, Signature]));
  return { file, written: writeStamp(file, context, { reads, startedAt, env, terminal }, { stdout: "done in \0\n", exitCode: 0 }) };
}

/** The stamp's header, edited by `edit`: how another process would see it. */
function editHeader(file: string, edit: (h: Record<string, unknown>) => void): void {
  const text = readFileSync(file, "utf8");
  const at = text.indexOf("\n");
  const header = JSON.parse(text.slice(0, at));
  edit(header);
  writeFileSync(file, JSON.stringify(header) + text.slice(at));
}

test("a stamp names the terminal only when the run asked about it", () => {
  const asked = stampOf([], Date.now() + 10_000, new Set(), true).file;
  assert.ok(replayable(asked, context));
  editHeader(asked, (h) => (h.terminal = "true:true true:true"));
  assert.is(replayable(asked, context), undefined, "asked, and the streams were terminals then");
  const never = stampOf([], Date.now() + 10_000, new Set(), false).file;
  editHeader(never, (h) => assert.is(h.terminal, null));
  assert.ok(replayable(never, context), "never asked: replays with any streams");
});

test("the terminal state read through Node's tty binding is the streams' own", () => {
  const streams = [process.stdout, process.stderr].map((s) => `${Boolean(s.isTTY)}:${(s.columns ?? 0) > 0}`).join(" ");
  assert.is(terminalState(), streams);
});

test("a stamp replays while nothing it lists changed, and not after", async () => {
  const dir = scratch();
  const f = join(dir, "f");
  writeFileSync(f, "1");
  const { file, written } = stampOf([f, dir], Date.now() + 10_000);
  assert.ok(written);
  assert.equal(replayable(file, context), { stdout: "done in \0\n", exitCode: 0 });
  for (const [field, value] of [["argv", ["build", "-j", "2"]], ["cwd", "/x"], ["tool", "t2"]] as const) {
    assert.is(replayable(file, { ...context, [field]: value }), undefined, field);
  }
  await sleep(20);
  appendFileSync(f, "2");
  assert.is(replayable(file, context), undefined, "an edit");
});

test("a stamp over many paths hashes them in parts: an edit in the first part or the last voids it, and so does a part missing", async () => {
  const dir = scratch();
  const files = Array.from({ length: 600 }, (_, i) => join(dir, `f${i}`));
  for (const f of files) writeFileSync(f, "1");
  for (const at of [0, 599]) {
    const { file, written } = stampOf(files, Date.now() + 10_000);
    assert.ok(written);
    editHeader(file, (h) => assert.is((h.signatures as string[]).length, 3, "600 paths, 256 to a part"));
    assert.ok(replayable(file, context));
    appendFileSync(files[at], "2");
    assert.is(replayable(file, context), undefined, `an edit of path ${at}`);
  }
  const again = stampOf(files, Date.now() + 10_000).file;
  assert.ok(replayable(again, context));
  editHeader(again, (h) => (h.signatures as string[]).pop());
  assert.is(replayable(again, context), undefined, "a part missing");
  editHeader(again, (h) => (h.format = 3));
  assert.is(replayable(again, context), undefined, "another format");
});

/** Runs `body` with the variables set (undefined: unset), then puts the environment back. */
function withEnv(vars: Record<string, string | undefined>, body: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const put = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) if (x === undefined) delete process.env[k];
    else process.env[k] = x;
  };
  put(vars);
  try {
    body();
  } finally {
    put(saved);
  }
}

test("a stamp counts the variables the run read, and those read outside process.env, not the rest", () => {
  withEnv({ CZ_READ: "1", CZ_UNREAD: "1", CZ_NEVER_SET: undefined }, () => {
    const { file } = stampOf([], Date.now() + 10_000, new Set(["CZ_READ", "CZ_NEVER_SET"]));
    assert.ok(replayable(file, context));
    withEnv({ CZ_UNREAD: "2", GIT_AUTHOR_DATE: "@1796015594 +0000" }, () => assert.ok(replayable(file, context), "not read: a git hook's variables"));
    withEnv({ CZ_READ: "2" }, () => assert.is(replayable(file, context), undefined, "a read variable changed"));
    withEnv({ CZ_READ: undefined }, () => assert.is(replayable(file, context), undefined, "a read variable unset"));
    withEnv({ CZ_NEVER_SET: "" }, () => assert.is(replayable(file, context), undefined, "a variable looked for and absent, now set"));
    withEnv({ TZ: "Pacific/Chatham" }, () => assert.is(replayable(file, context), undefined, "read natively: counted without a read"));
    withEnv({ NODE_OPTIONS: "--no-warnings" }, () => assert.is(replayable(file, context), undefined, "Node's options count"));

    const listed = stampOf([], Date.now() + 10_000, null).file;
    assert.ok(replayable(listed, context));
    withEnv({ CZ_UNREAD: "2" }, () => assert.is(replayable(listed, context), undefined, "a run that listed the environment counts all of it"));
  });
});

test("a path found absent is vouched for by its folder's signature", async () => {
  const dir = scratch();
  const probe = join(dir, "package.json");
  const { file, written } = stampOf([dir, probe], Date.now() + 10_000);
  assert.ok(written);
  assert.not.match(readFileSync(file, "utf8"), "package.json", "the absent entry is left to the folder");
  assert.ok(replayable(file, context));
  await sleep(20);
  writeFileSync(probe, "{}");
  assert.is(replayable(file, context), undefined, "creating it changed the folder");
});

test("a path changed during the run voids the stamp; one changed just before leaves none", async () => {
  const dir = scratch();
  const f = join(dir, "f");
  writeFileSync(f, "1");
  const reads = new Map([[f, signatureOf(f)]]);
  await sleep(20);
  writeFileSync(f, "22");
  const during = join(scratch(), "stamp");
  writeStamp(during, context, { reads, startedAt: Date.now() + 10_000, env: new Set(), terminal: false }, { stdout: "", exitCode: 0 });
  assert.is(replayable(during, context), undefined, "changed during the run: the signature from before no longer matches");
  const fresh = stampOf([f], Date.now());
  assert.not.ok(fresh.written, "changed less than a clock tick before the run could change again unseen");
  assert.equal(readdirSync(dirname(fresh.file)), [], "no stamp, no temporary file left");
});

/**
 * `check` writes no run log. A run of the engine that changed nothing rewrites its stamp (a new
 * file, renamed into place) unless a path it read changed within a clock tick before; a replay
 * leaves the stamp alone. So: wait out the tick, then an unchanged stamp means a replay.
 */
const stampIdentity = (ws: string, command: string) => {
  const s = statSync(join(ws, ".crystallize", "stamps", command));
  return `${s.ino}:${s.mtimeMs}`;
};

async function settledStamp(ws: string, command: string): Promise<string> {
  await sleep(150);
  return stampIdentity(ws, command);
}

/** What git adds to a pre-commit hook's environment: GIT_AUTHOR_DATE is new for every commit. */
function gitHookEnvironment(): Record<string, string> {
  return { GIT_AUTHOR_DATE: `@${Math.floor(Date.now() / 1000)} +0000`, GIT_INDEX_FILE: ".git/index", GIT_EDITOR: ":", GIT_PREFIX: "", PATH: `/usr/lib/git-core:${process.env.PATH}` };
}

// End to end: the CLI answers an unchanged `build` or `check` from the stamp of the last
// identical run. A stamped answer writes no run log, which is how these tests tell it apart.
const logs = (ws: string) => readdirSync(join(ws, ".crystallize", "logs")).length;

/** Runs `args` until a stamp exists: the first no-op after a build may be too close to its writes. */
async function stamped(ws: string, args: string[], env: Record<string, string> = {}, cwd = ws, code = 0): Promise<void> {
  const command = args.find((a) => a === "build" || a === "check")!;
  for (let i = 0; i < 5; i++) {
    const r = await runCli(args, cwd, env);
    assert.is(r.code, code, r.output);
    try {
      readFileSync(join(ws, ".crystallize", "stamps", command));
      return;
    } catch {
      await sleep(150);
    }
  }
  assert.unreachable("no stamp written after five unchanged runs");
}

test("an unchanged build is answered from its stamp; edits, views, env and flags are not", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  await stamped(ws, ["build"]);
  const before = logs(ws);
  const replay = await runCli(["build"], ws);
  assert.is(replay.code, 0);
  assert.match(replay.stdout, /done: 0 built, 2 up to date in \d+ms\n$/);
  assert.is(logs(ws), before, "answered from the stamp");

  const hook = await runCli(["build"], ws, gitHookEnvironment());
  assert.match(hook.stdout, /0 built, 2 up to date/);
  assert.is(logs(ws), before, "variables the build never reads do not void the stamp");
  const other = await runCli(["build"], ws, { CRYSTALLIZE_SCHEDULER: "fifo" });
  assert.match(other.stdout, /0 built, 2 up to date/);
  assert.is(logs(ws), before + 1, "a variable the build reads is not vouched for");
  const off = await runCli(["build"], ws, { CRYSTALLIZE_NO_STAMP: "1" });
  assert.match(off.stdout, /0 built, 2 up to date/);
  assert.is(logs(ws), before + 2, "CRYSTALLIZE_NO_STAMP=1 always looks");

  const view = join(ws, "data", "producer", "v0", "replicate_0", "baseline", "summary.json");
  const good = readFileSync(view, "utf8");
  writeFileSync(view, '{"total": 600}');
  const repaired = await runCli(["build"], ws);
  assert.is(repaired.code, 0, repaired.output);
  assert.is(readFileSync(view, "utf8"), good, "a view edited by hand is restored, not vouched for");

  await stamped(ws, ["build"]);
  const steps = join(ws, "experiments", "consumer", "steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 2"));
  const edited = await runCli(["build"], ws);
  assert.match(edited.stdout, /1 built, 1 up to date/, edited.output);

  mkdirSync(join(ws, "experiments", "third"));
  writeFileSync(join(ws, "experiments", "third", "config.yaml"), "datasource:\n  producer_summary: producer#summary\nsteps: [inspect_summary]\n");
  writeFileSync(join(ws, "experiments", "third", "steps.ts"), readFileSync(steps, "utf8"));
  const added = await runCli(["build"], ws);
  assert.match(added.stdout, /1 built, 2 up to date/, "a new experiment folder is seen");
  rmSync(ws, { recursive: true, force: true });
});

test("an answer from a stamp to a reader gone, or to a closed stdout, ends as the engine would: exit 0, no stack", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  await stamped(ws, ["build"]);
  const before = logs(ws);
  for (const stdout of ["gone", "closed"] as const) {
    const child =
      stdout === "gone"
        ? spawn(process.execPath, [BIN, "build"], { cwd: ws, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] })
        : spawn("sh", ["-c", `exec "$0" "$1" build >&-`, process.execPath, BIN], { cwd: ws, env: { ...process.env, CI: "true" }, stdio: ["ignore", "ignore", "pipe"] });
    // Like `| head -c0`: the read end is gone before the answer is written.
    if (stdout === "gone") child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.is(code, 0, `${stdout}: ${stderr}`);
    assert.is(stderr, "", stdout);
  }
  assert.is(logs(ws), before, "both answered from the stamp");
});

test("a deleted version folder is restored, not vouched for: the stamp lists the files in it", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  await stamped(ws, ["build"]);
  const folder = join(ws, "data", "producer", "v0");
  const view = join(folder, "replicate_0", "baseline", "summary.json");
  const good = readFileSync(view, "utf8");
  rmSync(folder, { recursive: true });
  const restored = await runCli(["build"], ws);
  assert.is(restored.code, 0, restored.output);
  assert.match(restored.stderr, /producer\s+v0\s+restored from the store/, restored.output);
  assert.is(readFileSync(view, "utf8"), good);
  rmSync(ws, { recursive: true, force: true });
});

test("a data folder kept inside .crystallize/ is still looked at: an edited view is not vouched for", async () => {
  const ws = copyFixture("tutorial");
  writeFileSync(join(ws, "crystallize.yaml"), "data: .crystallize/data\n");
  assert.is((await runCli(["build"], ws)).code, 0);
  await stamped(ws, ["build"]);
  const view = join(ws, ".crystallize", "data", "producer", "v0", "replicate_0", "baseline", "summary.json");
  const good = readFileSync(view, "utf8");
  writeFileSync(view, '{"total": 600}');
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.is(readFileSync(view, "utf8"), good, "restored by the engine, not replayed from the stamp");
  rmSync(ws, { recursive: true, force: true });
});

test("-C <dir> before the command finds that workspace's stamp", async () => {
  const ws = copyFixture("tutorial");
  const elsewhere = scratch();
  const args = ["-C", ws, "build", "consumer"];
  assert.is((await runCli(args, elsewhere)).code, 0);
  await stamped(ws, args, {}, elsewhere);
  const before = logs(ws);
  const replay = await runCli(args, elsewhere);
  assert.match(replay.stdout, /total_from_producer +6\n\ndone: 0 built, 2 up to date in \d+ms\n$/);
  assert.is(logs(ws), before, "answered from the stamp");
  rmSync(ws, { recursive: true, force: true });
});

test("an unchanged check is answered from its stamp; a config edit is not", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  await stamped(ws, ["check"]);
  const replay = await runCli(["check"], ws);
  assert.is(replay.code, 0);
  assert.is(replay.stdout, "crystallize.lock matches all 2 experiments\n");
  const before = await settledStamp(ws, "check");
  const hook = await runCli(["check"], ws, gitHookEnvironment());
  assert.is(hook.stdout, "crystallize.lock matches all 2 experiments\n");
  assert.is(stampIdentity(ws, "check"), before, "a git hook's environment does not void it");
  const header = (command: string) => JSON.parse(readFileSync(join(ws, ".crystallize", "stamps", command), "utf8").split("\n")[0]);
  assert.is(header("check").terminal, null, "its answer never asks about the terminal: it replays in a hook that captures output too");
  await stamped(ws, ["build"]);
  assert.type(header("build").terminal, "string", "a build asks, for its live progress");
  const config = join(ws, "experiments", "producer", "config.yaml");
  appendFileSync(config, "replicates: 2\n");
  const stale = await runCli(["check"], ws);
  assert.is(stale.code, 1, stale.output);
  assert.match(stale.stdout, /producer/);
  rmSync(ws, { recursive: true, force: true });
});

test("a check that finds the lock out of date is answered from its stamp too, with exit 1", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  appendFileSync(join(ws, "experiments", "producer", "config.yaml"), "replicates: 2\n");
  const first = await runCli(["check"], ws);
  assert.is(first.code, 1, first.output);
  await stamped(ws, ["check"], {}, ws, 1);
  const before = await settledStamp(ws, "check");
  const replay = await runCli(["check"], ws);
  assert.is(replay.code, 1, "the exit code is replayed with the answer");
  assert.is(replay.stdout, first.stdout);
  assert.is(stampIdentity(ws, "check"), before, "answered from the stamp");
  assert.is((await runCli(["build"], ws)).code, 0);
  const fixed = await runCli(["check"], ws);
  assert.is(fixed.code, 0, "the build rewrote the lock, which the stamp lists");
  assert.is(fixed.stdout, "crystallize.lock matches all 2 experiments\n");
  rmSync(ws, { recursive: true, force: true });
});

test("a check that analysed edited code with esbuild is stamped: the second check after the edit replays", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  const steps = join(ws, "experiments", "consumer", "steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 2"));
  await sleep(150);
  const first = await runCli(["check"], ws);
  assert.is(first.code, 1, first.output);
  const before = await settledStamp(ws, "check");
  const second = await runCli(["check"], ws);
  assert.is(second.code, 1);
  assert.is(second.stdout, first.stdout);
  assert.is(stampIdentity(ws, "check"), before, "answered from the stamp of the first, which started esbuild's service");
  rmSync(ws, { recursive: true, force: true });
});

test("the CLI asks esbuild only to transform text, which reads no file (what lets a run that started it be stamped)", () => {
  const uses: string[] = [];
  for (const entry of readdirSync(join(REPO, "lib"), { recursive: true, withFileTypes: true })) {
    // Workers are never traced.
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.parentPath.includes(join("lib", "runtime"))) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), "utf8");
    for (const m of text.matchAll(/const \{([^}]*)\} = await import\("esbuild"\)|import \{([^}]*)\} from "esbuild"/g)) uses.push((m[1] ?? m[2]).trim());
    assert.not.match(text, /require\(["']esbuild["']\)|import \* as \w+ from "esbuild"|import\("esbuild"\)\)?\./, `${entry.name}: esbuild used other than by named imports`);
  }
  assert.ok(uses.length >= 2, "found the analysis and the compiler");
  for (const use of uses) assert.ok(use === "transform" || use.startsWith("type "), `esbuild's ${use}: a trace would not see what it reads (see isTransformService in lib/stamp/trace.ts)`);
});

/** The paths a stamp lists, and the variables it counts. */
function stampContents(ws: string, command: string): { paths: string[]; envNames: string[] | null } {
  const [header, ...paths] = readFileSync(join(ws, ".crystallize", "stamps", command), "utf8").trimEnd().split("\n");
  return { paths: paths.sort(), envNames: JSON.parse(header).envNames };
}

/** Node's module loader reads this for `node --watch` whenever it loads a module: no input to an answer. */
const LOADER_ONLY = "WATCH_REPORT_DEPENDENCIES";

test("a build in a repository whose pre-commit hook runs check leaves check's stamp, as check itself would", async () => {
  const ws = copyFixture("tutorial");
  execFileSync("git", ["init", "-q", ws]);
  assert.is((await runCli(["hook", "install"], ws)).code, 0);
  const built = await runCli(["build"], ws);
  assert.is(built.code, 0, built.output);
  const prestamped = stampContents(ws, "check");
  const before = await settledStamp(ws, "check");
  const replay = await runCli(["check"], ws);
  assert.is(replay.code, 0, replay.output);
  assert.is(replay.stdout, "crystallize.lock matches all 2 experiments\n");
  assert.is(stampIdentity(ws, "check"), before, "the hook's first check is answered from the stamp the build left");

  // What a check run on its own lists: the same paths, the same variables. Besides the
  // tool's own modules, which it loads after its trace starts: the tool's identity covers them.
  rmSync(join(ws, ".crystallize", "stamps", "check"));
  await stamped(ws, ["check"]);
  const own = stampContents(ws, "check");
  assert.equal(prestamped.paths, own.paths.filter((p) => !p.replace(/^=/, "").startsWith(REPO + "/")));
  // The build's check may have parsed configs the later one took from the stat cache (the
  // YAML parser looks at LOG_TOKENS): it may count more variables, never fewer.
  for (const name of own.envNames ?? []) if (name !== LOADER_ONLY && !alwaysCounted(name)) assert.ok(prestamped.envNames?.includes(name), `counts ${name}`);

  const steps = join(ws, "experiments", "consumer", "steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 2"));
  const stale = await runCli(["check"], ws);
  assert.is(stale.code, 1, "an edit after the build voids the stamp");
  assert.match(stale.stdout, /consumer: code experiments\/consumer\/steps.ts modified/);
  rmSync(ws, { recursive: true, force: true });
});

test("watch mode's builds leave check's stamp too, where a hook runs check", async () => {
  const ws = copyFixture("tutorial");
  execFileSync("git", ["init", "-q", ws]);
  assert.is((await runCli(["hook", "install"], ws)).code, 0);
  const watch = startCli(["watch"], ws);
  let err = "";
  watch.stderr!.on("data", (d) => (err += d));
  try {
    const stampFile = join(ws, ".crystallize", "stamps", "check");
    await waitFor(() => existsSync(stampFile));
    const first = stampIdentity(ws, "check");
    const steps = join(ws, "experiments", "consumer", "steps.ts");
    writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 2"));
    await waitFor(() => stampIdentity(ws, "check") !== first);
    const before = await settledStamp(ws, "check");
    const replay = await runCli(["check"], ws);
    assert.is(replay.code, 0, replay.output + err);
    assert.is(stampIdentity(ws, "check"), before, "the check after a watch rebuild is answered from the stamp it left");
  } finally {
    watch.kill("SIGKILL");
    rmSync(ws, { recursive: true, force: true });
  }
});

test("without a hook that runs check, a build leaves no stamp of check", async () => {
  const ws = copyFixture("tutorial");
  execFileSync("git", ["init", "-q", ws]);
  writeFileSync(join(ws, ".git", "hooks", "pre-commit"), "#!/bin/sh\nexec npm run lint\n", { mode: 0o755 });
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.not.ok(existsSync(join(ws, ".crystallize", "stamps", "check")), "a hook that does not mention crystallize");
  writeFileSync(join(ws, ".pre-commit-config.yaml"), "repos:\n  - repo: local\n    hooks:\n      - id: crystallize-check\n");
  const steps = join(ws, "experiments", "consumer", "steps.ts");
  writeFileSync(steps, readFileSync(steps, "utf8").replace("data.producer_summary.total", "data.producer_summary.total * 3"));
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.ok(existsSync(join(ws, ".crystallize", "stamps", "check")), "a hook manager configured to run it");
  rmSync(ws, { recursive: true, force: true });
});

test("a variable an experiment declares in `env:` voids the stamps of build and check", async () => {
  const ws = copyFixture("tutorial");
  appendFileSync(join(ws, "experiments", "consumer", "config.yaml"), "env: [CZ_SCALE]\n");
  const env = { CZ_SCALE: "1" };
  assert.is((await runCli(["build"], ws, env)).code, 0);
  await stamped(ws, ["build"], env);
  await stamped(ws, ["check"], env);
  const before = await settledStamp(ws, "check");
  assert.is((await runCli(["check"], ws, env)).code, 0);
  assert.is(stampIdentity(ws, "check"), before, "answered from the stamp");
  const check = await runCli(["check"], ws, { CZ_SCALE: "2" });
  assert.is(check.code, 1, check.output);
  assert.match(check.stdout, /consumer[\s\S]*CZ_SCALE/);
  const build = await runCli(["build"], ws, { CZ_SCALE: "2" });
  assert.match(build.stdout, /1 built, 1 up to date/, build.output);
  rmSync(ws, { recursive: true, force: true });
});

test.run();
