"""Which variables share objects: the grouping behind per-variable pickles.

Each variable is first pickled on its own (fresh memo), so it can be restored or lost alone. A
:class:`SharingTracker` is the pickler's ``persistent_id`` hook: it sees every object the
pickler writes and notices when a variable reaches a mutable object an earlier variable already
reached (``b = {"x": a}``). Such variables are joined into one group and pickled again together,
so the object stays shared after a restore (``b["x"] is a``).

Objects whose identity does not matter are not tracked: immutable atoms (str, int, tuple, ...),
classes and functions that are pickled by reference (importable), numpy dtypes, enum members
and mutable class attributes (shared by every instance by design). A false positive only costs time (a group pickled twice); it never changes a result.
"""

from __future__ import annotations

import enum
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

_ATOMS: frozenset[type] = frozenset(
    {
        str,
        bytes,
        int,
        float,
        complex,
        bool,
        type(None),
        tuple,
        frozenset,
        range,
        slice,
        type(Ellipsis),
        type(NotImplemented),
        types.BuiltinFunctionType,
        types.ModuleType,
    }
)
_MUTABLE_DEFAULTS = (list, dict, set)
_TRACK, _IGNORE, _IF_BY_VALUE = 0, 1, 2
# compiled functions pickled by name (Cython, numpy ufuncs, C methods), like Python functions
_FUNCTION_TYPE_NAMES = frozenset(
    {"cython_function_or_method", "fused_cython_function", "ufunc", "method_descriptor"}
)


def importable(obj: object) -> bool:
    """True if pickle can store ``obj`` (a class or function) by reference, not by value.

    Objects of the notebook (``__main__``), lambdas and nested functions are not importable:
    they are pickled by value with dill.
    """
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module_name or module_name == "__main__" or not qualname or "<" in qualname:
        return False
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return False
    return found is obj


def _kind_of(tp: type) -> int:
    """Whether objects of type ``tp`` are tracked, ignored, or tracked unless importable."""
    if tp in _ATOMS or issubclass(tp, enum.Enum):
        return _IGNORE
    if issubclass(tp, type | types.FunctionType) or tp.__name__ in _FUNCTION_TYPE_NAMES:
        return _IF_BY_VALUE
    numpy = sys.modules.get("numpy")
    return _IGNORE if numpy is not None and issubclass(tp, numpy.dtype) else _TRACK


class SharingTracker:
    """The ``persistent_id`` of every pickler of one save: records who reached which object."""

    def __init__(
        self,
        parts: Callable[[object], object] | None = None,
        part_types: frozenset[type] = frozenset(),
        part_min_items: int = 0,
    ) -> None:
        self._parts, self._part_types, self._part_min = parts, part_types, part_min_items
        self._owner: dict[int, int] = {}
        self._alive: list[object] = []  # keeps tracked objects alive: ids are never reused
        self._kinds: dict[type, int] = {}
        self._by_ref: dict[int, bool] = {}
        self._pinned: list[object] = []
        self._class_defaults: set[int] = set()
        self._current = -1
        self._mark = 0
        self._shared: set[int] = set()
        self._parent: dict[int, int] = {}
        self._ignored: set[type] = set(_ATOMS)
        self.persistent_id = self._make_hook()

    def begin(self, index: int) -> None:
        """Variable ``index`` starts pickling (again, after a failed attempt)."""
        self._current = index
        self._mark = len(self._alive)
        self._shared = set()

    def abandon(self) -> None:
        """The current attempt failed: forget what it reached."""
        for obj in self._alive[self._mark :]:
            self._owner.pop(id(obj), None)
        del self._alive[self._mark :]
        self._shared = set()

    def commit(self) -> None:
        """The current variable pickled: join it with every variable it shares objects with."""
        for other in self._shared:
            self._union(other, self._current)

    def _make_hook(self) -> Callable[[object], object]:
        """The pickler's ``persistent_id``: called for every object written, so types whose
        objects are never tracked (most of them: str, int, tuple...) return at once. With
        ``parts``, a container of ``part_types`` may come back as a part reference."""
        ignored, track = self._ignored, self._track
        parts, part_types, part_min = self._parts, self._part_types, self._part_min
        if parts is None:

            def persistent_id(obj: object) -> None:
                if type(obj) not in ignored:
                    track(obj)

            return persistent_id

        def persistent_id_or_part(obj: Any) -> object:
            tp = type(obj)
            if tp not in ignored:
                track(obj)
                # containers are tracked: one test on the common path; small lists and dicts
                # (instance __dict__s) go no further
                sized = tp is list or tp is dict
                if tp in part_types and (not sized or len(obj) >= part_min):
                    return parts(obj)
            return None

        return persistent_id_or_part

    def _track(self, obj: object) -> None:
        tp = type(obj)
        kind = self._kinds.get(tp)
        if kind is None:
            kind = self._kinds[tp] = _kind_of(tp)
            self._note_class_defaults(tp)
            if kind == _IGNORE:
                self._ignored.add(tp)
        if kind == _IGNORE or (kind == _IF_BY_VALUE and self._is_by_reference(obj)):
            return
        key = id(obj)
        if key in self._class_defaults:
            return
        owner = self._owner.get(key)
        if owner is None:
            self._owner[key] = self._current
            self._alive.append(obj)
        elif owner != self._current:
            self._shared.add(owner)

    def _note_class_defaults(self, tp: type) -> None:
        """Mutable class attributes (``DataFrame._metadata = []``) are shared by design."""
        for klass in tp.__mro__:
            for value in vars(klass).values():
                if isinstance(value, _MUTABLE_DEFAULTS):
                    self._class_defaults.add(id(value))
                    self._pinned.append(value)

    def _is_by_reference(self, obj: object) -> bool:
        key = id(obj)
        known = self._by_ref.get(key)
        if known is None:
            known = self._by_ref[key] = importable(obj)
            self._pinned.append(obj)  # the cached answer stays valid: the id is not reused
        return known

    def _find(self, i: int) -> int:
        root = i
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        self._parent[i] = root
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def groups(self, indices: Iterable[int]) -> list[list[int]]:
        """``indices`` partitioned into sharing groups, each sorted, ordered by first member."""
        by_root: dict[int, list[int]] = {}
        for i in sorted(indices):
            by_root.setdefault(self._find(i), []).append(i)
        return sorted(by_root.values(), key=lambda g: g[0])
