"""Pickling a namespace one variable at a time, with out-of-band buffers.

Every variable is pickled on its own, by the C pickler when it can (fast) and by dill when the
variable holds what only dill can store (lambdas, closures, classes and functions defined in the
notebook). Variables that share a mutable object are grouped and pickled together with one memo
(:mod:`ipyckpt.store.sharing`), so ``b["x"] is a`` still holds after a restore. An unpicklable variable
is skipped with its reason; it never corrupts the others. Large contiguous buffers (numpy,
pandas) leave the pickle stream through protocol 5's ``buffer_callback`` and are handed to the
sink without a copy; the sink stores them as content-addressed blobs.

Each record says where its variable's bytes are and which group it belongs to, so a single
variable (with its group) can be restored, and a damaged one only takes its own group along.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import mmap
import pickle
import socket
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ipyckpt.store import families
from ipyckpt.store.errors import CheckpointCorrupt
from ipyckpt.store.parts import (
    MIN_ITEMS,
    PART_TAG,
    PartCache,
    PartLoader,
    SaveParts,
    candidate_types,
    large_enough,
    parts_only_hook,
)
from ipyckpt.store.refs import BlobRef
from ipyckpt.store.sharing import SharingTracker, importable


def _import_dill() -> Any:
    """dill, without its import-time side effect: importing dill registers its savers in
    pickle's pure-Python ``pickle._Pickler``, which changes how other libraries pickle (e.g.
    ``joblib.hash`` of a notebook function, whose hasher copies that table when joblib is
    imported). Undone unless the user had loaded dill already; dill's own Pickler keeps them."""
    already = "dill" in sys.modules
    module = importlib.import_module("dill")
    if not already:
        module.extend(False)
    return module


dill = _import_dill()
PROTOCOL = 5
_IN_MEMORY_IO = (io.BytesIO, io.StringIO)
# objects of these types pickle as something else (the referent), so only dill stores them right
_DILL_ONLY = frozenset({weakref.ProxyType, weakref.CallableProxyType, super})
_NEVER_PICKLED: dict[tuple[type, ...], str] = {
    (io.IOBase,): "open stream that is not a file: reopen it after a restore",
    (socket.socket,): "socket: reconnect after a restore",
    (threading.Thread,): "thread: start it again after a restore",
    (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType): (
        "generators cannot be saved: keep the data they produce in a list instead"
    ),
}


@dataclass
class BufferRef:
    """An out-of-band buffer: its size and the content-addressed chunks that hold its bytes.

    Large buffers are cut into fixed-size chunks, so changing one element of a big array
    rewrites one chunk; ``chunks`` are in order and their sizes add up to ``size``.
    """

    size: int
    chunks: list[BlobRef] = field(default_factory=list)


@dataclass
class PickledVariable:
    """Where one variable lives inside its segment, and the group it is restored with.

    ``group`` is the record index of the group's first member; members are consecutive and
    their pickles share one memo, so a member is loaded after the members before it.
    """

    name: str
    type_name: str
    start: int
    end: int
    buffers: list[BufferRef] = field(default_factory=list)
    group: int = 0
    parts: list[BlobRef] = field(default_factory=list)  # see ipyckpt.store.parts

    @property
    def nbytes(self) -> int:
        """Bytes of this variable: its pickle bytes, out-of-band buffers and parts."""
        sizes = sum(b.size for b in self.buffers) + sum(p.size for p in self.parts)
        return self.end - self.start + sizes


class SegmentSink(Protocol):
    """Where committed pickle bytes and out-of-band buffers go (implemented by the store)."""

    def write_pickle(self, data: memoryview) -> int:
        """Append one variable's pickle bytes; return the offset they start at."""
        ...

    def write_buffers(self, buffers: list[memoryview], refs: list[BufferRef]) -> None:
        """Store each buffer as blobs and append its reference to ``refs``, in order.

        The sink may do this in the background: ``refs`` is complete when the save finishes.
        """
        ...

    def write_part(self, data: bytes) -> BlobRef:
        """Store one part's pickle (:mod:`ipyckpt.store.parts`) as a blob; return its reference."""
        ...

    def has_blob(self, ref: BlobRef) -> bool:
        """True if blob ``ref`` is in the store and known good (a part may reuse it)."""
        ...


def _record_from_json(item: Sequence[Any]) -> PickledVariable:
    name, kind, start, end, buffers, group, *parts = item
    return PickledVariable(
        str(name),
        str(kind),
        int(start),
        int(end),
        [_buffer_from_json(b) for b in buffers],
        int(group),
        [BlobRef(str(h), int(n)) for h, n in (parts[0] if parts else [])],
    )


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


def imports_first(items: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    """``items`` with modules first, in the order they were first imported in this process.

    Restoring them in that order repeats the original import sequence (a package before the
    submodules and the libraries that configure it), before any other variable is rebuilt.
    """
    items = list(items)
    if not any(_is_module(v) for _, v in items):
        return items
    position = {id(m): i for i, m in enumerate(list(sys.modules.values()))}
    modules = [(n, v) for n, v in items if _is_module(v)]
    modules.sort(key=lambda item: position.get(id(item[1]), len(position)))
    return modules + [(n, v) for n, v in items if not _is_module(v)]


def _is_module(value: object) -> bool:
    # type(), not isinstance(): isinstance asks a dead weak proxy its __class__, which raises
    return issubclass(type(value), types.ModuleType)


def _reduce_special(obj: object) -> tuple[Any, ...] | None:
    """Locks, standard streams and open files by ipyckpt's rules (:mod:`.families`), then the
    refusals: whatever else ipyckpt never pickles raises :class:`_Refused`."""
    try:
        special = families.reduce_special(obj)
    except families.Unstorable as exc:
        raise _Refused(str(exc)) from None
    if special is not None:
        return special
    reason = refusal_reason(obj)
    if reason is not None:
        raise _Refused(reason)
    return None


class _NeedsDill(Exception):
    """The C pickler met an object only dill can store (by value)."""


class _Refused(TypeError):
    """An object ipyckpt never pickles (open file, socket, lock, generator)."""


class _FastPickler(pickle.Pickler):
    """The C pickler; hands anything it would store wrongly or not at all to dill."""

    def __init__(self, file: io.BytesIO, buffer_callback: Callable[[Any], bool], hook: Any) -> None:
        self.persistent_id = hook  # type: ignore[method-assign]  # read once by __init__
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffer_callback)

    def reducer_override(self, obj: object) -> Any:
        if type(obj) in _DILL_ONLY:
            raise _NeedsDill
        special = _reduce_special(obj)
        if special is not None:
            return special
        if isinstance(obj, type | types.FunctionType) and not importable(obj):
            raise _NeedsDill  # the C pickler would store a notebook class or function by name
        if isinstance(obj, types.ModuleType):
            if not families.module_by_reference(obj):
                raise _NeedsDill  # built at run time: dill stores it by value
            return families.reduce_module(obj)
        return NotImplemented


class _DillPickler(dill.Pickler):  # type: ignore[misc,name-defined]
    """dill's pickler, plus: refusals and out-of-band numpy arrays."""

    def __init__(self, file: io.BytesIO, buffer_callback: Callable[[Any], bool], hook: Any) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffer_callback, byref=False)
        self.persistent_id = hook

    def reducer_override(self, obj: object) -> Any:
        special = _reduce_special(obj)
        if special is not None:
            return special
        if isinstance(obj, types.ModuleType):
            return families.reduce_module(obj)  # dill would store a module's __dict__ too
        cls = type(obj)
        # dill pickles every ndarray with __reduce__ (an in-band copy); protocol 5 passes the
        # buffer out of band instead, straight from the array's memory.
        if cls.__name__ == "ndarray" and cls.__module__ == "numpy":
            return obj.__reduce_ex__(PROTOCOL)
        return NotImplemented


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a report, e.g. ``cannot pickle '_io.TextIOWrapper' (open file...)``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, TypeError | pickle.PicklingError | AttributeError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class _Pickled:
    """One variable (or group) pickled in memory, not yet handed to the sink."""

    data: io.BytesIO
    spans: list[tuple[int, int]]
    buffers: list[list[pickle.PickleBuffer]]
    used_dill: bool
    parts: list[list[BlobRef]]


def _dump(
    values: Sequence[object],
    tracker: SharingTracker | None,
    with_dill: bool,
    parts: SaveParts | None = None,
) -> _Pickled:
    """Pickle ``values`` in sequence with one pickler (one memo)."""
    staging = io.BytesIO()
    per_value: list[list[pickle.PickleBuffer]] = []
    per_value_parts: list[list[BlobRef]] = []

    def keep_out_of_band(buf: pickle.PickleBuffer) -> bool:
        per_value[-1].append(buf)
        return False

    if tracker is not None:
        persistent_id = tracker.persistent_id
    else:
        persistent_id = _no_persistent_id if parts is None else parts_only_hook(parts)
    cls = _DillPickler if with_dill else _FastPickler
    pickler = cls(staging, keep_out_of_band, persistent_id)
    spans = []
    for value in values:
        per_value.append([])
        per_value_parts.append([])
        if parts is not None:
            parts.refs = per_value_parts[-1]
        start = staging.tell()
        pickler.dump(value)
        spans.append((start, staging.tell()))
    return _Pickled(staging, spans, per_value, with_dill, per_value_parts)


def _no_persistent_id(obj: object) -> None:
    return None


def _dump_alone(value: object, tracker: SharingTracker, parts: SaveParts | None) -> _Pickled:
    """Pickle one variable: the C pickler first, dill if the value needs it."""
    try:
        return _dump([value], tracker, with_dill=False, parts=parts)
    except _Refused:
        raise
    except Exception:  # _NeedsDill, or a type only dill knows: try dill from a clean slate
        tracker.abandon()
        return _dump([value], tracker, with_dill=True, parts=parts)


def pickle_variables(
    items: Iterable[tuple[str, object]], sink: SegmentSink, parts: SaveParts | None = None
) -> tuple[list[PickledVariable], dict[str, str]]:
    """Pickle ``items`` into ``sink``; return the records and the skipped names' reasons.

    With ``parts``, large containers of atoms are stored as separate part blobs and reused
    while unchanged (:mod:`ipyckpt.store.parts`).
    """
    tracker = SharingTracker(
        *((parts.persistent_id, candidate_types(), MIN_ITEMS) if parts is not None else ())
    )
    names: list[str] = []
    values: list[object] = []
    alone: dict[int, _Pickled] = {}
    skipped: dict[str, str] = {}
    for name, value in items:
        index = len(names)
        tracker.begin(index)
        if parts is not None:
            parts.name = name
        try:
            alone[index] = _dump_alone(value, tracker, parts)
        except Exception as exc:  # any failure of one variable must not abort the others
            tracker.abandon()
            skipped[name] = describe_error(exc)
            continue
        tracker.commit()
        names.append(name)
        values.append(value)
    records: list[PickledVariable] = []
    for group in tracker.groups(alone):
        pickled = _dump_group(group, values, alone, parts)
        first = len(records)
        with pickled.data.getbuffer() as data:
            offset = sink.write_pickle(data)
        members = zip(group, pickled.spans, pickled.buffers, pickled.parts, strict=True)
        for member, (start, end), bufs, refs in members:
            record = PickledVariable(
                names[member],
                type_name(values[member]),
                offset + start,
                offset + end,
                [],
                first,
                _unique(refs),
            )
            sink.write_buffers([buf.raw() for buf in bufs], record.buffers)
            records.append(record)
    return records, skipped


def _unique(refs: list[BlobRef]) -> list[BlobRef]:
    return list(dict.fromkeys(refs))


def _dump_group(
    group: list[int], values: list[object], alone: dict[int, _Pickled], parts: SaveParts | None
) -> _Pickled:
    """A group of one is already pickled; a larger group is pickled again with one memo."""
    if len(group) == 1:
        return alone[group[0]]
    with_dill = any(alone[i].used_dill for i in group)
    try:
        return _dump([values[i] for i in group], None, with_dill=with_dill, parts=parts)
    except Exception:
        if with_dill:  # pragma: no cover - each member pickled alone a moment ago
            raise
        return _dump([values[i] for i in group], None, with_dill=True, parts=parts)


class _Buffers:
    """The out-of-band buffers of the variable being unpickled; replaced per variable."""

    def __init__(self) -> None:
        self.items: Iterator[object] = iter(())

    def __iter__(self) -> _Buffers:
        return self

    def __next__(self) -> object:
        return next(self.items)


def needed_indices(records: Sequence[PickledVariable], wanted: Iterable[int]) -> list[int]:
    """Indices to unpickle to restore ``wanted``: each one's group members up to it.

    Groups without out-of-band buffers come first: they can be unpickled while the
    buffers of the others are still being read.
    """
    last: dict[int, int] = {}
    for i in wanted:
        g = records[i].group
        last[g] = max(last.get(g, i), i)
    groups = [list(range(g, end + 1)) for g, end in sorted(last.items())]
    groups.sort(key=lambda members: sum(b.size for i in members for b in records[i].buffers))
    return [i for members in groups for i in members]


def group_ends(records: Sequence[PickledVariable]) -> dict[int, int]:
    """Each group's first record index -> its last record index (members are consecutive)."""
    return {rec.group: i for i, rec in enumerate(records)}


def unpickle_variables(
    pickle_bytes: bytes | bytearray | mmap.mmap,
    records: Sequence[PickledVariable],
    wanted: Iterable[int],
    read_buffers: Callable[[int], Sequence[object]],
    read_parts: Callable[[int], dict[str, object]] | None = None,
) -> tuple[dict[int, object], dict[int, str]]:
    """Restore the ``wanted`` variables of one segment; return values and failures by index.

    A variable that fails to load takes only the later members of its group with it.
    ``read_parts(i)`` gives record ``i``'s part blobs by hash (:mod:`ipyckpt.store.parts`).
    """
    with gc_paused():
        return _unpickle_in_order(
            pickle_bytes, records, set(wanted), read_buffers, read_parts or _no_parts
        )


def _no_parts(index: int) -> dict[str, object]:
    return {}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: pickling, unpickling and manifest parsing create
    millions of objects, none of them garbage, and the collections their allocations trigger
    scan everything alive each time (restores 2-3x slower, saves and manifests superlinear)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _unpickle_in_order(
    pickle_bytes: bytes | bytearray | mmap.mmap,
    records: Sequence[PickledVariable],
    wanted: set[int],
    read_buffers: Callable[[int], Sequence[object]],
    read_parts: Callable[[int], dict[str, object]],
) -> tuple[dict[int, object], dict[int, str]]:
    values: dict[int, object] = {}
    failed: dict[int, str] = {}
    view = memoryview(pickle_bytes)
    unpickler: Any = None
    buffers = _Buffers()
    broken: str | None = None
    loader = PartLoader()
    last_member = group_ends(records)
    for i in needed_indices(records, wanted):
        rec = records[i]
        if rec.group == i:
            stream = io.BytesIO(view[rec.start : records[last_member[i]].end])
            unpickler, broken = dill.Unpickler(stream, buffers=buffers), None
            unpickler.persistent_load = loader = PartLoader()
        if broken is not None:
            failed[i] = f"shares objects with {broken}, which could not be restored"
            continue
        try:
            buffers.items = iter(read_buffers(i))
            if rec.parts:
                loader.blobs = read_parts(i)
            value = unpickler.load()
        except CheckpointCorrupt:
            raise
        except Exception as exc:  # one bad variable must not stop the others
            failed[i], broken = describe_error(exc), rec.name
            continue
        if i in wanted:
            values[i] = value
    return values, failed


def records_to_json(records: Sequence[PickledVariable]) -> list[list[Any]]:
    """JSON-able form of a segment's variable records (stored in the manifest).

    One short list per variable, ``[name, type, start, end, buffers, group]`` with each buffer as
    ``[size, [[chunk hash, chunk size], ...]]``, and ``[[part hash, part size], ...]`` appended
    when the variable has parts: a manifest of 100,000 variables stays a few MB.
    """
    return [_record_to_json(r) for r in records]


def _record_to_json(r: PickledVariable) -> list[Any]:
    item: list[Any] = [
        r.name,
        r.type_name,
        r.start,
        r.end,
        [[b.size, [[c.hash, c.size] for c in b.chunks]] for b in r.buffers],
        r.group,
    ]
    if r.parts:
        item.append([[p.hash, p.size] for p in r.parts])
    return item


def records_from_json(items: Sequence[Any]) -> list[PickledVariable]:
    """Inverse of :func:`records_to_json`."""
    records = [_record_from_json(item) for item in items]
    for i, r in enumerate(records):
        if not 0 <= r.group <= i or (r.group < i and records[i - 1].group != r.group):
            raise ValueError(f"record {i} has an invalid group {r.group}")
    return records


def _buffer_from_json(item: Sequence[Any]) -> BufferRef:
    size, chunks = item
    ref = BufferRef(int(size), [BlobRef(str(h), int(n)) for h, n in chunks])
    if ref.size < 0 or sum(c.size for c in ref.chunks) != ref.size:
        raise ValueError(f"a buffer of {ref.size} bytes has chunks of another total size")
    return ref


class _Discarded:
    """A file that drops what is written (a discovery walk keeps no bytes)."""

    def write(self, data: bytes) -> int:
        return len(data)


class _OutOfTime(Exception):
    """A discovery walk used up its time."""


def discover_parts(values: Iterable[object], cache: PartCache, budget: float) -> None:
    """Walk ``values`` as the pickler would and let ``cache`` hold (with a copy taken now, no
    hash yet) each large container of atoms it does not know. Containers are not entered,
    out-of-band buffers not copied, so this costs about what pickling everything else costs;
    the walk stops after ``budget`` seconds (what is left is found by a later walk)."""
    end = time.monotonic() + budget
    calls = [0]
    candidates = candidate_types()

    def persistent_id(obj: object) -> object:
        calls[0] += 1
        if calls[0] % 4096 == 0 and time.monotonic() > end:
            raise _OutOfTime
        if type(obj) in candidates and large_enough(obj):
            cache.adopt(obj)
            return PART_TAG
        return None

    for value in values:
        pickler = _FastPickler(_Discarded(), lambda buf: False, persistent_id)  # type: ignore[arg-type]
        try:
            pickler.dump(value)
        except _OutOfTime:
            return
        except Exception:  # what cannot be walked holds no part this save found
            continue
