"""Running an instrumented cell: the one executor used by ``%%checkpoint`` and the HTCondor runner.

Three concepts live here, each once:

- :class:`ResumeInfo`: where inside which cell a snapshot was taken (stored in the generation's
  ``info``; read back to resume the cell there).
- :func:`run_cell`: compile an :class:`~ipyckpt.safepoints.InstrumentedCell`, bind the runtime to
  ``__ipyckpt__``, ``exec`` the body, ``eval`` the last expression, and always unbind.
- :class:`TerminationHandler`: SIGTERM → one snapshot at the next consistent point (at once
  when no cell runs) → exit, bounded by a watchdog so a shutdown never hangs.

No IPython here: the kernel (:mod:`ipyckpt.kernel.cellrun`) and the job
(:mod:`ipyckpt.condor.runner`) pass what differs (file name, compiler flags, what to snapshot).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ipyckpt.exitcodes import EXIT_SIGTERM
from ipyckpt.safepoints import (
    RUNTIME_NAME,
    InstrumentedCell,
    ResumePoint,
    SafepointRuntime,
    current_runtime,
)


@dataclass(frozen=True)
class ResumeInfo:
    """A snapshot taken inside a cell: the cell's identity, the position, and its description."""

    cell: str  # InstrumentedCell.source_hash
    position: ResumePoint
    where: str  # for people: "statement 2, iteration 41 of for i in range(...)"

    @classmethod
    def at(cls, cell: InstrumentedCell, position: ResumePoint) -> ResumeInfo:
        """The resume record of ``cell`` stopped at ``position``."""
        return cls(cell.source_hash, position, position.describe(cell.statements))

    def to_info(self) -> dict[str, Any]:
        """The JSON-able form stored in a generation's ``info``."""
        return {"cell": self.cell, "position": self.position.to_dict(), "where": self.where}

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ResumeInfo | None:
        """Read it back from a generation's ``info`` (None if the snapshot was not in a cell)."""
        cell, position = info.get("cell"), info.get("position")
        if not isinstance(cell, str) or not isinstance(position, dict):
            return None
        try:
            point = ResumePoint.from_dict(position)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(cell, point, str(info.get("where", "")))


def run_cell(
    cell: InstrumentedCell,
    ns: MutableMapping[str, Any],
    runtime: SafepointRuntime,
    *,
    filename: str,
    flags: int = 0,
) -> Any:
    """Execute ``cell`` in ``ns`` with ``runtime`` active; return its last expression's value.

    The cell's exceptions propagate unchanged; ``__ipyckpt__`` is removed from ``ns`` in any case.
    """
    body = compile(cell.body, filename, "exec", flags=flags, dont_inherit=True)
    last = (
        compile(cell.last_expr, filename, "eval", flags=flags, dont_inherit=True)
        if cell.last_expr
        else None
    )
    ns[RUNTIME_NAME] = runtime
    try:
        with runtime.activate():
            exec(body, ns)  # type: ignore[arg-type]
            return eval(last, ns) if last is not None else None  # type: ignore[arg-type]
    finally:
        ns.pop(RUNTIME_NAME, None)


def exit_now(code: int = EXIT_SIGTERM) -> None:
    """Leave the process immediately (after flushing output); atexit hooks do not run."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


class TerminationHandler:
    """SIGTERM → one snapshot → exit: the same path for the kernel and the HTCondor job.

    While an instrumented cell runs, the snapshot is requested for its next consistent point
    (never mid-statement) with ``trigger``, and the process exits with ``exit_code`` right after
    it (the snapshot callback may exit first, as the job does with 85). When no cell runs,
    ``snapshot_idle(trigger)`` runs at once, then the process exits. A watchdog thread ends the
    process after ``grace()`` seconds whatever happens; a repeated SIGTERM changes nothing.
    """

    def __init__(
        self,
        *,
        grace: Callable[[], float],
        snapshot_idle: Callable[[str], None] | None = None,
        trigger: str = "sigterm",
        exit_code: int = EXIT_SIGTERM,
    ) -> None:
        self.grace = grace
        self.snapshot_idle = snapshot_idle
        self.trigger = trigger
        self.exit_code = exit_code
        self.terminating = False
        self._previous: Any = None

    def install(self) -> None:
        """Handle SIGTERM from now on (only the main thread may set signal handlers)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def uninstall(self) -> None:
        """Put back the previous SIGTERM handler."""
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def start_watchdog(self) -> None:
        """End the process after the grace time, whatever it is doing then."""
        timer = threading.Timer(float(self.grace()), exit_now, args=(self.exit_code,))
        timer.daemon = True
        timer.start()

    def _exit(self) -> None:
        exit_now(self.exit_code)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.terminating:
            return
        self.terminating = True
        self.start_watchdog()
        runtime = current_runtime()
        if runtime is not None:
            runtime.request_snapshot(self.trigger, then=self._exit)
            return
        if self.snapshot_idle is not None:
            self.snapshot_idle(self.trigger)
        self._exit()
