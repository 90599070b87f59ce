"""When to snapshot the session without any magic: after cells that changed state.

Pure timing rules (the kernel's cell hooks in :mod:`ipyckpt.kernel.autosave` feed them):

- nothing is saved while no cell changed state (``pass``, reading a variable, printing);
- a changed state is saved after a cell once ``interval`` seconds passed since the last snapshot,
  and always after a cell that itself ran for longer than ``interval``;
- the effective interval never lets snapshot pauses take more than ``1/COST_FACTOR`` of the
  session's time: after a 2 s pause, the next autosave waits at least ``2 * COST_FACTOR`` s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipyckpt.durations import format_duration, parse_duration

DEFAULT_INTERVAL = "30s"
COST_FACTOR = 50.0  # pauses stay under 2 % of wall time
OFF = ("off", "no", "false", "0", "never")


def parse_autosave(text: str) -> float | None:
    """``30s`` / ``5m`` / ``off`` → seconds or None (disabled); ValueError with an example."""
    if text.strip().lower() in OFF:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(
            f"invalid autosave interval {text!r}: use a duration like 30s, 5m, 1h, or off"
        ) from None


@dataclass
class AutosaveClock:
    """Whether the session has unsaved changes, and whether a snapshot is due."""

    interval: float | None
    last_snapshot: float | None = None  # monotonic time the last snapshot (of any kind) ended
    last_pause: float = 0.0  # seconds the last autosave held the cell up
    dirty: bool = False
    cleared: bool = False  # the running cell deleted the snapshots: do not save it

    def effective_interval(self) -> float | None:
        """The interval, stretched so that pauses stay under ``1/COST_FACTOR`` of wall time."""
        if self.interval is None:
            return None
        return max(self.interval, COST_FACTOR * self.last_pause)

    def cell_ran(self, *, changed: bool, now: float = 0.0) -> None:
        """A cell ended at ``now``; ``changed``: it may have changed the session's state."""
        if self.cleared:  # the cell cleared the store: it starts a fresh interval, unsaved
            self.cleared, self.dirty, self.last_snapshot = False, False, now
            return
        self.dirty = self.dirty or changed

    def due(self, now: float, cell_seconds: float = 0.0) -> bool:
        """Whether to snapshot now (after a cell of ``cell_seconds``)."""
        interval = self.effective_interval()
        if interval is None or not self.dirty:
            return False
        if self.last_snapshot is None or cell_seconds >= (self.interval or interval):
            return True
        return now - self.last_snapshot >= interval

    def snapshot_taken(self, now: float, pause: float = 0.0) -> None:
        """A snapshot of the whole state ended at ``now`` after holding the cell ``pause`` s."""
        self.last_snapshot = now
        self.last_pause = pause
        self.dirty = False

    def forget_snapshots(self) -> None:
        """The snapshots were deleted (``%checkpoint clear``): nothing is pending, and the cell
        that deleted them is not saved again; autosave resumes one interval after a later
        cell changes the state."""
        self.last_pause, self.dirty, self.cleared = 0.0, False, True

    def describe(self) -> str:
        """``every 30s after cells that changed state`` / ``off``."""
        interval = self.effective_interval()
        if interval is None:
            return "off"
        return f"at most every {format_duration(interval)}, after cells that changed state"
