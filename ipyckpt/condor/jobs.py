"""Job records (persisted beside the notebook's state checkpoints) and job status from event logs.

A notebook whose store is ``.ipyckpt/analysis.ipynb/`` keeps its jobs in
``.ipyckpt/analysis.ipynb.condor/<job name>/``: ``record.json`` (0600: cluster id, backend, the
per-job key, input and output names, the submit description), the files sent to the job, and
the job's user log ``job.log``, so ``%condor status`` and ``fetch`` work after a kernel restart.
The status of both backends is computed from the same user log.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.condor import eventlog as ev
from ipyckpt.store import fsio
from ipyckpt.store.errors import IpyckptError

RECORD = "record.json"
LOG = "job.log"
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

    @property
    def path(self) -> Path:
        """The job's directory."""
        return Path(self.directory)

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
    from ipyckpt.condor import submit

    events = submit.read_log(log)
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


def summarize(events: list[dict[str, Any]]) -> JobStatus:
    """Fold a job's events into its :class:`JobStatus`."""
    status = JobStatus()
    last = -1
    for event in events:
        number = int(event["EventTypeNumber"])
        if number in (ev.SUBMIT, ev.RELEASED):
            status.state = "idle"
        elif number == ev.EXECUTE:
            status.state, status.starts = "running", status.starts + 1
        elif number == ev.FILE_TRANSFER and event.get("Type") == ev.OUT_FINISHED:
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
        last = number
    return status
