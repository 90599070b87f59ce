"""What the store tells its callers: plain dataclasses with a readable one-line ``str``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def format_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KB'`` (decimal units, as disks are sold)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def plural(count: int, noun: str) -> str:
    """``1 generation``, ``2 generations``, ``0 blobs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_age(created: float, now: float | None = None) -> str:
    """Age of a timestamp for humans: ``'12 s ago'``, ``'3 min ago'``, ``'2 h ago'``, ``'4 d ago'``."""
    age = max(0.0, (time.time() if now is None else now) - created)
    for limit, div, unit in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h")):
        if age < limit:
            return f"{age / div:.0f} {unit} ago"
    return f"{age / 86400:.0f} d ago"


def _skipped_text(skipped: dict[str, str]) -> str:
    return "; ".join(f"{name}: {reason}" for name, reason in sorted(skipped.items()))


@dataclass
class SaveReport:
    """Result of :meth:`ipyckpt.Store.save`."""

    generation: int
    trigger: str
    saved: list[str]
    skipped: dict[str, str]
    carried: list[str]
    deleted: list[str]
    bytes_written: int
    bytes_total: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    parts_pickled: int = 0  # large containers of atoms pickled on their own (ipyckpt.store.parts)
    parts_reused: int = 0  # ... and reused unchanged without pickling them again

    def __str__(self) -> str:
        text = (
            f"state checkpoint {self.generation} ({self.trigger}): saved "
            f"{plural(len(self.saved), 'variable')}, {format_bytes(self.bytes_written)} written "
            f"in {self.seconds:.2f} s"
        )
        if self.carried:
            text += f", {len(self.carried)} unchanged carried over"
        if self.skipped:
            text += f"; skipped {_skipped_text(self.skipped)}"
        for note in self.notes:
            text += f"; note: {note}"
        return text


@dataclass
class LoadReport:
    """Result of :meth:`ipyckpt.Store.load`: restored values and what could not be restored."""

    generation: int
    created: float
    trigger: str
    values: dict[str, Any]
    failed: dict[str, str]
    skipped_at_save: dict[str, str]
    notes: list[str] = field(default_factory=list)
    trusted: bool = True
    info: dict[str, Any] = field(default_factory=dict)
    #: variables restored from an older generation (their newest copy was damaged): name -> id
    sources: dict[str, int] = field(default_factory=dict)
    random_state: dict[str, Any] = field(default_factory=dict)  # ipyckpt.store.randomstate

    def __str__(self) -> str:
        text = (
            f"restored {plural(len(self.values), 'variable')} from state "
            f"checkpoint {self.generation} ({self.trigger}, {format_age(self.created)})"
        )
        if self.failed:
            text += f"; not restored: {_skipped_text(self.failed)}"
        if self.skipped_at_save:
            text += f"; not saved: {_skipped_text(self.skipped_at_save)}"
        for note in self.notes:
            text += f"\n  note: {note}"
        return text


@dataclass
class GenerationInfo:
    """One generation as listed by :meth:`ipyckpt.Store.generations` (newest first)."""

    id: int
    time: float
    trigger: str
    variables: dict[str, str]
    bytes: int
    duration: float
    skipped: dict[str, str]
    error: str | None = None
    problem: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # what a variable inspector shows ("list[100000]"), where the manifest records it
    summaries: dict[str, str] = field(default_factory=dict)


@dataclass
class Problem:
    """One thing :meth:`ipyckpt.Store.verify` found wrong."""

    generation: int | None
    message: str

    def __str__(self) -> str:
        where = f"generation {self.generation}" if self.generation is not None else "store"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    """Result of :meth:`ipyckpt.Store.verify`."""

    generations: int
    blobs: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def __str__(self) -> str:
        head = f"checked {plural(self.generations, 'generation')}, {plural(self.blobs, 'blob')}: "
        if self.ok:
            return head + "all good"
        return (
            head
            + f"{plural(len(self.problems), 'problem')}\n"
            + "\n".join(f"  {p}" for p in self.problems)
        )


@dataclass
class GcReport:
    """Result of :meth:`ipyckpt.Store.gc`."""

    removed_generations: list[int]
    removed_blobs: int
    freed_bytes: int

    def __str__(self) -> str:
        return (
            f"removed {plural(len(self.removed_generations), 'generation')} and "
            f"{plural(self.removed_blobs, 'unreferenced blob')}, freed {format_bytes(self.freed_bytes)}"
        )
