"""dill pickling of a namespace, one variable at a time, with out-of-band buffers.

Variables are pickled in sequence by one pickler whose memo is shared, so objects shared
between variables stay shared after a restore (``b["x"] is a``). Each variable's bytes are staged
and committed only if the whole variable pickled: an unpicklable one is skipped with its reason
and the memo is rolled back, so it never corrupts the others. Large contiguous buffers (numpy,
pandas) leave the pickle stream through protocol 5's ``buffer_callback`` and are handed to the
sink without a copy; the sink stores them as content-addressed blobs.

For every variable we record where its bytes are, which memo slots it created and which earlier
variables it references, so a single variable can be restored, and a damaged one does not take
unrelated variables with it.
"""

from __future__ import annotations

import bisect
import io
import pickle
import socket
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dill

PROTOCOL = 5
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_IN_MEMORY_IO = (io.BytesIO, io.StringIO)
_NEVER_PICKLED: dict[tuple[type, ...], str] = {
    (io.IOBase,): "open file: reopen it after a restore",
    (socket.socket,): "socket: reconnect after a restore",
    _LOCK_TYPES: "lock: create a new one after a restore",
    (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType): (
        "generators cannot be saved: keep the data they produce in a list instead"
    ),
}


@dataclass(frozen=True)
class BlobRef:
    """A content-addressed blob: its hash (blake3, hex) and size in bytes."""

    hash: str
    size: int


@dataclass
class PickledVariable:
    """Where one variable lives inside its segment, and what it needs to be restored."""

    name: str
    type_name: str
    start: int
    end: int
    memo_start: int
    memo_end: int
    buffers: list[BlobRef] = field(default_factory=list)
    deps: list[int] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        """Bytes of this variable: its pickle bytes plus its out-of-band buffers."""
        return self.end - self.start + sum(b.size for b in self.buffers)


class SegmentSink(Protocol):
    """Where committed pickle bytes and out-of-band buffers go (implemented by the store)."""

    def write_pickle(self, data: memoryview) -> int:
        """Append one variable's pickle bytes; return the offset they start at."""
        ...

    def write_buffer(self, data: memoryview) -> BlobRef:
        """Store one out-of-band buffer as a blob; return its reference."""
        ...


def type_name(value: object) -> str:
    """``module.QualName`` of ``value``'s type, as shown in reports."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def refusal_reason(value: object) -> str | None:
    """Why ipyckpt never pickles ``value`` by value (open files, sockets, locks, generators)."""
    if isinstance(value, _IN_MEMORY_IO):
        return None
    for kinds, hint in _NEVER_PICKLED.items():
        if isinstance(value, kinds):
            return f"cannot pickle {type_name(value).removeprefix('builtins.')!r} ({hint})"
    return None


class _NamespacePickler(dill.Pickler):  # type: ignore[misc]
    """dill's pickler, plus: refusals, out-of-band numpy arrays, cross-variable reference log."""

    def __init__(self, file: io.BytesIO, buffer_callback: Callable[[Any], bool]) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffer_callback, byref=False)
        self.var_memo_start = 0
        self.external_refs: set[int] = set()

    def reducer_override(self, obj: object) -> Any:
        reason = refusal_reason(obj)
        if reason is not None:
            raise TypeError(reason)
        cls = type(obj)
        # dill pickles every ndarray with __reduce__ (an in-band copy); protocol 5 passes the
        # buffer out of band instead, straight from the array's memory.
        if cls.__name__ == "ndarray" and cls.__module__ == "numpy":
            return obj.__reduce_ex__(PROTOCOL)
        return NotImplemented

    def get(self, i: int) -> bytes:
        if i < self.var_memo_start:
            self.external_refs.add(i)
        return super().get(i)  # type: ignore[no-any-return]

    def forget_memo_from(self, start: int) -> None:
        """Drop memo entries made by a variable that failed to pickle (their bytes are discarded)."""
        stale = [key for key, (idx, _) in self.memo.items() if idx >= start]
        for key in stale:
            del self.memo[key]


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a report, e.g. ``cannot pickle '_io.TextIOWrapper' (open file...)``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, TypeError | pickle.PicklingError | AttributeError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def pickle_variables(
    items: Iterable[tuple[str, object]], sink: SegmentSink
) -> tuple[list[PickledVariable], dict[str, str]]:
    """Pickle ``items`` in order into ``sink``; return the records and the skipped names' reasons."""
    staging = io.BytesIO()
    pending: list[pickle.PickleBuffer] = []

    def keep_out_of_band(buf: pickle.PickleBuffer) -> bool:
        pending.append(buf)
        return False

    pickler = _NamespacePickler(staging, keep_out_of_band)
    records: list[PickledVariable] = []
    memo_starts: list[int] = []
    skipped: dict[str, str] = {}
    for name, value in items:
        staging.seek(0)
        staging.truncate()
        pending.clear()
        pickler.external_refs = set()
        memo_start = pickler.var_memo_start = len(pickler.memo)
        try:
            pickler.dump(value)
        except Exception as exc:  # any failure of one variable must not abort the others
            pickler.forget_memo_from(memo_start)
            skipped[name] = describe_error(exc)
            continue
        with staging.getbuffer() as data:
            start = sink.write_pickle(data)
            end = start + len(data)
        buffers = [sink.write_buffer(buf.raw()) for buf in pending]
        pending.clear()
        deps = sorted({bisect.bisect_right(memo_starts, i) - 1 for i in pickler.external_refs})
        records.append(
            PickledVariable(
                name, type_name(value), start, end, memo_start, len(pickler.memo), buffers, deps
            )
        )
        memo_starts.append(memo_start)
    return records, skipped


class _Buffers:
    """The out-of-band buffers of the variable being unpickled; replaced per variable."""

    def __init__(self) -> None:
        self.items: Iterator[object] = iter(())

    def __iter__(self) -> _Buffers:
        return self

    def __next__(self) -> object:
        return next(self.items)


def needed_closure(records: Sequence[PickledVariable], wanted: Iterable[int]) -> set[int]:
    """Indices of ``wanted`` variables plus every variable they (transitively) reference."""
    needed: set[int] = set()
    stack = list(wanted)
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack.extend(records[i].deps)
    return needed


def unpickle_variables(
    pickle_bytes: bytes | bytearray,
    records: Sequence[PickledVariable],
    wanted: Iterable[int],
    read_buffers: Callable[[int], list[bytearray]],
) -> tuple[dict[int, object], dict[int, str]]:
    """Restore the ``wanted`` variables of one segment; return values and failures by index.

    If a variable fails to load, the pass restarts without it (rare; it keeps the fast C
    unpickler usable, whose memo cannot be repaired after an error).
    """
    needed = needed_closure(records, wanted)
    failed: dict[int, str] = {}
    while True:
        values, failure = _unpickle_pass(pickle_bytes, records, needed, failed, read_buffers)
        if failure is None:
            return values, failed
        failed[failure[0]] = failure[1]


def _unpickle_pass(
    pickle_bytes: bytes | bytearray,
    records: Sequence[PickledVariable],
    needed: set[int],
    failed: dict[int, str],
    read_buffers: Callable[[int], list[bytearray]],
) -> tuple[dict[int, object], tuple[int, str] | None]:
    """One sequential pass; returns the values, or the first new failure."""
    load = []
    for i, rec in enumerate(records):
        broken = [records[d].name for d in rec.deps if d in failed]
        if broken and i not in failed:
            failed[i] = f"shares objects with {', '.join(broken)}, which could not be restored"
        load.append(i in needed and i not in failed)
    stream = io.BytesIO(_virtual_stream(pickle_bytes, records, load))
    buffers = _Buffers()
    unpickler = dill.Unpickler(stream, buffers=buffers)
    values: dict[int, object] = {}
    for i, real in enumerate(load):
        buffers.items = iter(read_buffers(i) if real else ())
        try:
            value = unpickler.load()
        except Exception as exc:  # one bad variable must not stop the others
            return values, (i, describe_error(exc))
        if real:
            values[i] = value
    return values, None


def _virtual_stream(
    pickle_bytes: bytes | bytearray, records: Sequence[PickledVariable], load: list[bool]
) -> bytes | bytearray:
    """The segment's bytes, with each variable not loaded replaced by a memo-padding pickle.

    Protocol 5 numbers memo slots implicitly (``MEMOIZE`` uses the memo's size), so the
    unpickler must see exactly as many slots as the pickler made. Padding pushes ``None`` and
    memoizes it once per slot; a variable that references a padded one is never loaded.
    """
    if all(load):
        return pickle_bytes
    parts = [
        memoryview(pickle_bytes)[rec.start : rec.end]
        if real
        else b"\x80\x05N" + b"\x94" * (rec.memo_end - rec.memo_start) + b"."
        for rec, real in zip(records, load, strict=True)
    ]
    return b"".join(parts)


def records_to_json(records: Sequence[PickledVariable]) -> list[dict[str, Any]]:
    """JSON-able form of a segment's variable records (stored in the manifest)."""
    return [
        {
            "name": r.name,
            "type": r.type_name,
            "span": [r.start, r.end],
            "memo": [r.memo_start, r.memo_end],
            "buffers": [[b.hash, b.size] for b in r.buffers],
            "deps": r.deps,
        }
        for r in records
    ]


def records_from_json(items: Sequence[Mapping[str, Any]]) -> list[PickledVariable]:
    """Inverse of :func:`records_to_json`."""
    return [
        PickledVariable(
            name=str(d["name"]),
            type_name=str(d["type"]),
            start=int(d["span"][0]),
            end=int(d["span"][1]),
            memo_start=int(d["memo"][0]),
            memo_end=int(d["memo"][1]),
            buffers=[BlobRef(str(h), int(n)) for h, n in d["buffers"]],
            deps=[int(x) for x in d["deps"]],
        )
        for d in items
    ]
