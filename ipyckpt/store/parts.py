"""Parts: large containers of immutable atoms, pickled on their own and reused while unchanged.

A list, dict or numpy object array of at least :data:`MIN_ITEMS` elements whose elements (keys
and values) are all exactly ``str``, ``bytes``, ``int``, ``float``, ``complex``, ``bool``,
``None`` or tuples of those is a *part*: the pickler's ``persistent_id`` hook replaces it in the
variable's pickle by a reference, and the container is pickled on its own into a
content-addressed blob. The next save reuses that blob without pickling again, but only if:

* the container is the same object as at that save (the cache holds it, so its id is not
  reused), of the same exact type, length and shape; and
* every element is *identical* (``is``) to the element of a reference-holding shallow copy taken
  before the blob was pickled. The copy keeps those elements alive, so no other object can take
  their address: identity of an immutable atom implies the same type and value.

Anything else (another length, one element replaced, even by an equal value of another type,
a subclass, a mutable element) pickles again. The copy, not the live container, is what is
pickled, so a thread writing meanwhile can never make a blob disagree with the copy it is
checked against. The check costs a pointer comparison in C for object arrays (0.3 ms for a
million elements) and ``map(operator.is_)`` for lists and dicts (2 ms for 200,000).

A forked child (:mod:`ipyckpt.background`) cannot update its parent's cache: the parent calls
:meth:`PartCache.before_fork` (re-copies the containers that changed), the child sends
:meth:`PartCache.child_report`, and the parent keeps what the child confirms with
:meth:`PartCache.learn` (a hash is only kept for the copy the parent took at that fork).
"""

from __future__ import annotations

import ctypes
import operator
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ipyckpt.store.refs import BlobRef

#: Elements below which a container is pickled inline. Measured (``benchmarks.parts``): a part
#: costs a blob (a file written, fsynced, read back on restore) and the identity check; a list
#: of 10,000 short strings pickles in 0.25 ms, about what the extra file costs.
MIN_ITEMS = 20_000
PART_TAG = "ipyckpt.part"
_ATOMS: frozenset[type] = frozenset({str, bytes, int, float, complex, bool, type(None)})
_MAX_TUPLE_DEPTH = 4


class PartSink(Protocol):
    """Where part blobs go (the save's blob writer)."""

    def write_part(self, data: bytes) -> BlobRef:
        """Store ``data`` as a content-addressed blob; return its reference."""
        ...

    def has_blob(self, ref: BlobRef) -> bool:
        """True if blob ``ref`` is in the store and known good (it may be reused)."""
        ...


@dataclass
class Entry:
    """A part of an earlier save: the container, the copy its blob holds, and the blob."""

    obj: object  # held: its id stays unique while the entry lives
    copy: object  # reference-holding shallow copy: exactly what ``ref`` holds
    ref: BlobRef | None  # None: copied (at a fork) but not pickled yet


# ------------------------------------------------------------------------------ containers
def _numpy_array_type() -> type | None:
    numpy = sys.modules.get("numpy")
    return None if numpy is None else numpy.ndarray


def candidate_types() -> frozenset[type]:
    """Container types that may be parts (numpy's only once numpy is imported)."""
    array = _numpy_array_type()
    return frozenset({list, dict} | ({array} if array is not None else set()))


def _is_object_array(obj: Any) -> bool:
    return bool(obj.dtype.hasobject and obj.dtype.kind == "O" and obj.flags.c_contiguous)


def large_enough(obj: Any) -> bool:
    """A candidate container (exact list, dict or numpy object array) big enough to be a part."""
    tp = type(obj)
    if tp is list or tp is dict:
        return len(obj) >= MIN_ITEMS
    return tp is _numpy_array_type() and obj.size >= MIN_ITEMS and _is_object_array(obj)


def shallow_copy(obj: Any) -> Any:
    """A copy holding references to the same elements (a new list, dict or array)."""
    tp = type(obj)
    if tp is list:
        return list(obj)
    if tp is dict:
        return dict(obj)
    return obj.copy()


def _pointers(array: Any) -> Any:
    """The element pointers of a C-contiguous object array, as an intp array (no copy)."""
    numpy = sys.modules["numpy"]
    raw = (ctypes.c_char * array.nbytes).from_address(array.ctypes.data)
    return numpy.frombuffer(raw, dtype=numpy.intp)


def identical(obj: Any, copy: Any) -> bool:
    """True if ``obj`` holds exactly the objects ``copy`` holds, in the same places."""
    tp = type(obj)
    if tp is not type(copy):
        return False
    if tp is list:
        return len(obj) == len(copy) and all(map(operator.is_, obj, copy))
    if tp is dict:
        return (
            len(obj) == len(copy)
            and all(map(operator.is_, obj, copy))
            and all(map(operator.is_, obj.values(), copy.values()))
        )
    if obj.shape != copy.shape or obj.dtype != copy.dtype or not _is_object_array(obj):
        return False
    numpy = sys.modules["numpy"]
    return bool(numpy.array_equal(_pointers(obj), _pointers(copy)))


def _atom(value: object, depth: int = 0) -> bool:
    tp = type(value)
    if tp in _ATOMS:
        return True
    if tp is tuple and depth < _MAX_TUPLE_DEPTH:
        return all(_atom(v, depth + 1) for v in value)  # type: ignore[attr-defined]
    return False


def _all_atoms(values: Any) -> bool:
    types = set(map(type, values))
    if types <= _ATOMS:
        return True
    if not types <= _ATOMS | {tuple}:
        return False
    return all(_atom(v) for v in values if type(v) is tuple)


def only_atoms(copy: Any) -> bool:
    """True if every element (every key and value of a dict) is an immutable atom."""
    if type(copy) is dict:
        return _all_atoms(copy) and _all_atoms(copy.values())
    return _all_atoms(copy.ravel(order="K") if type(copy) is not list else copy)


# ----------------------------------------------------------------------------------- cache
@dataclass
class PartCache:
    """The parts of the last save of one saver (kept between saves, in one process)."""

    entries: dict[int, Entry] = field(default_factory=dict)
    # containers found not to be parts (a mutable element): not scanned again while they are
    # the same object (a later change can only make them parts: pickling inline stays right)
    refused: dict[int, object] = field(default_factory=dict)
    fork_copies: dict[int, object] = field(default_factory=dict)  # what the parent holds
    last: SaveParts | None = None  # the last save's bookkeeping (the child reports it)

    def before_fork(self) -> None:
        """Parent, right before forking: drop the hash of every container that changed since
        its copy was taken, and copy it again: the child sees exactly that copy's state.
        If anything fails, the cache forgets everything (the next saves pickle again)."""
        try:
            for key, entry in list(self.entries.items()):
                if entry.ref is None or not identical(entry.obj, entry.copy):
                    self.entries[key] = Entry(entry.obj, shallow_copy(entry.obj), None)
        except Exception:  # e.g. out of memory for a copy: a snapshot never fails for a cache
            self.entries.clear()

    def after_fork_in_child(self) -> None:
        """Child: remember which copy the parent holds for each container."""
        self.fork_copies = {key: e.copy for key, e in self.entries.items()}

    def child_report(self) -> dict[str, Any]:
        """Child: what the parent may learn from the save just made (JSON-able)."""
        parts = self.last
        if parts is None:
            return {"used": [], "pickled": {}, "unknown": []}
        pickled = {}
        for key, entry in parts.pickled.items():
            fork_copy = self.fork_copies.get(key)
            if entry.ref is not None and fork_copy is not None and identical(entry.copy, fork_copy):
                pickled[str(key)] = [entry.ref.hash, entry.ref.size]
        return {
            "used": sorted(parts.used),
            "pickled": pickled,
            "unknown": sorted(parts.unknown_names),
        }

    def learn(self, report: dict[str, Any]) -> list[str]:
        """Parent: keep the parts the child used, with the hashes it confirmed for the copies
        taken at the fork; return the variables holding parts this cache does not know."""
        used = {int(k) for k in report.get("used", [])}
        kept: dict[int, Entry] = {}
        for key in used:
            entry = self.entries.get(key)
            if entry is None:
                continue
            confirmed = report.get("pickled", {}).get(str(key))
            if entry.ref is None and confirmed is not None:
                entry.ref = BlobRef(str(confirmed[0]), int(confirmed[1]))
            kept[key] = entry
        self.entries = kept
        return [str(n) for n in report.get("unknown", [])]

    def adopt(self, obj: object) -> None:
        """Parent: start tracking ``obj`` (found by a walk); the next fork re-checks it."""
        if id(obj) not in self.entries and large_enough(obj):
            self.entries[id(obj)] = Entry(obj, shallow_copy(obj), None)


class SaveParts:
    """One save's parts: the ``persistent_id`` of its candidates, and what it reused."""

    def __init__(self, cache: PartCache, sink: PartSink) -> None:
        self.cache = cache
        self.sink = sink
        self.serials: dict[int, int] = {}
        self.entries: dict[int, Entry] = {}  # parts of this save, by container id
        self.pickled: dict[int, Entry] = {}
        self.used: set[int] = set()
        self.refused: dict[int, object] = {}
        self.unknown_names: set[str] = set()
        self.refs: list[BlobRef] | None = None  # where the current value's parts are listed
        self.name = ""
        self.reused = 0

    def persistent_id(self, obj: object) -> tuple[str, int, str] | None:
        """A reference to ``obj``'s part blob, or None to pickle ``obj`` inline."""
        if len(obj) < MIN_ITEMS or not large_enough(obj):  # type: ignore[arg-type]
            return None
        key = id(obj)
        if self.cache.refused.get(key) is obj or key in self.refused:
            self.refused[key] = obj
            return None
        entry = self.entries.get(key)
        if entry is None:
            entry = self._reuse(key, obj) or self._pickle(key, obj)
            if entry is None:
                self.refused[key] = obj
                return None
            self.entries[key] = entry
        assert entry.ref is not None
        if self.refs is not None:
            self.refs.append(entry.ref)
        serial = self.serials.setdefault(key, len(self.serials))
        return (PART_TAG, serial, entry.ref.hash)

    def _reuse(self, key: int, obj: object) -> Entry | None:
        entry = self.cache.entries.get(key)
        if entry is None or entry.obj is not obj or entry.ref is None:
            return None
        if not identical(obj, entry.copy) or not self.sink.has_blob(entry.ref):
            return None
        self.used.add(key)
        self.reused += 1
        return entry

    def _pickle(self, key: int, obj: object) -> Entry | None:
        copy = shallow_copy(obj)
        if not only_atoms(copy):
            return None
        data = pickle.dumps(copy, protocol=5)
        entry = Entry(obj, copy, self.sink.write_part(data))
        self.pickled[key] = entry
        self.used.add(key)
        if key not in self.cache.entries:
            self.unknown_names.add(self.name)
        return entry

    def commit(self) -> None:
        """The save is published: the cache holds this save's parts (and only them)."""
        self.cache.entries = {key: self.entries[key] for key in self.used}
        self.cache.refused = self.refused
        self.cache.last = self


def parts_only_hook(parts: SaveParts) -> Callable[[object], object]:
    """A ``persistent_id`` that only makes part references (when no tracker runs)."""
    candidates, part_id = candidate_types(), parts.persistent_id

    def persistent_id(obj: object) -> object:
        return part_id(obj) if type(obj) in candidates else None

    return persistent_id


class PartLoader:
    """The unpickler's ``persistent_load``: the part blobs of the variable being restored,
    each unpickled once per group (the same container stays one object)."""

    def __init__(self) -> None:
        self.blobs: dict[str, object] = {}
        self.loaded: dict[tuple[int, str], object] = {}

    def __call__(self, pid: object) -> object:
        if not (isinstance(pid, tuple) and len(pid) == 3 and pid[0] == PART_TAG):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:80]}")
        key = (int(pid[1]), str(pid[2]))
        if key not in self.loaded:
            data = self.blobs.get(key[1])
            if data is None:
                raise pickle.UnpicklingError(f"part {key[1][:12]}… is not listed in the manifest")
            self.loaded[key] = pickle.loads(data)  # type: ignore[arg-type]
        return self.loaded[key]
