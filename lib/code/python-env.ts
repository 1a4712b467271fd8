import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import type { ExperimentConfig } from "../config/types.js";
import { CrystallizeError } from "../errors/error.js";
import { writeFileAtomic } from "../store/atomic.js";

/** What a Python interpreter brings to a result besides the user's code. Cached per interpreter. */
export interface PythonEnv {
  /** `sys.executable`: spawned directly, so a pyenv or asdf shim is not paid for each worker. */
  executable: string;
  /** `3.11.7`. */
  version: string;
  /** `sys.stdlib_module_names`: imports that are not packages. */
  stdlib: string[];
  /** Importable top-level module -> the distribution(s) providing it, `name==version`, and their dependencies' digest (see PROBE). */
  packages: Record<string, string>;
  /** Existing `sys.path` folders: installing or removing a package changes their mtime. */
  paths: string[];
}

interface CachedEnv {
  /** File or folder -> `size:mtime:ctime:ino` when the probe ran. */
  stamps: Record<string, string>;
  /** The PROBE_FORMAT that answered. */
  format: number;
  env: PythonEnv;
}

/**
 * Asks the interpreter for its facts. A module's packages are recorded as `name==version`, with
 * a digest of every installed distribution they require, directly or not (`deps:<digest>`): an
 * upgrade of numpy changes what pandas computes without changing pandas' version. A requirement
 * that is not installed is left out (an environment marker or an extra excluded it); when it is
 * installed later, the digest changes. So is one for some platforms only (`colorama;
 * sys_platform == "win32"`): a lock written on a Mac must match in CI on Linux.
 */
const PROBE = `
import hashlib, json, os, re, sys
from importlib import metadata
def norm(name): return re.sub(r"[-_.]+", "-", name).lower()
versions, packages, requires = {}, {}, {}
for d in metadata.distributions():
    try:
        name = d.metadata["Name"]
        versions.setdefault(name, d.version)
        requires.setdefault(norm(name), (f"{name}=={d.version}", d.requires or []))
    except Exception: pass
def dependencies(names):
    seen = {norm(n) for n in names}
    queue, found = list(seen), set()
    while queue:
        for req in requires.get(queue.pop(), ("", []))[1]:
            if re.search(r";.*\\b(sys_platform|platform_\\w+|os_name)\\b", req): continue
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req.strip())
            n = m and norm(m.group(0))
            if n in requires and n not in seen:
                seen.add(n)
                queue.append(n)
                found.add(requires[n][0])
    return sorted(found)
try: provided = metadata.packages_distributions()
except Exception: provided = {}
for mod, dists in provided.items():
    pinned = " ".join(sorted(f"{n}=={versions.get(n, '?')}" for n in set(dists)))
    found = dependencies(set(dists))
    if found: pinned += " deps:" + hashlib.sha256("\\n".join(found).encode()).hexdigest()[:16]
    packages[mod] = pinned
print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
  "stdlib": sorted(getattr(sys, "stdlib_module_names", [])), "packages": packages,
  "paths": [p for p in sys.path if p and os.path.isdir(p)]}))
`;

/** Changes with what PROBE answers: a cached answer of another probe is asked again. */
const PROBE_FORMAT = 2;

function stamp(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
  } catch {
    return "missing";
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* next folder */
    }
  }
  return undefined;
}

/** The interpreter an experiment uses: config `python:`, else the workspace's .venv, else python3. */
export function interpreterFor(root: string, cfg: Pick<ExperimentConfig, "python" | "pythonLocation" | "dir" | "configFile">): string {
  if (cfg.python) {
    const asPath = cfg.python.includes("/") ? (isAbsolute(cfg.python) ? cfg.python : join(root, cfg.dir, cfg.python)) : onPath(cfg.python);
    if (asPath && existsSync(asPath)) return asPath;
    throw new CrystallizeError("PYTHON_NOT_FOUND", `python interpreter \`${cfg.python}\` not found`, {
      location: cfg.pythonLocation ?? { file: cfg.configFile },
      hint: cfg.python.includes("/") ? "paths are relative to the experiment folder; check that the virtualenv exists" : "install it, or give a path: `python: ../../.venv/bin/python`",
    });
  }
  const venv = join(root, ".venv", "bin", "python");
  if (existsSync(venv)) return venv;
  const python3 = onPath("python3");
  if (python3) return python3;
  throw new CrystallizeError("PYTHON_NOT_FOUND", `${cfg.dir} is a Python experiment, but no python3 is on PATH and the workspace has no .venv`, {
    location: { file: cfg.configFile },
    hint: "install Python 3, create a virtualenv with `python3 -m venv .venv` in the workspace root, or set `python:` in config.yaml",
  });
}

function isScript(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2);
    readSync(fd, head, 0, 2, 0);
    return head.toString() === "#!";
  } finally {
    closeSync(fd);
  }
}

/** Files and variables that decide which Python a version-manager shim (pyenv, asdf) runs. */
function shimInputs(root: string): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (let dir = root; ; dir = dirname(dir)) {
    for (const f of [".python-version", ".tool-versions"]) inputs[join(dir, f)] = stamp(join(dir, f));
    if (dirname(dir) === dir) break;
  }
  const pyenvRoot = process.env.PYENV_ROOT ?? join(homedir(), ".pyenv");
  inputs[join(pyenvRoot, "version")] = stamp(join(pyenvRoot, "version"));
  for (const v of ["PYENV_VERSION", "ASDF_PYTHON_VERSION"]) inputs[`$${v}`] = process.env[v] ?? "";
  return inputs;
}

type Cache = Record<string, CachedEnv | { stamps: Record<string, string>; executable: string }>;

function fresh(stamps: Record<string, string>, root: string): boolean {
  const shim = shimInputs(root);
  return Object.entries(stamps).every(([p, s]) => (p in shim ? shim[p] : stamp(p)) === s);
}

/**
 * Probes an interpreter once and remembers the answer in the state folder until the
 * interpreter or its package folders change. A shim script (pyenv: half a second per call) is
 * resolved to the real executable once, and again only when a `.python-version`-style file or
 * variable changes.
 */
export function probePython(interpreter: string, root: string, stateDir: string): PythonEnv {
  const cacheFile = join(stateDir, "python-env.json");
  let cache: Cache = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8"));
  } catch {
    /* first probe */
  }
  let dirty = false;
  let executable = interpreter;
  if (isScript(interpreter)) {
    const known = cache[`shim:${interpreter}`];
    if (known && "executable" in known && fresh(known.stamps, root)) executable = known.executable;
    else {
      executable = run(interpreter, "import sys; print(sys.executable)").trim();
      cache[`shim:${interpreter}`] = { stamps: { [interpreter]: stamp(interpreter), ...shimInputs(root) }, executable };
      dirty = true;
    }
  }
  const cached = cache[executable];
  let env: PythonEnv;
  if (cached && "env" in cached && cached.format === PROBE_FORMAT && fresh(cached.stamps, root)) env = cached.env;
  else {
    env = parseProbe(executable, run(executable, PROBE));
    const stamps: Record<string, string> = {};
    for (const p of [executable, env.executable, ...env.paths]) stamps[p] = stamp(p);
    cache[executable] = { stamps, format: PROBE_FORMAT, env };
    dirty = true;
  }
  if (dirty) void writeFileAtomic(cacheFile, JSON.stringify(cache)).catch(() => {});
  return env;
}

function run(interpreter: string, code: string): string {
  try {
    return execFileSync(interpreter, ["-c", code], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; status?: number | null; code?: string; message: string };
    // Not the whole error message: it quotes the probe script.
    const why = e.stderr?.trim().split("\n").pop() || (e.code ? e.code : `it exited with code ${e.status}`);
    throw new CrystallizeError("PYTHON_NOT_FOUND", `could not run ${interpreter}: ${why}`, {
      hint: "check that the interpreter works: run it with --version",
    });
  }
}

/** The probe's answer; anything else means the program is not a Python 3 interpreter. */
function parseProbe(interpreter: string, output: string): PythonEnv {
  try {
    const env = JSON.parse(output) as PythonEnv;
    if (typeof env.executable === "string" && typeof env.version === "string") return env;
  } catch {
    /* reported below */
  }
  throw new CrystallizeError("PYTHON_NOT_FOUND", `${interpreter} does not behave like a Python 3 interpreter: it ran the probe script but did not answer`, {
    hint: "point `python:` in config.yaml at a Python 3 executable (e.g. ../../.venv/bin/python)",
  });
}
