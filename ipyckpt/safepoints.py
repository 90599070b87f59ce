"""Consistent points inside a running cell, and resuming a cell where its snapshot was taken.

A cell's top-level statements are numbered 0..n-1. :func:`instrument` inserts calls to the
runtime (bound to ``__ipyckpt__`` in the user namespace) only at consistent points: before each
top-level statement, at the start of each iteration of a top-level ``for``/``while`` loop (after
the loop target is assigned, before the body), and at the end. A snapshot is therefore never
taken in the middle of a statement. ``ipyckpt.safepoint()`` adds points anywhere in user code.

Resume: statements before the resume point are dropped (their effects are in the restored
namespace); an interrupted ``for`` loop re-evaluates its iterable and skips the iterations that
had completed (the iterable must be deterministic); a ``while`` loop re-enters with the
restored variables.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

RUNTIME_NAME = "__ipyckpt__"


@dataclass(frozen=True)
class ResumePoint:
    """Where a snapshot was taken: before statement ``statement`` or at iteration ``iteration``."""

    statement: int
    iteration: int | None = None

    def describe(self, statements: tuple[str, ...]) -> str:
        """``statement 2, iteration 41 of for i in range(...)`` (statements numbered from 1)."""
        if self.statement >= len(statements):
            return "the end of the cell"
        text = f"statement {self.statement + 1}"
        if self.iteration is not None:
            text += f", iteration {self.iteration} of {statements[self.statement]}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the manifest)."""
        return {"statement": self.statement, "iteration": self.iteration}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResumePoint:
        """Inverse of :meth:`to_dict`."""
        it = data.get("iteration")
        return cls(int(data["statement"]), None if it is None else int(it))


@dataclass
class InstrumentedCell:
    """The cell to ``exec`` (``body``), its last expression to ``eval``, and its identity."""

    body: ast.Module
    last_expr: ast.Expression | None
    source_hash: str
    statements: tuple[str, ...]


def _call(method: str, *args: ast.expr, node: ast.AST) -> ast.Expr:
    call = ast.Call(
        func=ast.Attribute(value=ast.Name(RUNTIME_NAME, ast.Load()), attr=method, ctx=ast.Load()),
        args=list(args),
        keywords=[],
    )
    return ast.copy_location(ast.Expr(call), node)


def _describe(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.For):
        head = f"for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}"
    elif isinstance(stmt, ast.While):
        head = f"while {ast.unparse(stmt.test)}"
    else:
        head = ast.unparse(stmt).splitlines()[0] if ast.unparse(stmt) else type(stmt).__name__
    return head if len(head) <= 60 else head[:57] + "..."


def instrument(source: str, *, resume: ResumePoint | None = None) -> InstrumentedCell:
    """Parse ``source`` and add consistent points (see the module docstring)."""
    tree = ast.parse(source)
    stmts = tree.body
    n = len(stmts)
    statements = tuple(_describe(s) for s in stmts)  # before the loops are rewritten
    if resume is not None and not 0 <= resume.statement <= n:
        raise ValueError(f"resume point {resume} is outside this cell's {n} statements")
    last_expr = None
    if stmts and isinstance(stmts[-1], ast.Expr) and (resume is None or resume.statement < n):
        last_expr = ast.Expression(stmts[-1].value)
        ast.copy_location(last_expr, stmts[-1])
    body: list[ast.stmt] = []
    start = resume.statement if resume is not None else 0
    # modules are not saved (they are re-imported): skipped imports run again on resume
    body.extend(s for s in stmts[:start] if isinstance(s, ast.Import | ast.ImportFrom))
    for k in range(start, n):
        stmt = stmts[k]
        body.append(_call("at_statement", ast.Constant(k), node=stmt))
        if k == n - 1 and last_expr is not None:
            break
        body.append(_instrument_loop(stmt, k))
    body.append(_call("at_end", ast.Constant(n), node=stmts[-1] if stmts else tree))
    module = ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
    if last_expr is not None:
        ast.fix_missing_locations(last_expr)
    return InstrumentedCell(
        body=module,
        last_expr=last_expr,
        source_hash=hashlib.sha256(source.encode()).hexdigest(),
        statements=statements,
    )


def _instrument_loop(stmt: ast.stmt, k: int) -> ast.stmt:
    if isinstance(stmt, ast.For):
        stmt.iter = ast.copy_location(
            ast.Call(
                func=ast.Attribute(
                    value=ast.Name(RUNTIME_NAME, ast.Load()), attr="loop", ctx=ast.Load()
                ),
                args=[ast.Constant(k), stmt.iter],
                keywords=[],
            ),
            stmt.iter,
        )
        stmt.body.insert(0, _call("at_iteration", ast.Constant(k), node=stmt.body[0]))
    elif isinstance(stmt, ast.While):
        stmt.body.insert(0, _call("at_iteration", ast.Constant(k), node=stmt.body[0]))
    # async for is left alone: %%checkpoint runs cells synchronously, so it cannot appear here
    return stmt


_CURRENT: list[SafepointRuntime] = []


def current_runtime() -> SafepointRuntime | None:
    """The runtime of the ``%%checkpoint`` cell running now, if any."""
    return _CURRENT[-1] if _CURRENT else None


class SafepointRuntime:
    """Bound to ``__ipyckpt__`` while a cell runs: tracks the position, takes due snapshots."""

    def __init__(
        self,
        *,
        interval: float | None,
        on_snapshot: Callable[[ResumePoint, str], None],
        resume: ResumePoint | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.on_snapshot = on_snapshot
        self.clock = clock
        self.deadline = clock() + interval if interval else float("inf")
        self.requested: str | None = None  # set from signal handlers, hence re-read below
        self.statement = resume.statement if resume else 0
        self.iteration: int | None = None
        self._resume = resume
        self._then: Callable[[], None] | None = None

    @property
    def position(self) -> ResumePoint:
        """The current consistent position (end of cell once completed)."""
        return ResumePoint(self.statement, self.iteration)

    def request_snapshot(self, reason: str, then: Callable[[], None] | None = None) -> None:
        """Ask for a snapshot at the next consistent point (safe from signal handlers).

        ``then`` runs right after that snapshot (e.g. exit the process after a SIGTERM).
        """
        self.requested = reason
        self._then = then
        self.deadline = float("-inf")

    def _check(self, trigger: str) -> None:
        if (
            self.clock() < self.deadline
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        reason, then = self.requested or trigger, self._then
        self.requested, self._then = None, None
        self.on_snapshot(self.position, reason)
        if then is not None:
            then()
        self.deadline = self.clock() + self.interval if self.interval else float("inf")
        self._rearm_if_requested()

    def _rearm_if_requested(self) -> None:
        """A request (e.g. SIGTERM) that arrived during the snapshot is served at the next point."""
        if self.requested is not None:
            self.deadline = float("-inf")

    def at_statement(self, k: int) -> None:
        """Before top-level statement ``k``."""
        self.statement, self.iteration = k, None
        self._check("periodic")

    def _resumed_iterations(self, k: int) -> int:
        resume, self._resume = self._resume, None
        if resume is not None and resume.statement == k and resume.iteration:
            return resume.iteration
        return 0

    def loop(self, k: int, iterable: Iterable[Any]) -> Iterator[Any]:
        """The iterable of top-level loop ``k``, fast-forwarded when resuming inside it."""
        skip = self._resumed_iterations(k)
        self.statement, self.iteration = k, skip - 1
        return itertools.islice(iter(iterable), skip, None) if skip else iter(iterable)

    def at_iteration(self, k: int) -> None:
        """Start of an iteration of top-level loop ``k`` (target assigned, body not run)."""
        if self.iteration is None:  # first iteration of a while loop
            self.statement, self.iteration = k, self._resumed_iterations(k)
        else:
            self.iteration += 1
        if self.clock() >= self.deadline:
            self._check("periodic")

    def at_end(self, n: int) -> None:
        """After the last statement."""
        self.statement, self.iteration = n, None

    def safepoint(self) -> None:
        """An explicit consistent point from user code (resumes at the enclosing position)."""
        self._check("safepoint")

    @contextlib.contextmanager
    def activate(self) -> Iterator[SafepointRuntime]:
        """Make this the runtime that :func:`safepoint` and SIGTERM handlers see."""
        _CURRENT.append(self)
        try:
            yield self
        finally:
            _CURRENT.remove(self)


def safepoint() -> None:
    """Take a snapshot here if one is due (no-op outside ``%%checkpoint``).

    The position recorded is the enclosing top-level statement/iteration, which is re-run on
    resume: code calling this mid-iteration must continue from its variables (HTCondor
    self-checkpointing style).
    """
    runtime = current_runtime()
    if runtime is not None:
        runtime.safepoint()
