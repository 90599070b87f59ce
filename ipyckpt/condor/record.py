"""What the notebook knows of a submitted job: its record, and its status folded from its user log.

A notebook whose store is ``.ipyckpt/analysis.ipynb/`` keeps its jobs in
``.ipyckpt/analysis.ipynb.condor/<job name>/``: ``record.json`` (0600: cluster id, backend, the
per-job key, input and output names, the submit description), the files sent to the job, and
the job's user log ``job.log``, so ``%condor status`` and ``fetch`` work after a kernel restart.
The status of both backends is computed from the same user log. (The handle,
:class:`ipyckpt.condor.job.CondorJob`, is a module of its own: the local emulation needs the
record and the status, and the handle needs the local emulation.)
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.condor import eventlog as ev
from ipyckpt.condor import schedd
from ipyckpt.condor.description import ITEM, LABEL, LOG
from ipyckpt.store import fsio
from ipyckpt.store.errors import IpyckptError

RECORD = "record.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TERMINAL = ("done", "failed", "removed")


class NoSuchJob(IpyckptError):
    """No job of this notebook has that name."""


def jobs_root(store_location: Path) -> Path:
    """Where the jobs of the notebook whose store is ``store_location`` live (a sibling)."""
    return store_location.parent / f"{store_location.name}.condor"


def check_job_name(name: str) -> str:
    """Job names are plain file names: letters, digits, ``_.-`` (max 64)."""
    if not _NAME.match(name):
        raise ValueError(f"invalid job name {name!r}: use letters, digits, '_', '.', '-'")
    return name


@dataclass
class JobRecord:
    """What the notebook remembers about one submitted cell."""

    name: str
    backend: str
    directory: str
    key: str
    inputs: list[str]
    returns: list[str]
    description: dict[str, str]
    cluster: int | None = None
    created: float = field(default_factory=time.time)
    every: float | None = None
    items: list[dict[str, str]] = field(default_factory=list)  # a sweep's itemdata, one per job
    notebook: str | None = None  # a whole-notebook job: the notebook it runs

    @property
    def path(self) -> Path:
        """The job's directory (a sweep's: holding one folder per job)."""
        return Path(self.directory)

    @property
    def procs(self) -> range:
        """The job numbers of the cluster (``range(1)`` for a single cell)."""
        return range(max(1, len(self.items)))

    def job_dir(self, proc: int) -> Path:
        """Where job ``proc`` of the cluster gets its files back."""
        return self.path / self.items[proc][ITEM] if self.items else self.path

    def label(self, proc: int) -> str:
        """The parameters of job ``proc`` in words (empty for a single cell)."""
        return self.items[proc][LABEL] if self.items else ""

    @property
    def log(self) -> Path:
        """The job's HTCondor user log."""
        return self.path / LOG

    def save(self) -> None:
        """Atomically write ``record.json`` (mode 0600)."""
        data = json.dumps(asdict(self), indent=1).encode()
        fsio.atomic_write_bytes(self.path / RECORD, data, self.path)

    @classmethod
    def load(cls, directory: Path) -> JobRecord:
        """Read a record written by :meth:`save`."""
        data = json.loads((directory / RECORD).read_bytes())
        return cls(**data)


def list_records(root: Path) -> list[JobRecord]:
    """Every job record under ``root``, oldest first."""
    if not root.is_dir():
        return []
    records = [JobRecord.load(d) for d in root.iterdir() if (d / RECORD).is_file()]
    return sorted(records, key=lambda r: r.created)


def find_record(root: Path, name: str | None) -> JobRecord:
    """The job called ``name``, or the newest job if ``name`` is None."""
    records = list_records(root)
    if not records:
        raise NoSuchJob("this notebook has no HTCondor jobs (submit one with %%condor)")
    if name is None:
        return records[-1]
    for record in records:
        if record.name == name:
            return record
    known = ", ".join(r.name for r in records)
    raise NoSuchJob(f"no job called {name!r}; this notebook's jobs: {known}")


def free_name(root: Path, prefix: str = "job") -> str:
    """``job-1``, ``job-2``, ...: the first name not used under ``root``."""
    n = 1
    while (root / f"{prefix}-{n}").exists():
        n += 1
    return f"{prefix}-{n}"


def read_events(log: Path) -> list[dict[str, Any]]:
    """The log's events: through ``htcondor2.JobEventLog`` when installed, else our parser."""
    events = schedd.read_log(log)
    return ev.parse(log) if events is None else events


@dataclass
class JobStatus:
    """A job's state as its user log tells it."""

    state: str = "unknown"
    starts: int = 0
    checkpoints: int = 0
    evictions: int = 0
    retries: int = 0
    hold_reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    last_checkpoint: float | None = field(default=None, compare=False)  # time of the newest
    runtime: float = field(default=0.0, compare=False)  # seconds spent running, all runs

    @property
    def finished(self) -> bool:
        """Done, failed or removed: nothing more will happen."""
        return self.state in TERMINAL

    def __str__(self) -> str:
        text = self.state
        if self.state == "held" and self.hold_reason:
            text += f" ({self.hold_reason})"
        if self.state == "failed":
            text += f" (signal {self.signal})" if self.signal else f" (exit code {self.exit_code})"
        extras = [
            f"checkpointed {self.checkpoints}x" if self.checkpoints else "",
            f"evicted {self.evictions}x" if self.evictions else "",
            f"retried {self.retries}x" if self.retries else "",
        ]
        return ", ".join([text, *(e for e in extras if e)])


def _is_checkpoint(event: dict[str, Any]) -> bool:
    return (
        int(event["EventTypeNumber"]) == ev.FILE_TRANSFER and event.get("Type") == ev.OUT_FINISHED
    )


def summarize(
    events: list[dict[str, Any]], proc: int | None = None, now: float | None = None
) -> JobStatus:
    """Fold the events of job ``proc`` (default: all) into its :class:`JobStatus`."""
    status = JobStatus()
    last = -1
    running_since: float | None = None
    for event in events:
        if proc is not None and int(event.get("Proc", 0)) != proc:
            continue
        number, stamp = int(event["EventTypeNumber"]), float(event.get("Timestamp", 0))
        if number == ev.EXECUTE:
            running_since = stamp
        elif running_since is not None and number in _STOPS:
            status.runtime += max(0.0, stamp - running_since)
            running_since = None
        if _is_checkpoint(event):
            status.last_checkpoint = stamp
        _apply(status, number, event, last)
        last = number
    if running_since is not None:
        status.runtime += max(0.0, (time.time() if now is None else now) - running_since)
    return status


_STOPS = (ev.EVICTED, ev.TERMINATED, ev.ABORTED, ev.HELD)


def _apply(status: JobStatus, number: int, event: dict[str, Any], last: int) -> None:
    """One event's effect on the state and the counters."""
    if number in (ev.SUBMIT, ev.RELEASED):
        status.state = "idle"
    elif number == ev.EXECUTE:
        status.state, status.starts = "running", status.starts + 1
    elif _is_checkpoint(event):
        status.checkpoints += 1
    elif number == ev.EVICTED:
        status.state = "idle"
        if event.get("TerminatedAndRequeued"):
            status.retries += 1
        else:
            status.evictions += 1
    elif number == ev.HELD:
        status.state, status.hold_reason = "held", str(event.get("HoldReason", ""))
    elif number == ev.TERMINATED:
        if last == ev.FILE_TRANSFER:  # the final output transfer is not a checkpoint
            status.checkpoints = max(0, status.checkpoints - 1)
        status.exit_code = event.get("ReturnValue")
        status.signal = event.get("TerminatedBySignal")
        status.state = "done" if status.exit_code == 0 else "failed"
    elif number == ev.ABORTED:
        status.state = "removed"
