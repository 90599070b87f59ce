"""Snapshots when the kernel is told to stop: SIGTERM (eviction, ``kill``) and normal shutdown.

SIGTERM goes through the one path of :class:`ipyckpt.cells.TerminationHandler`: while a
checkpointed cell runs, a snapshot is requested for the cell's next consistent point (never
mid-statement); when idle, it is taken at once. Either way the kernel then exits, and a watchdog
bounds the whole thing by ``Checkpointer.shutdown_grace`` seconds: a shutdown never hangs, and a
snapshot cut short leaves the previous one intact. On a normal shutdown (the interpreter
exiting) a final snapshot is taken if this kernel saved state before.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable

from ipyckpt.cells import TerminationHandler
from ipyckpt.session import StateSession


class ShutdownHooks:
    """The SIGTERM handler and the atexit snapshot of one session."""

    def __init__(self, session: StateSession, grace: Callable[[], float]) -> None:
        self.session = session
        self.termination = TerminationHandler(grace=grace, snapshot_idle=self._snapshot_idle)

    def install(self) -> None:
        """Arm the hooks."""
        self.termination.install()
        atexit.register(self._on_exit)

    def uninstall(self) -> None:
        """Disarm the hooks and put back the previous SIGTERM handler."""
        self.termination.uninstall()
        atexit.unregister(self._on_exit)

    def _on_exit(self) -> None:
        if self.termination.terminating:
            return
        self.termination.terminating = True
        self.termination.start_watchdog()
        self._snapshot_idle("shutdown")

    def _snapshot_idle(self, trigger: str) -> None:
        """Snapshot the tracked variables, if this kernel has saved state before."""
        session = self.session
        if session.last_save is None:
            return
        try:
            report = session.save(session.tracked_names(), trigger=trigger)
            print(f"ipyckpt: {report}", file=sys.stderr)
        except Exception as exc:  # never block a shutdown
            print(f"ipyckpt: no {trigger} snapshot: {exc}", file=sys.stderr)
