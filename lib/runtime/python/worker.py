"""Worker process for Python experiments. The CLI starts one per experiment and sends it
units (experiment, condition, replicate) as JSON lines; replies go back on a private copy of
the original stdout, so a step's print() or a C library writing to fd 1 cannot corrupt them:
fd 1 is pointed at stderr, which the CLI shows as the step's log.
"""
import asyncio
import importlib
import importlib.util
import inspect
import json
import math
import os
import random
import sys
import time
import traceback
import types
from pathlib import Path

_PROTO_OUT = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
_PROTO_IN = os.fdopen(os.dup(0), "r", encoding="utf-8")
os.dup2(2, 1)
_devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(_devnull, 0)
sys.stdout = sys.stderr

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

from crystallize import Artifact, FrozenContext, _Metrics  # noqa: E402

_OWN_FILES = (os.path.abspath(__file__), os.path.join(_HERE, "crystallize", "__init__.py"))
_CONTEXT_NAMES = ("ctx", "context")
_END_OF_LOG = "\x00crystallize:end-of-log"


class WiringError(Exception):
    """A mismatch between config.yaml and the code: reported without a traceback."""


# What a unit reads, for the CLI's warnings about files and modules its key does not cover (see
# lib/run/undeclared.ts), as Node units report it. Python's audit hook (PEP 578) sees every open:
# builtins.open, io.open, os.open, and the import system's reads of modules.
_reads = None
_listed = None
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# The interpreter's own files and installed packages (a virtual environment inside the
# workspace included), and this worker's: no user code or data.
_NOT_USERS = tuple({os.path.join(os.path.abspath(p), "") for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE)})


def _on_audit(event, args):
    if _reads is None:
        return
    if event in ("os.listdir", "os.scandir"):
        folder = "." if args[0] is None else args[0]
        if not isinstance(folder, int) and _asked_by_user(sys._getframe(1)):
            _listed.add(os.path.abspath(os.fsdecode(folder)))
        return
    if event != "open":
        return
    path, _mode, flags = args
    if isinstance(path, int) or flags is None or flags & _WRITES:
        return
    try:
        _reads.add(os.path.abspath(os.fsdecode(path)))
    except (TypeError, ValueError):
        pass


def _asked_by_user(frame):
    """Whether a listing comes from user code, directly or through a library (glob), and not from
    importlib: the import system lists every folder it imports from, importlib.metadata every
    folder on sys.path (the experiment's own among them), and neither is data. The nearest frame
    that is user code or importlib decides."""
    while frame is not None:
        file = frame.f_code.co_filename
        if file.startswith("<frozen importlib") or f"{os.sep}importlib{os.sep}" in file:
            return False
        if not file.startswith(_NOT_USERS) and not file.startswith("<"):
            return True
        frame = frame.f_back
    return False


sys.addaudithook(_on_audit)


# Environment variables the unit's own code reads, for the CLI's warning about those env: does
# not declare (as lib/runtime/env-reads.ts records them for Node units). A read counts when the
# nearest frame outside the standard library (os.getenv and Mapping.get call in from there) is
# user code: packages (whatever site-packages holds them) read variables of their own
# (OMP_NUM_THREADS, ...).
_env_reads = None
# Names handed out by iterating os.environ and not read since: dict(os.environ), a copy for a
# child process, iterates and then reads every name, which is no dependency on any one of them.
_env_listed = set()
_STDLIB = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "")
_PACKAGES = f"{os.sep}site-packages{os.sep}"


def _env_read_by_user(frame):
    while frame is not None:
        file = frame.f_code.co_filename
        if not (file.startswith("<") or (file.startswith(_STDLIB) and _PACKAGES not in file)):
            return not file.startswith(_NOT_USERS) and _PACKAGES not in file
        frame = frame.f_back
    return False


class _WatchedEnviron(type(os.environ)):
    def __getitem__(self, key):
        if key in _env_listed:
            _env_listed.discard(key)
        elif _env_reads is not None and isinstance(key, str) and key not in _env_reads and _env_read_by_user(sys._getframe(1)):
            _env_reads.add(key)
        return super().__getitem__(key)

    def __iter__(self):
        for key in super().__iter__():
            _env_listed.add(key)
            yield key


os.environ.__class__ = _WatchedEnviron


def start_reads():
    """Starts recording; returns the modules imported so far, to tell the unit's imports apart."""
    global _reads, _listed, _env_reads
    _reads, _listed, _env_reads = set(), set(), set()
    _env_listed.clear()
    return set(sys.modules)


def take_reads(modules_before):
    """Files the unit opened to read, files of the modules it imported, folders it listed and
    environment variables its code read; recording stops."""
    global _reads, _listed, _env_reads
    opened, folders, _reads, _listed = _reads or set(), _listed or set(), None, None
    env, _env_reads = sorted(_env_reads or ()), None
    loaded = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and name not in modules_before:
            loaded.add(os.path.abspath(file))
    # A module imported is read from its bytecode cache when there is one: that is no data.
    read = {p for p in opened if p not in loaded and "__pycache__" not in p.split(os.sep)}
    mine = lambda paths: sorted(p for p in paths if not p.startswith(_NOT_USERS))
    return {"read": mine(read), "loaded": mine(loaded), "listed": mine(folders), "env": env}


def send(msg):
    # allow_nan=False: a bare NaN is not JSON, and the CLI would never read the reply.
    _PROTO_OUT.write(json.dumps(_plain(msg), allow_nan=False) + "\n")
    _PROTO_OUT.flush()


def _plain(value):
    """JSON-ready: numpy scalars and arrays as Python values, NaN and infinities as null
    (as JSON.stringify stores them for TypeScript experiments)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return _plain(_json_default(value))


def _json_default(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars (an array's .item() fails)
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


_modules = {}


def _package_for(folder, name):
    """A synthetic package whose path is `folder`, so that modules inside it can use relative
    imports (`from . import helpers`, `from .pkg import mod`) as in Crystallize 0.x."""
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [folder]
        package.__package__ = name
        sys.modules[name] = package
    return name


def load_module(path):
    """The experiment's own modules are imported inside a package over its folder, with the
    folder also on sys.path so absolute sibling imports (`import helpers`) work too. An
    upstream's outputs module (for its loader) gets a package of its own: the reading experiment
    may have an `outputs.py` too. Its folder goes last on sys.path, for its absolute imports."""
    folder = os.path.dirname(path)
    if folder == os.getcwd():
        if folder not in sys.path:
            sys.path.insert(1, folder)
        package = _package_for(folder, "_crystallize_experiment")
    else:
        if folder not in sys.path:
            sys.path.append(folder)
        package = _package_for(folder, f"_crystallize_upstream_{len(_modules)}")
    return importlib.import_module(f"{package}.{Path(path).stem}")


def resolve(ref, role):
    path = ref["module"]
    mod = _modules.get(path)
    if mod is None:
        mod = load_module(path)
        _modules[path] = mod
    fn = getattr(mod, ref["name"], None)
    if fn is None:
        raise WiringError(f"{os.path.basename(path)} does not define `{ref['name']}`, which config.yaml names as a {role}")
    if not callable(fn):
        raise WiringError(f"`{ref['name']}` in {os.path.basename(path)} is not a function (it is {type(fn).__name__})")
    return fn


def call(value):
    result = value
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable):
    return await awaitable


def invoke(fn, kind, positional, named, ctx, pinned=()):
    """Calls a step or data source: positional data first, the context to a parameter named
    ctx (or annotated FrozenContext), every other parameter by name from `named`, else its
    default. A config kwarg the function does not take is an error, not silently dropped."""
    sig = inspect.signature(fn)
    args, kwargs, used = list(positional), {}, set()
    params = list(sig.parameters.values())
    if kind == "data source" and params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD) \
            and params[0].name not in named and params[0].name not in _CONTEXT_NAMES:
        # 0.x passes the context positionally: `def numbers(c)` gets it whatever its name.
        args.append(ctx)
    takes_var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    for i, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if i < len(args):
            continue
        annotation = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        if p.name in _CONTEXT_NAMES or annotation == "FrozenContext":
            value = ctx
        elif p.name in named:
            value = named[p.name]
            used.add(p.name)
        elif p.default is not p.empty:
            continue
        else:
            raise WiringError(
                f"parameter '{p.name}' of {kind} '{fn.__name__}' has no value: it is not an output, a "
                f"treatment value, a step kwarg or a context value, and has no default"
            )
        if p.kind == p.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[p.name] = value
    unknown = [k for k in pinned if k not in used]
    if unknown and not takes_var_kw:
        raise WiringError(f"config.yaml gives {kind} '{fn.__name__}' the argument(s) {', '.join(unknown)}, which it does not take")
    if takes_var_kw:
        for k in pinned:
            if k not in kwargs:
                kwargs[k] = named[k]
    return call(fn(*args, **kwargs))


def seed_everything(seed):
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % (2**32 - 1))


def split_metrics(result):
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        return result[0], result[1]
    return result, None


def run_unit(unit):
    os.chdir(unit["dir"])
    metrics = _Metrics()
    uid = unit["id"]

    def log(line):
        send({"type": "log", "id": uid, "line": line})

    outputs = {}
    for out in unit["outputs"]:
        writer = resolve(out["writer"], "writer") if out.get("writer") else None
        outputs[out["alias"]] = Artifact(out["alias"], out["path"], writer, out["fileName"])
    base = {"replicate": unit["replicate"], "condition": unit["condition"], "seed": unit["seed"], "seed_used": unit["seed"]}

    # Import every module the unit uses (data sources, loaders, steps) before seeding, so numpy
    # is seeded when any of them imports it.
    sources = unit["input"]
    if sources["kind"] == "single":
        source_fn = resolve(sources["fn"], "data source")
    elif sources["kind"] == "map":
        source_fns = {s["alias"]: resolve(s["fn"], "data source") if s["kind"] == "local"
                      else resolve(s["loader"], "loader") if s["kind"] == "ref" and s.get("loader") else None
                      for s in sources["sources"]}
    steps = [(resolve(s["fn"], "step"), s["kwargs"]) for s in unit["steps"]]
    seed_everything(unit["seed"])

    source_values = {**base, **unit["treatment"]}
    source_ctx = FrozenContext(source_values, metrics, outputs, log, unit["seed"])
    if sources["kind"] == "single":
        data = invoke(source_fn, "data source", [], source_values, source_ctx)
    elif sources["kind"] == "map":
        data = {}
        for s in sources["sources"]:
            fn = source_fns[s["alias"]]
            if s["kind"] == "local":
                data[s["alias"]] = invoke(fn, "data source", [], source_values, source_ctx)
            elif s["kind"] == "value":
                data[s["alias"]] = s["value"]
            elif fn is not None:
                data[s["alias"]] = call(fn(Path(s["path"])))
            else:
                data[s["alias"]] = Path(s["path"]).read_bytes()
    else:
        data = None

    for fn, kwargs in steps:
        values = {**base, **kwargs, **unit["treatment"]}
        ctx = FrozenContext(values, metrics, outputs, log, unit["seed"])
        named = {**values, **outputs}
        data, returned = split_metrics(invoke(fn, "step", [data], named, ctx, pinned=list(kwargs)))
        for k, v in (returned or {}).items():
            metrics.add(k, v)

    missing = [f"`{a}`" for a, art in outputs.items() if not art.written]
    if missing:
        raise WiringError(f"output {', '.join(missing)} declared in config.yaml but never written; call <alias>.write(value) in a step")
    return {k: list(v) for k, v in metrics.as_dict().items()}


def _internal_frame(filename):
    """The worker's own frames and the machinery between it and the user's code (asyncio,
    importlib): not the user's, so not shown."""
    return (os.path.abspath(filename) in _OWN_FILES or "/asyncio/" in filename
            or filename.startswith("<frozen importlib") or filename.endswith(os.path.join("importlib", "__init__.py")))


def user_error(exc):
    if isinstance(exc, WiringError):
        return {"name": "ConfigError", "message": str(exc), "stack": ""}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _internal_frame(f.filename)]
    stack = "".join(traceback.format_list(frames)).rstrip("\n")
    return {"name": type(exc).__name__, "message": str(exc), "stack": stack}


def run_verifier(request):
    """A custom verifier: fn(baseline, treatment, **params), both {metric: [values]}. Its
    result must be a dict of JSON values; anything else is reported as the verdict's error."""
    os.chdir(request["dir"])
    fn = resolve(request["fn"], "verifier")
    params = request["params"]
    result = invoke(fn, "verifier", [request["baseline"], request["treatment"]], params, None, pinned=list(params))
    if not isinstance(result, dict):
        raise WiringError(f"verifier '{fn.__name__}' returned {type(result).__name__}; it must return a dict such as {{'p_value': 0.01, 'significant': True}}")
    return json.loads(json.dumps(result, default=_json_default))


def main():
    send({"type": "ready"})
    for line in _PROTO_IN:
        msg = json.loads(line)
        if msg.get("type") == "load":
            request = msg["request"]
            try:
                os.chdir(request["dir"])
                value = call(resolve(request["fn"], "loader")(Path(request["path"])))
                send({"type": "loaded", "id": request["id"], "value": value})
            except BaseException as exc:
                send({"type": "failed", "id": request["id"], "error": user_error(exc), "durationMs": 0})
            sys.stderr.write(f"{_END_OF_LOG} {request['id']}\n")
            sys.stderr.flush()
            continue
        if msg.get("type") == "verify":
            request = msg["request"]
            try:
                send({"type": "verdict", "id": request["id"], "result": run_verifier(request)})
            except BaseException as exc:
                send({"type": "failed", "id": request["id"], "error": user_error(exc), "durationMs": 0})
            sys.stderr.write(f"{_END_OF_LOG} {request['id']}\n")
            sys.stderr.flush()
            continue
        if msg.get("type") != "run":
            continue
        unit = msg["unit"]
        started = time.perf_counter()
        modules_before = start_reads()
        try:
            metrics = run_unit(unit)
            reply = {"type": "done", "id": unit["id"], "metrics": metrics, **take_reads(modules_before)}
        except BaseException as exc:  # KeyboardInterrupt included: Ctrl-C fails the unit, not the protocol
            take_reads(modules_before)
            reply = {"type": "failed", "id": unit["id"], "error": user_error(exc)}
        reply["durationMs"] = (time.perf_counter() - started) * 1000
        # Marks the end of the unit's log on stderr, so the CLI attributes every line to it.
        sys.stderr.write(f"{_END_OF_LOG} {unit['id']}\n")
        sys.stderr.flush()
        try:
            send(reply)
        except (TypeError, ValueError) as exc:
            send({"type": "failed", "id": unit["id"], "durationMs": reply["durationMs"],
                  "error": {"name": "TypeError", "message": f"a metric value cannot be stored as JSON: {exc}", "stack": ""}})
        if isinstance(reply.get("error"), dict) and reply["error"]["name"] == "KeyboardInterrupt":
            return


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
