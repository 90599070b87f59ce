"""Snapshots when the kernel is told to stop: SIGTERM (eviction, ``kill``) and normal shutdown.

On SIGTERM while a checkpointed cell runs, a snapshot is requested for the cell's next consistent
point (never mid-statement); when idle, it is taken at once. Either way the kernel then exits.
A watchdog bounds the whole thing by ``Checkpointer.shutdown_grace`` seconds: a shutdown never
hangs, and a snapshot cut short leaves the previous one intact. On a normal shutdown (the
interpreter exiting) a final snapshot is taken if this kernel saved state before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGTERM_EXIT = 128 + signal.SIGTERM


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def exit_now(code: int = SIGTERM_EXIT) -> None:
    """Leave the process immediately (after flushing output); atexit hooks do not run."""
    _flush()
    os._exit(code)


class ShutdownHooks:
    """Install/uninstall the SIGTERM handler and the atexit snapshot for one Checkpointer."""

    def __init__(self, magics: Any) -> None:
        self.magics = magics
        self._previous: Any = None
        self.terminating = False

    def install(self) -> None:
        """Arm the hooks (only the main thread may set signal handlers)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        atexit.register(self._on_exit)

    def uninstall(self) -> None:
        """Disarm the hooks and put back the previous SIGTERM handler."""
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        atexit.unregister(self._on_exit)

    def _start_watchdog(self) -> None:
        grace = float(self.magics.shutdown_grace)
        timer = threading.Timer(grace, exit_now)
        timer.daemon = True
        timer.start()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.terminating:
            return
        self.terminating = True
        self._start_watchdog()
        from ipyckpt.safepoints import current_runtime

        runtime = current_runtime()
        if runtime is not None:
            runtime.request_snapshot("sigterm")  # taken at the next consistent point, then exit
            return
        self._snapshot_idle("sigterm")
        exit_now()

    def after_cell_snapshot(self, trigger: str) -> None:
        """Called after each in-cell snapshot: a SIGTERM snapshot ends the process."""
        if trigger == "sigterm":
            exit_now()

    def _on_exit(self) -> None:
        if self.terminating:
            return
        self.terminating = True
        self._start_watchdog()
        self._snapshot_idle("shutdown")

    def _snapshot_idle(self, trigger: str) -> None:
        """Snapshot the tracked variables, if this kernel has saved state before."""
        session = self.magics.session
        if session.last_save is None:
            return
        from ipyckpt.kernel.commands import tracked_names

        try:
            report = session.save(tracked_names(self.magics), trigger=trigger)
            print(f"ipyckpt: {report}", file=sys.stderr)
        except Exception as exc:  # never block a shutdown
            print(f"ipyckpt: no {trigger} snapshot: {exc}", file=sys.stderr)
