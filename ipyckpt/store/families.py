"""Object families ipyckpt stores by its own rules, not by value (both picklers consult them).

- Modules: importable ones by reference (re-imported), ones built at run time by value.
- Locks (``threading.Lock``/``RLock``, hence ``Condition``, ``Semaphore``, ``Event``, ``Queue``,
  logging handlers): restored as new, released locks.
- ``sys.stdout``/``stderr``/``stdin`` (and the ``__std*__`` originals): bound to the new
  process's stream of the same name (a ``PrettyPrinter`` or a ``StreamHandler`` keeps working).
- Open files: by reference, never by content (loading a file pickled by value can truncate it,
  dill#552): reopened by path at the saved position; ``w``/``x`` modes reopen as ``r+`` and
  ``a`` as ``a``, so a restore never truncates nor creates a file. A file that is gone is
  reported as not restored, with the reason.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import threading
import types
from typing import Any

_LOCK, _RLOCK = type(threading.Lock()), type(threading.RLock())
_STREAMS = ("stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__")
_FILES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)
#: how a saved mode is reopened: never truncating (w, x), never creating (r+ needs the file)
_REOPEN = {"r": "r", "r+": "r+", "w": "r+", "w+": "r+", "x": "r+", "x+": "r+", "a": "a", "a+": "a+"}


class Unstorable(TypeError):
    """An object of a known family that cannot be stored (the message says why)."""


def module_by_reference(module: types.ModuleType) -> bool:
    """True if ``module`` is importable by its name (stored by reference, re-imported on restore).

    A module built at run time (``types.ModuleType("m")``, not in ``sys.modules``) is not.
    """
    return sys.modules.get(module.__name__) is module


def reduce_module(module: types.ModuleType) -> tuple[Any, ...]:
    """Importable: re-imported by name. Built at run time: a new module with a copy of its
    ``__dict__`` (dill would store it by name, and its restore would fail)."""
    if module_by_reference(module):
        return importlib.import_module, (module.__name__,)
    state = {k: v for k, v in vars(module).items() if k not in ("__builtins__", "__loader__")}
    return types.ModuleType, (module.__name__,), state


def reduce_special(obj: object) -> tuple[Any, ...] | None:
    """The reduction of a lock, a standard stream or an open file; None for anything else."""
    cls = type(obj)
    if cls is _LOCK:
        return threading.Lock, ()
    if cls is _RLOCK:
        return threading.RLock, ()
    if isinstance(obj, io.IOBase):  # one cheap check for the many objects that are not streams
        for name in _STREAMS:
            if obj is getattr(sys, name, None):
                return std_stream, (name,)
        if isinstance(obj, _FILES):
            return _reduce_file(obj)
    return None


def std_stream(name: str) -> Any:
    """``sys.<name>`` of the process that restores (a reference saved as a name)."""
    return getattr(sys, name)


def _reduce_file(f: Any) -> tuple[Any, ...]:
    path = getattr(f, "name", None)
    if not isinstance(path, str):
        raise Unstorable(
            f"cannot store an open file without a path ({type(f).__name__} on {path!r}, e.g. a "
            "temporary file): reopen it after a restore"
        )
    kind = (
        "text"
        if isinstance(f, io.TextIOWrapper)
        else "raw"
        if isinstance(f, io.FileIO)
        else "buffered"
    )
    if f.closed:
        return reopen_file, (os.path.abspath(path), f.mode, None, kind, None, None)
    if f.writable():
        f.flush()  # what was written before the snapshot is in the file it points into
    try:
        position = f.tell()
    except OSError as exc:  # e.g. a text file being iterated: its position is not known
        raise Unstorable(
            f"cannot store open file {path!r}: {exc}: reopen it after a restore"
        ) from None
    encoding = getattr(f, "encoding", None)
    errors = getattr(f, "errors", None)
    return reopen_file, (os.path.abspath(path), f.mode, position, kind, encoding, errors)


def reopen_file(
    path: str, mode: str, position: int | None, kind: str, encoding: str | None, errors: str | None
) -> Any:
    """Reopen a saved file by path, at its saved position, never truncating or creating it.

    ``position`` None means the file was closed when saved: it is restored closed.
    """
    base = _REOPEN[mode.replace("b", "").replace("t", "")]
    if kind == "raw":
        f: Any = open(path, base + "b", buffering=0)  # noqa: SIM115 - returned open
    elif kind == "buffered":
        f = open(path, base + "b")  # noqa: SIM115
    else:
        f = open(path, base, encoding=encoding, errors=errors)  # noqa: SIM115
    if position is None:
        f.close()
    elif base[0] != "a":  # appends go to the end whatever the position
        f.seek(position)
    return f
