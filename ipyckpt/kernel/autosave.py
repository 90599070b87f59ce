"""The cell hooks behind autosave and cell history: every cell is recorded, and the session is
snapshotted after cells that changed state (:mod:`ipyckpt.autosave` decides when).

``pre_run_cell`` records the cell that starts (its JupyterLab cell id comes from ipykernel via
``ExecutionInfo.cell_id``) and the bindings of the user's variables; ``post_run_cell`` records
which names the cell assigned (from its code, plus a diff of the bindings for assignments made
inside called functions) and takes the autosave when due. A ``%%checkpoint`` cell snapshots
itself (``every=``), so it only counts as a snapshot here. A failed autosave never affects the
cell: one line on stderr, and the next one is tried after the interval. An autosave due while
the previous background snapshot is still written is tried again every 0.5 s until it is taken,
so a kernel left idle after a cell never keeps that cell's changes unsaved.

Changes not yet saved when a cell ends are saved once the interval has passed even if no other
cell runs: a timer on the kernel's event loop, which fires only while no cell is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from types import ModuleType
from typing import Any

from ipyckpt.autosave import AutosaveClock
from ipyckpt.session import SnapshotSkipped

CELL_MAGIC = "%%checkpoint"
RETRY_SKIPPED_S = 0.5  # an autosave skipped while a child writes is tried again this often
LINE_MAGIC = "%checkpoint"


def _bindings(shell: Any) -> dict[str, int]:
    """``name -> id(value)`` of the user's public variables. Cheap, because it runs twice per
    cell and IPython keeps ``_iN``/``_N`` entries for every cell: names starting with ``_`` are
    left out (their assignments in a cell's own code still count)."""
    hidden = shell.user_ns_hidden
    return {
        name: id(value)
        for name, value in shell.user_ns.items()
        if name[:1] != "_"
        and not (name in hidden and hidden[name] is value)
        and not isinstance(value, ModuleType)
    }


def _python_of(shell: Any, raw: str, transformed: str | None) -> str:
    """The Python a cell runs: IPython's transform, or a ``%%checkpoint`` cell's body."""
    if raw.lstrip().startswith(CELL_MAGIC):
        raw = raw.lstrip().partition("\n")[2]
    elif isinstance(transformed, str):
        return transformed
    try:
        return str(shell.transform_cell(raw))
    except Exception:  # a cell IPython cannot transform: nothing to learn from it
        return ""


class CellWatcher:
    """Records every cell in ``session.history`` and autosaves the session."""

    def __init__(self, magics: Any) -> None:
        self.magics = magics
        self.shell: Any = magics.shell
        self.clock.interval = magics.autosave_interval()
        # the first autosave comes one interval after loading, like every later one (a restored
        # state is protected already; the first seconds of a session are cheap to redo)
        self.clock.last_snapshot = time.monotonic()
        self.before: dict[str, int] = {}
        self.started = 0.0
        self.started_at = 0.0
        self.managing = False  # the running cell is a %checkpoint command
        self.self_saving = False  # the running cell is a %%checkpoint cell (its own every=)
        self.last_error: str | None = None
        self.timer: Any = None  # asyncio TimerHandle of the pending idle autosave

    @property
    def clock(self) -> AutosaveClock:
        """The session's autosave clock (``%checkpoint status`` and ``clear`` use it too)."""
        clock: AutosaveClock = self.magics.session.autosave
        return clock

    def install(self) -> None:
        """Register the hooks on the shell."""
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def uninstall(self) -> None:
        """Unregister the hooks."""
        self._cancel_timer()
        for event, hook in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(event, hook)

    def pre_run_cell(self, info: Any) -> None:
        """A cell starts."""
        self._cancel_timer()
        raw = str(getattr(info, "raw_cell", "") or "")
        self.self_saving = raw.lstrip().startswith(CELL_MAGIC)
        self.managing = raw.lstrip().startswith(LINE_MAGIC) and not self.self_saving
        self.before = _bindings(self.shell)
        self.started = time.monotonic()
        self.started_at = time.time()
        # IPython counts a cell that goes into the history before it runs
        counted = getattr(info, "store_history", False) and not getattr(info, "silent", False)
        self.magics.session.history.begin(
            raw,
            int(self.shell.execution_count) - (1 if counted else 0),
            cell_id=getattr(info, "cell_id", None),
            code=_python_of(self.shell, raw, getattr(info, "transformed_cell", None)),
        )

    def post_run_cell(self, result: Any) -> None:
        """A cell ended: record what it assigned; autosave if due."""
        history = self.magics.session.history
        if history.running is None:
            return  # e.g. the cell that loaded the extension
        seconds = time.monotonic() - self.started
        if isinstance(getattr(result, "execution_count", None), int):
            history.running.count = result.execution_count
        after = _bindings(self.shell)
        rebound = [n for n, ident in after.items() if self.before.get(n) != ident]
        removed = [n for n in self.before if n not in after]
        code = history.running_code
        history.end(ok=bool(getattr(result, "success", True)), rebound=rebound, removed=removed)
        # %checkpoint commands change state only by rebinding (a restore), not by their call
        may_mutate = code.may_mutate and not self.managing
        self.clock.interval = self.magics.autosave_interval()  # the cell may have set it
        self.clock.cell_ran(changed=bool(rebound or removed or may_mutate), now=time.monotonic())
        saved_at = self.magics.session.last_saved_at
        if saved_at is not None and saved_at >= self.started_at:
            # the cell saved everything itself (%%checkpoint, %checkpoint save)
            self.clock.snapshot_taken(time.monotonic())
        elif self.self_saving:
            return  # %%checkpoint decides its own snapshots (vars=, every=): the next cell saves
        elif self.clock.due(time.monotonic(), seconds):
            self.autosave()
        if self.timer is None:  # (a skipped autosave armed its retry already)
            self._arm_timer()

    def _arm_timer(self, delay: float | None = None) -> None:
        """Save the pending changes when the interval has passed (or after ``delay``), if the
        kernel is idle then."""
        interval = self.clock.effective_interval()
        if not self.clock.dirty or interval is None or self.clock.last_snapshot is None:
            return
        if delay is None:
            delay = max(0.0, self.clock.last_snapshot + interval - time.monotonic())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a plain IPython shell: saved after the next cell instead
            return
        self._cancel_timer()
        self.timer = loop.call_later(delay, self._on_timer)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        if self.magics.session.history.running is not None:
            return  # a cell is running (top-level await): its end decides
        if self.clock.due(time.monotonic()):
            self.autosave()
        else:
            self._arm_timer()  # the loop's clock fired a little early

    def autosave(self) -> None:
        """Snapshot the user's variables now (the session's saver; never raises)."""
        session = self.magics.session
        if session.location is None:
            return  # no notebook known: nothing to save to (and nothing to nag about)
        started = time.monotonic()
        try:
            session.save(session.tracked_names(), trigger="autosave")
        except SnapshotSkipped:  # the previous one is still written: retried once it is done
            self.clock.dirty = True
            self._arm_timer(delay=RETRY_SKIPPED_S)
            return
        except Exception as exc:  # a snapshot never costs the user their cell
            message = f"ipyckpt: autosave failed, the previous state checkpoint is intact: {exc}"
            if message != self.last_error:
                print(message, file=sys.stderr)
            self.last_error = message
            self.clock.snapshot_taken(time.monotonic(), pause=time.monotonic() - started)
            self.clock.dirty = True  # still unsaved: retried after the interval
            return
        self.last_error = None
        now = time.monotonic()
        self.clock.snapshot_taken(now, pause=now - started)
