"""The handle of a submitted job (a cell, or one job of a sweep): :class:`CondorJob`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ipyckpt.condor import bootstrap, schedd
from ipyckpt.condor import payload as p
from ipyckpt.condor.description import file_list
from ipyckpt.condor.record import JobRecord, JobStatus, read_events, summarize
from ipyckpt.store import fsio


class CondorJob:
    """A submitted cell, or one job of a sweep: status, wait, fetch, log, hold, remove, vacate."""

    def __init__(self, record: JobRecord, proc: int = 0) -> None:
        self.record = record
        self.proc = proc
        self.folder = record.job_dir(proc)

    @property
    def name(self) -> str:
        """The job's name (``name=`` or ``job-N``; ``NAME/N`` for job N of a sweep)."""
        return f"{self.record.name}/{self.proc}" if self.record.items else self.record.name

    @property
    def label(self) -> str:
        """The job's parameters in words (empty for a single cell)."""
        return self.record.label(self.proc)

    @property
    def backend_label(self) -> str:
        """``schedd`` or ``local emulation``."""
        return "local emulation" if self.record.backend == "local" else "schedd"

    def status(self) -> JobStatus:
        """The job's state, from its user log (``lost`` if the local supervisor died)."""
        status = summarize(read_events(self.record.log), self.proc)
        if self.record.backend == "local" and not status.finished and status.state != "held":
            from ipyckpt.condor import local

            if not local.supervisor_alive(self.record, self.proc):
                # re-read: the supervisor may have logged the final event just before exiting
                status = summarize(read_events(self.record.log), self.proc)
                if not status.finished and status.state != "held":
                    status.state = "lost"
        return status

    def __repr__(self) -> str:
        return f"{self.name} (cluster {self.record.cluster}, {self.backend_label}): {self.status()}"

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> JobStatus:
        """Block until the job is done, failed, removed or held; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status.finished or status.state in ("held", "lost"):
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.name} is still {status} after {timeout} s")
            time.sleep(poll)

    def result(self) -> dict[str, Any] | None:
        """The job's signed result document (None until it came back); refuses forgeries."""
        path = self.folder / p.RESULT
        if not path.exists():
            return None
        return p.unseal(bytes.fromhex(self.record.key), path.read_bytes(), f"{path}")

    def problem(self) -> str | None:
        """Why the job did not succeed, in words (traceback, missing dependency, hold), or None."""
        status = self.status()
        if status.state == "held":
            return f"job {self.name} is held: {status.hold_reason}"
        if status.state == "lost":
            log = self.folder / "local" / "supervisor.log"
            tail = log.read_text(errors="replace").strip()[-1000:] if log.exists() else ""
            return (
                f"job {self.name} is lost: the local emulation's supervisor process is gone "
                "(machine restarted?); submit the cell again" + (f"\n{tail}" if tail else "")
            )
        result = self.result() if status.finished else None
        if result is None or result.get("status") in ("ok", "running"):
            if status.state != "failed":
                return None
            return f"job {self.name} {status} without a result: see %condor log {self.name}"
        if result.get("status") == "error":
            return f"job {self.name} failed on the execute node:\n{result.get('traceback', '')}"
        return f"job {self.name}: {result.get('message', result.get('status'))}"

    def fetch(self) -> dict[str, Any]:
        """The returned variables (signed by this job's key, same versions); raises otherwise."""
        status = self.status()
        if status.state != "done":
            problem = self.problem()
            raise p.JobFailed(problem or f"job {self.name} is {status}: nothing to fetch yet")
        result = self.result()
        if result is None or result.get("status") != "ok":
            raise p.JobFailed(self.problem() or f"job {self.name} returned no result")
        mismatch = p.version_problem(result.get("versions", {}), "the execute node")
        if mismatch:
            raise p.VersionMismatch(mismatch)
        self._make_returned_private()
        outputs = p.store(self.folder / p.OUTPUTS, bytes.fromhex(self.record.key))
        p.check_store_versions(outputs, "the execute node")
        values: dict[str, Any] = outputs.load().values
        return values

    def _make_returned_private(self) -> None:
        """Make the files HTCondor brought back into the job folder private (0700/0600).

        The shadow creates them with the user's umask: under umask 002 the outputs store would
        be group-writable, which the store refuses. Same rule as on the execute node
        (:func:`bootstrap.make_private`: only this user's files, never through a symlink).
        """
        try:
            folder = fsio.open_dir(self.folder)
        except OSError:  # gone, or a symlink: left for the store's own checks to refuse
            return
        try:
            for name in file_list(self.record.description["transfer_output_files"]):
                bootstrap.make_private(name, folder)
        finally:
            os.close(folder)

    def fetch_notebook(self, output: Path | None = None) -> Path:
        """A notebook job's executed notebook, written beside the original (``NAME.out.ipynb``)."""
        if not self.record.notebook:
            raise p.JobFailed(f"job {self.name} ran a cell, not a notebook")
        self.fetch()  # raises, saying why, unless the job is done
        from ipyckpt.batch import default_output  # the name ipyckpt run gives its output

        target = output or default_output(Path(self.record.notebook))
        fsio.atomic_write_bytes(target, (self.folder / p.EXECUTED).read_bytes(), target.parent)
        return target

    def log(self) -> str:
        """The user log and the tail of the job's stderr."""
        text = self.record.log.read_text() if self.record.log.exists() else "(no events yet)\n"
        err = self.folder / self.record.description["error"]
        if err.exists() and err.stat().st_size:
            tail = err.read_text(errors="replace").splitlines()[-20:]
            text += "--- stderr (last 20 lines) ---\n" + "\n".join(tail) + "\n"
        return text

    def _act(self, action: str) -> None:
        if self.record.backend == "local":
            from ipyckpt.condor import local

            local.request(self.record, action, self.proc)
        else:
            schedd.act(int(self.record.cluster or 0), action, self.proc)

    def remove(self) -> None:
        """Remove the job from the queue (``condor_rm``)."""
        self._act("Remove")

    def vacate(self) -> None:
        """Evict the job: it restarts from its last checkpoint (``condor_vacate_job``)."""
        self._act("Vacate")

    def hold(self) -> None:
        """Hold the job (``condor_hold``): it stops, keeping its checkpoint, until released."""
        self._act("Hold")

    def release(self) -> None:
        """Release a held job (``condor_release``): it restarts from its last checkpoint."""
        self._act("Release")
