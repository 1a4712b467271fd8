"""The API that Python experiments import, provided by the crystallize CLI.

It mirrors what folder experiments of the Python Crystallize 0.x use (``pipeline_step``,
``data_source``, ``verifier``, ``Artifact``, ``FrozenContext``), so that its tutorials run as
written, without installing a package: the CLI puts this folder first on ``sys.path`` of its
Python workers.
"""
from __future__ import annotations

import random as _random
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping
from typing import Any, Callable

__all__ = [
    "Artifact",
    "ContextMutationError",
    "FrozenContext",
    "data_source",
    "pipeline_step",
    "verifier",
]


class ContextMutationError(Exception):
    """Raised when a step tries to change the read-only context."""


def _decorator(marker: str, fn: Callable | None, options: dict) -> Any:
    def mark(f: Callable) -> Callable:
        setattr(f, marker, dict(options))
        return f

    return mark(fn) if fn is not None else mark


def pipeline_step(fn: Callable | None = None, **options: Any) -> Any:
    """Marks a step. ``@pipeline_step()`` and ``@pipeline_step`` both work; options such as
    ``cacheable`` are accepted for compatibility and ignored: the CLI caches whole results."""
    return _decorator("__crystallize_step__", fn, options)


def data_source(fn: Callable | str | None = None, **options: Any) -> Any:
    """Marks a data source: ``fn(ctx)`` returning the data the first step receives."""
    if isinstance(fn, str):
        fn = None
    return _decorator("__crystallize_source__", fn, options)


def verifier(fn: Callable | None = None, **options: Any) -> Any:
    """Marks a verifier: ``fn(baseline, treatment, **params)`` returning a result dict."""
    return _decorator("__crystallize_verifier__", fn, options)


class Artifact:
    """One declared output of the experiment. ``write`` applies the output's writer and stores
    the bytes where the CLI expects them; each output is written once per run."""

    def __init__(self, alias: str, path: str, writer: Callable | None, file_name: str) -> None:
        self.name = alias
        self.file_name = file_name
        self._path = Path(path)
        self._writer = writer
        self.written = False

    def write(self, value: Any) -> None:
        if self.written:
            raise ContextMutationError(f"Artifact '{self.name}' already written in this run")
        data = self._writer(value) if self._writer is not None else value
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            who = f"writer of output '{self.name}'" if self._writer else f"output '{self.name}' has no writer, and the value written"
            raise TypeError(f"{who} returned {type(data).__name__}; it must return bytes or str")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_bytes(bytes(data))
        self.written = True

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, file_name={self.file_name!r})"


class _Metrics:
    def __init__(self) -> None:
        self._values: dict[str, list[Any]] = {}

    def add(self, name: str, value: Any, tags: Mapping | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("ctx.metrics.add: the metric name must be a non-empty string")
        self._values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> tuple:
        return tuple(self._values[name])

    def as_dict(self) -> Mapping[str, tuple]:
        return MappingProxyType({k: tuple(v) for k, v in self._values.items()})


class _Outputs(Mapping):
    """The experiment's outputs by alias: `ctx.outputs["summary"]` or `ctx.outputs.summary`."""

    def __init__(self, outputs: Mapping[str, Artifact]) -> None:
        self._outputs = dict(outputs)

    def __getitem__(self, alias: str) -> Artifact:
        return self._outputs[alias]

    def __getattr__(self, alias: str) -> Artifact:
        try:
            return self.__dict__["_outputs"][alias]
        except KeyError:
            raise AttributeError(f"no output '{alias}'; config.yaml declares: {', '.join(self._outputs) or 'none'}") from None

    def __iter__(self):
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)


class FrozenContext:
    """Read-only run context: treatment values, step parameters, replicate, condition, seed.
    ``ctx.get``/``ctx[key]`` read values, ``ctx.metrics.add`` records metrics, ``ctx.log`` logs."""

    def __init__(self, values: Mapping[str, Any], metrics: _Metrics, outputs: Mapping[str, Artifact],
                 log: Callable[[str], None], seed: int) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "outputs", _Outputs(outputs))
        object.__setattr__(self, "random", _random.Random(seed))
        object.__setattr__(self, "_log", log)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def as_dict(self) -> Mapping[str, Any]:
        return MappingProxyType(dict(self._values))

    @property
    def params(self) -> Mapping[str, Any]:
        return self.as_dict()

    @property
    def replicate(self) -> int:
        return self._values["replicate"]

    @property
    def condition(self) -> str:
        return self._values["condition"]

    @property
    def seed(self) -> int:
        return self._values["seed"]

    def record(self, name: str, value: Any, tags: Mapping | None = None) -> None:
        self.metrics.add(name, value, tags)

    def log(self, *parts: Any) -> None:
        self._log(" ".join(str(p) for p in parts))

    def add(self, key: str, value: Any) -> None:
        raise ContextMutationError(f"Cannot mutate the context (key '{key}'): it is read-only")

    def __setitem__(self, key: str, value: Any) -> None:
        self.add(key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        self.add(key, value)

    def __repr__(self) -> str:
        return f"FrozenContext({self._values!r})"
