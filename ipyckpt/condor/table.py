"""``%condor status``: one row per job, as an HTML table in notebooks and as text in terminals."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from typing import Any

from ipyckpt.condor.job import CondorJob
from ipyckpt.condor.record import JobStatus

COLUMNS = (
    "job", "parameters", "state", "checkpoints", "evictions", "last checkpoint", "runtime",
    "hold reason",
)  # fmt: skip

_ALWAYS = ("job", "state", "checkpoints", "evictions", "runtime")


def span(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def state_text(status: JobStatus) -> str:
    """The state with its exit code or signal when it failed."""
    if status.state != "failed":
        return status.state
    return status.state + (
        f" (signal {status.signal})" if status.signal else f" (exit code {status.exit_code})"
    )


def row(job: CondorJob, status: JobStatus, now: float) -> list[str]:
    """One job's cells, in the order of :data:`COLUMNS`."""
    last = status.last_checkpoint
    return [
        job.name,
        job.label,
        state_text(status),
        str(status.checkpoints),
        str(status.evictions),
        "" if last is None else f"{span(max(0.0, now - last))} ago",
        span(status.runtime),
        status.hold_reason or "",
    ]


class StatusTable:
    """Rows of job statuses; IPython shows ``_repr_html_`` in notebooks, ``repr`` elsewhere."""

    def __init__(self, jobs: Iterable[CondorJob], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.rows = [row(job, job.status(), now) for job in jobs]
        used = [i for i, c in enumerate(COLUMNS) if c in _ALWAYS or any(r[i] for r in self.rows)]
        self.columns = [COLUMNS[i] for i in used]
        self.rows = [[r[i] for i in used] for r in self.rows]

    def __repr__(self) -> str:
        if not self.rows:
            return "ipyckpt: this notebook has no HTCondor jobs (submit one with %%condor)"
        table = [self.columns, *([cell or "-" for cell in r] for r in self.rows)]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))
