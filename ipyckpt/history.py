"""Cell history and variable provenance: which cell a snapshot follows, which cell made a variable.

Pure bookkeeping over cell sources (no IPython needed). The kernel calls :meth:`CellHistory.begin`
before a cell and :meth:`CellHistory.end` after it; every snapshot stores
:meth:`CellHistory.snapshot_info` in its manifest's ``info`` (signed like the rest), and a
restore hands that back to :meth:`CellHistory.adopt`, so provenance survives kernel restarts.

A cell's reads and writes come from its code (:func:`analyze`); the names whose binding changed
while it ran (a function assigning a ``global``) are added by the caller from a namespace diff.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

INFO_KEY = "history"  # the manifest ``info`` entry holding a snapshot's history
FIRST_LINE_CHARS = 80
_BUILTINS = frozenset(dir(builtins))


def source_hash(source: str) -> str:
    """A short, stable hash of a cell's source (what ``%checkpoint list`` compares)."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def first_line(source: str) -> str:
    """The cell's first non-blank line, shortened for tables; for a cell magic
    (``%%checkpoint every=1h``) the first line of its body, which says what the cell does."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("%%"):
        lines = lines[1:]
    text = lines[0] if lines else ""
    return text if len(text) <= FIRST_LINE_CHARS else text[: FIRST_LINE_CHARS - 1] + "…"


@dataclass(frozen=True)
class CellCode:
    """What a cell's code reads before assigning, assigns, and imports (name -> statement)."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    deletes: frozenset[str] = frozenset()
    imports: Mapping[str, str] = field(default_factory=dict)
    may_mutate: bool = False  # calls, subscript/attribute stores, augmented assignments


class _Names(ast.NodeVisitor):
    """Names loaded and stored by one top-level statement (nested scopes: free names only)."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.deletes: set[str] = set()
        self.mutates = False

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.stores.add(node.id)
        else:
            self.deletes.add(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.mutates = True
        if isinstance(node.target, ast.Name):
            self.loads.add(node.target.id)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self.mutates = True
        self.generic_visit(node)

    def _store_into(self, node: ast.Attribute | ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.mutates = True
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._store_into(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._store_into(node)

    def _scope(self, node: ast.AST, name: str | None, params: Iterable[str]) -> None:
        if name is not None:
            self.stores.add(name)
        inner = _Names()
        for child in getattr(node, "decorator_list", []):
            self.visit(child)
        body = getattr(node, "body", [])
        body = body if isinstance(body, list) else [body]
        for child in body:
            inner.visit(child)
        declared = {
            n for child in ast.walk(node) if isinstance(child, ast.Global) for n in child.names
        }
        # names declared global are assigned only when the function runs: the caller's
        # namespace diff sees them then
        self.loads |= inner.loads - (inner.stores - declared) - set(params)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        params = [a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)]
        self._scope(node, getattr(node, "name", None), params)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        inner = _Names()
        inner.generic_visit(node)
        self.loads |= inner.loads - inner.stores
        self.mutates = self.mutates or inner.mutates

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node)

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._comprehension(node)

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._comprehension(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in [*node.bases, *node.keywords]:
            self.visit(base)
        self._scope(node, node.name, ())


def analyze(source: str) -> CellCode:
    """Reads (before any assignment in the cell), writes, deletes and imports of ``source``.

    Statements are walked in order, so ``x = 1; y = x`` does not read ``x`` from earlier cells,
    while ``x = x + 1`` does. Builtins are not reads. Code that does not parse yields nothing.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return CellCode()
    reads: set[str] = set()
    writes: set[str] = set()
    deletes: set[str] = set()
    imports: dict[str, str] = {}
    mutates = False
    for statement in tree.body:
        names = _Names()
        names.visit(statement)
        reads |= names.loads - writes - _BUILTINS
        writes |= names.stores
        deletes = (deletes | names.deletes) - names.stores
        writes -= names.deletes
        mutates = mutates or names.mutates or bool(names.deletes)
        if isinstance(statement, ast.Import | ast.ImportFrom):
            imports.update(_imports(statement))
            writes |= set(_imports(statement))
    return CellCode(frozenset(reads), frozenset(writes), frozenset(deletes), imports, mutates)


def _imports(statement: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Bound name -> the single import statement that binds it (``import numpy as np``)."""
    out: dict[str, str] = {}
    prefix = ""
    if isinstance(statement, ast.ImportFrom):
        prefix = f"from {'.' * statement.level}{statement.module or ''} "
    for alias in statement.names:
        if alias.name == "*":
            continue
        bound = alias.asname or (alias.name if prefix else alias.name.split(".")[0])
        suffix = f" as {alias.asname}" if alias.asname else ""
        out[bound] = f"{prefix}import {alias.name}{suffix}"
    return out


@dataclass
class CellRecord:
    """One executed cell, as snapshots and provenance refer to it."""

    key: str  # "<kernel token>:<run number>", unique across kernel restarts
    count: int
    source_hash: str
    first_line: str
    cell_id: str | None = None
    source: str = ""  # as typed
    code: str = ""  # the Python IPython ran (magics transformed)
    reads: list[str] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)
    started: float = 0.0  # wall-clock time the cell started
    duration: float = 0.0
    ok: bool = True

    def label(self) -> str:
        """``[12] model.fit(X, y)``."""
        return f"[{self.count}] {self.first_line}".rstrip()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for the manifest)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellRecord:
        """Parse :meth:`to_json` output; unknown keys are ignored, wrong types raise."""
        return cls(
            key=str(doc["key"]),
            count=int(doc["count"]),
            source_hash=str(doc["source_hash"]),
            first_line=str(doc["first_line"]),
            cell_id=None if doc.get("cell_id") is None else str(doc["cell_id"]),
            source=str(doc.get("source", "")),
            code=str(doc.get("code", "")),
            reads=[str(n) for n in doc.get("reads", [])],
            imports={str(k): str(v) for k, v in dict(doc.get("imports", {})).items()},
            started=float(doc.get("started", 0.0)),
            duration=float(doc.get("duration", 0.0)),
            ok=bool(doc.get("ok", True)),
        )


@dataclass(frozen=True)
class SnapshotCell:
    """The cell a snapshot follows (``state="after"``) or interrupts (``"during"``)."""

    cell: CellRecord
    state: str

    def describe(self) -> str:
        """``after cell [12] fit(X)`` / ``during cell [12] for ...``."""
        return f"{self.state} cell {self.cell.label()}"


class CellHistory:
    """The cells this kernel ran and, for every variable, the cell that last assigned it."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or uuid.uuid4().hex[:8]  # tells apart kernels with the same counts
        self.runs = 0  # cells begun in this kernel (execution counts may repeat)
        self.cells: dict[str, CellRecord] = {}  # only cells that made a live variable are kept
        self.provenance: dict[str, str] = {}  # variable -> key of the cell that last assigned it
        self.running: CellRecord | None = None
        self.running_code = CellCode()
        self.last: CellRecord | None = None
        # names a restore or recompute set during the running cell: they keep the provenance
        # they were given, not the running cell's
        self.pinned: set[str] = set()

    def begin(
        self, source: str, count: int, *, cell_id: str | None = None, code: str | None = None
    ) -> CellRecord:
        """A cell starts: ``source`` as typed, ``code`` as Python (IPython-transformed)."""
        self.running_code = analyze(source if code is None else code)
        self.runs += 1
        self.running = CellRecord(
            key=f"{self.token}:{self.runs}",
            count=count,
            source_hash=source_hash(source),
            first_line=first_line(source),
            cell_id=cell_id,
            source=source,
            code=source if code is None else code,
            reads=sorted(self.running_code.reads),
            imports=dict(self.running_code.imports),
            started=time.time(),
        )
        return self.running

    def end(
        self, *, ok: bool = True, rebound: Iterable[str] = (), removed: Iterable[str] = ()
    ) -> CellRecord | None:
        """The running cell ended; ``rebound``/``removed``: names whose binding changed meanwhile."""
        cell, self.running = self.running, None
        if cell is None:
            return None
        cell.duration = max(0.0, time.time() - cell.started)
        cell.ok = ok
        assigned = set(self.running_code.writes) | set(rebound)
        self._assign(cell, assigned - self.pinned)
        for name in (set(removed) | set(self.running_code.deletes)) - self.pinned:
            self.provenance.pop(name, None)
        self.pinned = set()
        self.last = cell
        self._forget_unused_cells()
        return cell

    def _assign(self, cell: CellRecord, names: Iterable[str]) -> None:
        for name in names:
            self.provenance[name] = cell.key
            self.cells[cell.key] = cell

    def _forget_unused_cells(self) -> None:
        used = set(self.provenance.values())
        self.cells = {k: c for k, c in self.cells.items() if k in used}

    def made_by(self, name: str) -> CellRecord | None:
        """The cell that last assigned ``name`` (None if unknown)."""
        key = self.provenance.get(name)
        return self.cells.get(key) if key else None

    def current(self, trigger: str = "") -> SnapshotCell | None:
        """The cell a snapshot taken now follows or interrupts (a cell's ``end`` snapshot follows it)."""
        if self.running is not None:
            return SnapshotCell(self.running, "after" if trigger == "end" else "during")
        return SnapshotCell(self.last, "after") if self.last is not None else None

    def snapshot_info(self, trigger: str = "") -> dict[str, Any]:
        """What a snapshot taken now stores under ``info[INFO_KEY]``."""
        provenance = dict(self.provenance)
        cells = dict(self.cells)
        where = self.current(trigger)
        if where is not None and where.state == "after" and where.cell is self.running:
            for name in self.running_code.writes:  # the cell's own end snapshot
                provenance[name] = where.cell.key
            cells[where.cell.key] = where.cell
        used = set(provenance.values())
        return {
            "cell": None if where is None else {**_brief(where.cell), "state": where.state},
            "provenance": provenance,
            "cells": {k: c.to_json() for k, c in cells.items() if k in used},
        }

    def adopt(self, info: Mapping[str, Any], restored: Iterable[str]) -> None:
        """After a restore: the ``restored`` names, and names this kernel knows nothing about
        (variables the snapshot skipped, imports), take their provenance from the snapshot."""
        history = read_info(info)
        if history is None:
            return
        provenance, cells = history
        restored = set(restored)
        for name, key in provenance.items():
            if key in cells and (name in restored or name not in self.provenance):
                self.provenance[name] = key
                self.cells[key] = cells[key]
        if self.running is not None:
            self.pinned |= restored
        self._forget_unused_cells()

    def forget(self, names: Iterable[str]) -> None:
        """``names`` were removed by a restore: no cell made them any more."""
        for name in names:
            self.provenance.pop(name, None)
        if self.running is not None:
            self.pinned |= set(names)
        self._forget_unused_cells()


def _brief(cell: CellRecord) -> dict[str, Any]:
    return {
        "key": cell.key,
        "count": cell.count,
        "source_hash": cell.source_hash,
        "first_line": cell.first_line,
        "cell_id": cell.cell_id,
        "started": cell.started,
    }


def carried_missing(info: Mapping[str, Any]) -> dict[str, str]:
    """Variables an earlier restore could not bring back and that were still undefined when
    this snapshot was taken (name -> why), so that a later restore can still recompute them."""
    history = info.get(INFO_KEY)
    missing = history.get("missing") if isinstance(history, Mapping) else None
    if not isinstance(missing, Mapping):
        return {}
    return {str(k): str(v) for k, v in missing.items()}


def snapshot_cell(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``cell`` entry (count, first line, state, ...) of a manifest's info, if well formed."""
    history = info.get(INFO_KEY)
    if not isinstance(history, Mapping):
        return None
    cell = history.get("cell")
    if not isinstance(cell, Mapping) or not isinstance(cell.get("count"), int):
        return None
    return dict(cell)


def read_info(info: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, CellRecord]] | None:
    """(provenance, cells) of a manifest's info; None if absent or malformed."""
    history = info.get(INFO_KEY)
    if not isinstance(history, Mapping):
        return None
    try:
        provenance = {str(k): str(v) for k, v in dict(history.get("provenance") or {}).items()}
        cells = {
            str(k): CellRecord.from_json(v) for k, v in dict(history.get("cells") or {}).items()
        }
    except (KeyError, TypeError, ValueError):
        return None
    return provenance, cells
