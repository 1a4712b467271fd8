// verify, git hooks and the CI cache recipe: the ways crystallize is used besides a build.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyFixture, exists, makeWorkspace, runCli } from "./helpers.js";

const verify = suite("verify");

const NONDETERMINISTIC = {
  "experiments/stable/config.yaml": "replicates: 2\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
  "experiments/stable/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write(String(ctx.random())); return d; };",
  "experiments/noisy/config.yaml": "datasource: {s: stable#o}\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
  "experiments/noisy/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write(String(Math.random())); return d; };",
};

verify("the tutorial reproduces; verify changes neither the lock nor the versions", async () => {
  const ws = copyFixture("tutorial");
  assert.is((await runCli(["build"], ws)).code, 0);
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const r = await runCli(["verify"], ws);
  assert.is(r.code, 0, r.output);
  assert.match(r.stdout, /reproduced: 2 experiments rebuilt to the locked outputs, byte for byte/);
  assert.match(r.stderr, /▸ producer[\s\S]*▸ consumer/, "both really ran again");
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lock);
  assert.equal(readdirSync(join(ws, "data/producer")), ["v0"]);
});

verify("unseeded randomness is caught: the output that differs is named, exit 1, nothing changes", async () => {
  const ws = makeWorkspace(NONDETERMINISTIC);
  assert.is((await runCli(["build"], ws)).code, 0);
  const lock = readFileSync(join(ws, "crystallize.lock"), "utf8");
  const view = readFileSync(join(ws, "data/noisy/v0/replicate_0/baseline/o.txt"), "utf8");
  const r = await runCli(["verify"], ws);
  assert.is(r.code, 1, r.output);
  assert.match(r.stdout, /^differs {2}noisy {2}baseline\/replicate_0\/o\.txt {2}locked [0-9a-f]{32} {2}rebuilt [0-9a-f]{32}$/m);
  assert.not.match(r.stdout, /differs {2}stable/, "the seeded experiment reproduces");
  assert.match(r.stdout, /not reproducible: 1 output differs from crystallize\.lock; nothing was changed/);
  assert.is(readFileSync(join(ws, "crystallize.lock"), "utf8"), lock);
  assert.is(readFileSync(join(ws, "data/noisy/v0/replicate_0/baseline/o.txt"), "utf8"), view);
  assert.equal(readdirSync(join(ws, "data/noisy")), ["v0"]);
  const json = await runCli(["verify", "noisy", "--json"], ws);
  assert.is(json.code, 1);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.verified, ["noisy"]);
  assert.equal(doc.mismatches.map((m: any) => [m.experiment, m.condition, m.replicate, m.file]), [["noisy", "baseline", 0, "o.txt"]]);
  assert.is((await runCli(["build"], ws)).stdout.includes("0 built, 2 up to date"), true, "still fresh afterwards");
});

verify("verify on a workspace that is not built is a usage error", async () => {
  const ws = makeWorkspace(NONDETERMINISTIC);
  const r = await runCli(["verify"], ws);
  assert.is(r.code, 2, r.output);
  assert.match(r.stderr, /run `crystallize build` first/);
});

verify.run();

const hook = suite("git hook");

function git(ws: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: ws, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
}

hook("hook install writes a pre-commit hook that runs crystallize check, and refuses a foreign one", async () => {
  const ws = copyFixture("tutorial");
  git(ws, "init", "-q");
  const r = await runCli(["hook", "install"], ws);
  assert.is(r.code, 0, r.output);
  const path = join(ws, ".git/hooks/pre-commit");
  const text = readFileSync(path, "utf8");
  assert.match(text, /exec "\$d\/node_modules\/\.bin\/crystallize" check/, "the project's own install first");
  assert.match(text, /exec npx --no-install crystallize check/, "npx when there is none");
  assert.ok(statSync(path).mode & 0o100, "executable");
  assert.is((await runCli(["hook", "install"], ws)).code, 0, "reinstalling its own hook is fine");
  writeFileSync(path, "#!/bin/sh\necho mine\n");
  const refused = await runCli(["hook", "install"], ws);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /a pre-commit hook that crystallize did not write exists/);
  assert.is(readFileSync(path, "utf8"), "#!/bin/sh\necho mine\n");
  assert.is((await runCli(["hook", "install", "--force"], ws)).code, 0);
  assert.match(readFileSync(path, "utf8"), /crystallize check/);
});

hook("the installed hook blocks a commit whose lock is stale", async () => {
  const ws = copyFixture("tutorial");
  git(ws, "init", "-q");
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.is((await runCli(["hook", "install"], ws)).code, 0);
  // The hook runs `npx --no-install crystallize`: give it this checkout's CLI.
  const bin = mkdtempSync(join(tmpdir(), "cz-bin-"));
  writeFileSync(join(bin, "npx"), `#!/bin/sh\n# npx --no-install crystallize ARGS\nshift 2\nexec "${process.execPath}" "${join(process.cwd(), "bin/crystallize.js")}" "$@"\n`);
  chmodSync(join(bin, "npx"), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
  writeFileSync(join(ws, ".gitignore"), "data/\n.crystallize/\n");
  git(ws, "add", "-A");
  execFileSync("git", ["commit", "-qm", "fresh"], { cwd: ws, env });
  writeFileSync(join(ws, "experiments/consumer/steps.ts"), readFileSync(join(ws, "experiments/consumer/steps.ts"), "utf8").replace("total_from_producer", "total_seen"));
  git(ws, "add", "-A");
  let failed = false;
  try {
    execFileSync("git", ["commit", "-qm", "stale"], { cwd: ws, env, stdio: "pipe" });
  } catch (err) {
    failed = true;
    // git passes a hook's output on through its own stderr.
    const e = err as { stdout: Buffer; stderr: Buffer };
    assert.match(String(e.stdout) + String(e.stderr), /stale {3}consumer: code experiments\/consumer\/steps\.ts modified/);
  }
  assert.ok(failed, "the commit was refused");
});

hook("the installed hook runs the nearest node_modules/.bin/crystallize, not npx", async () => {
  const repo = mkdtempSync(join(tmpdir(), "cz-hookrepo-"));
  git(repo, "init", "-q");
  cpSync(copyFixture("tutorial"), join(repo, "analysis"), { recursive: true });
  assert.is((await runCli(["hook", "install"], join(repo, "analysis"))).code, 0);
  mkdirSync(join(repo, "node_modules", ".bin"), { recursive: true });
  writeFileSync(join(repo, "node_modules", ".bin", "crystallize"), `#!/bin/sh\necho "local crystallize $* in $PWD"\n`);
  chmodSync(join(repo, "node_modules", ".bin", "crystallize"), 0o755);
  const out = execFileSync("sh", [join(repo, ".git", "hooks", "pre-commit")], { cwd: repo, encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" } });
  assert.is(out, `local crystallize check in ${join(repo, "analysis")}\n`);
});

hook("a build knows whether a commit runs check: git's hook, husky's, or a hook manager's config", async () => {
  const { hookRunsCheck } = await import("../lib/cli/hook.js");
  const repo = mkdtempSync(join(tmpdir(), "cz-hooks-"));
  const ws = join(repo, "sub");
  mkdirSync(join(ws, "experiments"), { recursive: true });
  assert.not.ok(hookRunsCheck(ws), "not in git");
  git(repo, "init", "-q");
  assert.not.ok(hookRunsCheck(ws), "no hook installed");
  writeFileSync(join(repo, ".pre-commit-config.yaml"), "repos: [{repo: local, hooks: [{id: crystallize-check}]}]\n");
  assert.not.ok(hookRunsCheck(ws), "configured but never installed");
  writeFileSync(join(repo, ".git", "hooks", "pre-commit"), "#!/bin/sh\nexec pre-commit hook-impl\n");
  assert.ok(hookRunsCheck(ws), "the pre-commit framework's hook, configured to run it");
  rmSync(join(repo, ".pre-commit-config.yaml"));
  assert.not.ok(hookRunsCheck(ws), "a hook that runs something else");
  rmSync(join(repo, ".git", "hooks", "pre-commit"));
  mkdirSync(join(repo, ".husky"));
  writeFileSync(join(repo, ".husky", "pre-commit"), "npx --no-install crystallize check\n");
  assert.ok(hookRunsCheck(ws), "husky");
  rmSync(repo, { recursive: true, force: true });
});

hook.run();

const ci = suite("CI cache recipe");

/** The repository files a CI checkout has: experiments, settings, lock; no data, no state. */
function checkout(from: string): string {
  const to = mkdtempSync(join(tmpdir(), "cz-ci-b-"));
  for (const f of ["experiments", "crystallize.lock"]) cpSync(join(from, f), join(to, f), { recursive: true });
  return to;
}

ci("restoring only data/.store into a fresh checkout: build --frozen runs nothing, restores every view, keeps the lock", async () => {
  const a = copyFixture("tutorial");
  const built = await runCli(["build"], a);
  assert.is(built.code, 0, built.output);
  const b = checkout(a);
  cpSync(join(a, "data/.store"), join(b, "data/.store"), { recursive: true });
  assert.is((await runCli(["check"], b)).code, 0, "the lock matches the checkout");
  const r = await runCli(["build", "--frozen"], b);
  assert.is(r.code, 0, r.output);
  assert.not.match(r.stderr, /▸/, "nothing ran");
  assert.match(r.stderr, /✓ producer {2}v0 {2}restored from the store/);
  for (const f of ["data/producer/v0/replicate_0/baseline/summary.json", "data/producer/v0/metadata.json", "data/consumer/v0/baseline/results.json"]) {
    assert.is(readFileSync(join(b, f), "utf8"), readFileSync(join(a, f), "utf8"), f);
  }
  assert.is(readFileSync(join(b, "crystallize.lock"), "utf8"), readFileSync(join(a, "crystallize.lock"), "utf8"));
});

ci("a partially restored store rebuilds only what is missing", async () => {
  const a = makeWorkspace({
    "experiments/p/config.yaml": "replicates: 3\noutputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/p/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write('p' + ctx.replicate); return d; };",
    "experiments/q/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/q/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write('q'); return d; };",
  });
  assert.is((await runCli(["build"], a)).code, 0);
  const b = checkout(a);
  cpSync(join(a, "data/.store"), join(b, "data/.store"), { recursive: true });
  // Lose the object holding p's replicate 1 output, as an evicted cache entry would.
  const lock = readFileSync(join(a, "crystallize.lock"), "utf8");
  const digest = /replicate_1\/o\.txt: ([0-9a-f]{32})/.exec(lock)![1];
  rmSync(join(b, "data/.store/objects", digest.slice(0, 2), digest.slice(2)));
  const frozen = await runCli(["build", "--frozen"], b);
  assert.is(frozen.code, 1, "frozen refuses: something must run");
  assert.match(frozen.stderr, /stale {3}p \(1\/3 units\): 1 result missing or corrupt in the store/);
  const r = await runCli(["build", "--json"], b);
  assert.is(r.code, 0, r.output);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.experiments.map((e: any) => [e.name, e.units.ran]), [["p", 1], ["q", 0]]);
  assert.is(readFileSync(join(b, "crystallize.lock"), "utf8"), lock, "same result, same lock");
  assert.ok(exists(join(b, "data/p/v0/replicate_1/baseline/o.txt")));
});

ci("a lock git left merge conflicts in: check fails, verify and gc refuse, build writes it afresh", async () => {
  const ws = makeWorkspace({
    "experiments/p/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\n",
    "experiments/p/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write('p'); return d; };",
    "experiments/c/config.yaml": "datasource: {x: p#o}\nsteps: [s]\n",
    "experiments/c/steps.ts": "export const s = (d: unknown) => d;",
    "experiments/solo/config.yaml": "steps: [s]\n",
    "experiments/solo/steps.ts": "export const s = (d: unknown) => d;",
  });
  assert.is((await runCli(["build"], ws)).code, 0);
  const lockPath = join(ws, "crystallize.lock");
  const clean = readFileSync(lockPath, "utf8");
  // What `git merge` leaves when both sides rebuilt p from different code.
  const keyLine = /^ {4}key: [0-9a-f]{32}$/m.exec(clean.slice(clean.indexOf("\n  p:\n")))![0];
  const conflicted = clean.replace(keyLine, `<<<<<<< HEAD\n${keyLine}\n=======\n    key: ${"0".repeat(32)}\n>>>>>>> theirs`);
  const line = conflicted.slice(0, conflicted.indexOf("<<<<<<<")).split("\n").length;
  writeFileSync(lockPath, conflicted);

  const check = await runCli(["check"], ws);
  assert.is(check.code, 1, check.output);
  assert.match(check.stdout, new RegExp(`crystallize\\.lock:${line} has unresolved merge conflicts: run \`crystallize build\`, which writes it afresh`));
  const checkJson = JSON.parse((await runCli(["check", "--json"], ws)).stdout);
  assert.equal([checkJson.ok, checkJson.lock, checkJson.lockConflict], [false, false, true]);
  const status = await runCli(["status"], ws);
  assert.is(status.code, 0, status.output);
  assert.match(status.stdout, /warning: crystallize\.lock:\d+ has unresolved merge conflicts/);
  for (const args of [["verify"], ["gc"]]) {
    const r = await runCli(args, ws);
    assert.is(r.code, 2, `${args[0]}: ${r.output}`);
    assert.match(r.stderr, new RegExp(`crystallize\\.lock:${line} error: crystallize\\.lock has unresolved merge conflicts`));
  }
  assert.is(readFileSync(lockPath, "utf8"), conflicted, "nothing wrote the lock so far");
  assert.ok(exists(join(ws, "data/p/v0/replicate_0/baseline/o.txt")), "gc removed nothing");

  const partial = await runCli(["build", "c"], ws);
  assert.is(partial.code, 0, partial.output);
  assert.not.match(partial.stderr, /▸/, "nothing ran: the results are in the store");
  assert.match(partial.stderr, /crystallize\.lock had merge conflicts: this build wrote it afresh, without the 1 experiment it did not build/);
  assert.not.match(readFileSync(lockPath, "utf8"), /<<<<<<<|>>>>>>>/);
  assert.is((await runCli(["check"], ws)).code, 1, "solo is not recorded yet");
  assert.is((await runCli(["build"], ws)).code, 0);
  assert.is(readFileSync(lockPath, "utf8"), clean, "the same lock as before the merge");
  assert.is((await runCli(["check"], ws)).code, 0);
});

ci.run();

const treatments = suite("treatments");

treatments("treatments lists states and --disable/--enable edit config.state.json, not config.yaml", async () => {
  const ws = makeWorkspace({
    "experiments/p/config.yaml": "outputs: {o: {file_name: o.txt}}\nsteps: [w]\ntreatments: {baseline: {}, a: {k: 1}, b: {k: 2}}\n",
    "experiments/p/steps.ts": "export const w = (d: unknown, ctx: any) => { ctx.outputs.o.write(String(ctx.params.k ?? 0)); return d; };",
  });
  const config = readFileSync(join(ws, "experiments/p/config.yaml"), "utf8");
  const list = await runCli(["treatments", "p"], ws);
  assert.is(list.stdout, "active    a\nactive    b\n");
  const off = await runCli(["treatments", "p", "--disable", "b"], ws);
  assert.is(off.code, 0, off.output);
  assert.is(off.stdout, "active    a\ninactive  b\n");
  assert.is(readFileSync(join(ws, "experiments/p/config.state.json"), "utf8"), '{"inactive_treatments":["b"]}\n');
  assert.is(readFileSync(join(ws, "experiments/p/config.yaml"), "utf8"), config);
  const built = await runCli(["build", "--json"], ws);
  assert.equal(Object.keys(JSON.parse(built.stdout).experiments[0].outputs).sort(), ["a/replicate_0/o.txt", "baseline/replicate_0/o.txt"]);
  assert.is((await runCli(["treatments", "p", "--enable", "b"], ws)).stdout, "active    a\nactive    b\n");
  const bad = await runCli(["treatments", "p", "--disable", "c"], ws);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /p has no treatment "c"/);
});

treatments.run();
