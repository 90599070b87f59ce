"""A one-line summary of a variable as a variable inspector shows it, taken at save time.

``list[100000]``, ``ndarray float64 (40000000,)``, ``bool``, a DataFrame's rows and columns. It is
stored in the manifest's variable entry so that the JupyterLab panel and listings can show it
without loading the pickle. Only the lengths of built-in containers and the ``shape``/``dtype`` of
numpy, pandas and torch objects are read: never user code (a user ``__len__`` may hang or fail),
and any failure falls back to the type's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_SIZED = (list, tuple, dict, set, frozenset, str, bytes, bytearray)
_ARRAY_LIBRARIES = ("numpy", "pandas", "torch", "jax", "cupy")
_TIMES = "\N{MULTIPLICATION SIGN}"


def summarize(value: object) -> str:
    """The summary of ``value``: its type's name, with length or shape when cheap and safe."""
    cls = type(value)
    name = cls.__qualname__.rsplit("<locals>.", 1)[-1]
    try:
        if cls in _SIZED:
            return f"{name}[{len(value)}]"  # type: ignore[arg-type]
        if cls.__module__.split(".")[0] in _ARRAY_LIBRARIES:
            return _array_summary(name, value)
    except Exception:  # a summary is decoration: never a reason for a save to fail
        return name
    return name


def _array_summary(name: str, value: Any) -> str:
    shape = getattr(value, "shape", None)  # torch.Size is a tuple too
    if not isinstance(shape, tuple) or not shape or not all(isinstance(n, int) for n in shape):
        return name  # not an array, or a scalar such as numpy.float64
    if name == "DataFrame" and len(shape) == 2:
        return f"DataFrame {shape[0]:,} {_TIMES} {shape[1]:,}"
    dtype = getattr(value, "dtype", None)
    kind = str(dtype).removeprefix("torch.") if dtype is not None else ""
    if name == "Series" and len(shape) == 1:
        return " ".join(part for part in (name, kind, f"[{shape[0]:,}]") if part)
    return " ".join(part for part in (name, kind, str(shape)) if part)


def attach_summaries(variables: Mapping[str, Any], items: Iterable[tuple[str, object]]) -> None:
    """Store the summary of each saved ``(name, value)`` in its manifest variable entry."""
    for name, value in items:
        entry = variables.get(name)  # a skipped variable has no entry
        if entry is not None:
            entry.summary = summarize(value)
