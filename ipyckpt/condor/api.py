"""The Python API under ``%%condor``: :func:`submit_cell` and the :class:`CondorJob` handle."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ipyckpt.condor import jobs, submit
from ipyckpt.condor import payload as p
from ipyckpt.condor.analysis import cell_names
from ipyckpt.condor.jobs import JobRecord, JobStatus
from ipyckpt.condor.submit import Resources

BACKENDS = ("local", "schedd")
INPUT = "input"


class CondorJob:
    """A submitted cell: status, wait, fetch, log, remove, vacate."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record

    @property
    def name(self) -> str:
        """The job's name (``name=`` or ``job-N``)."""
        return self.record.name

    @property
    def backend_label(self) -> str:
        """``schedd`` or ``local emulation``."""
        return "local emulation" if self.record.backend == "local" else "schedd"

    def status(self) -> JobStatus:
        """The job's state, from its user log (``lost`` if the local supervisor died)."""
        status = jobs.summarize(jobs.read_events(self.record.log))
        if self.record.backend == "local" and not status.finished and status.state != "held":
            from ipyckpt.condor import local

            if not local.supervisor_alive(self.record):
                # re-read: the supervisor may have logged the final event just before exiting
                status = jobs.summarize(jobs.read_events(self.record.log))
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
        path = self.record.path / p.RESULT
        if not path.exists():
            return None
        return p.unseal(bytes.fromhex(self.record.key), path.read_bytes(), f"{path}")

    def problem(self) -> str | None:
        """Why the job did not succeed, in words (traceback, missing dependency, hold), or None."""
        status = self.status()
        if status.state == "held":
            return f"job {self.name} is held: {status.hold_reason}"
        if status.state == "lost":
            return (
                f"job {self.name} is lost: the local emulation's supervisor process is gone "
                "(machine restarted?); submit the cell again"
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
        outputs = p.store(self.record.path / p.OUTPUTS, bytes.fromhex(self.record.key))
        p.check_store_versions(outputs, "the execute node")
        values: dict[str, Any] = outputs.load().values
        return values

    def log(self) -> str:
        """The user log and the tail of the job's stderr."""
        text = self.record.log.read_text() if self.record.log.exists() else "(no events yet)\n"
        err = self.record.path / self.record.description["error"]
        if err.exists() and err.stat().st_size:
            tail = err.read_text(errors="replace").splitlines()[-20:]
            text += "--- stderr (last 20 lines) ---\n" + "\n".join(tail) + "\n"
        return text

    def _act(self, action: str) -> None:
        if self.record.backend == "local":
            from ipyckpt.condor import local

            local.request(self.record, "rm" if action == "Remove" else "vacate")
        else:
            submit.schedd_act(int(self.record.cluster or 0), action)

    def remove(self) -> None:
        """Remove the job from the queue (``condor_rm``)."""
        self._act("Remove")

    def vacate(self) -> None:
        """Evict the job: it restarts from its last checkpoint (``condor_vacate_job``)."""
        self._act("Vacate")


def _prepare_inputs(folder: Path, spec: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Write the bootstrap, key, signed spec and input store; return the skipped inputs."""
    from ipyckpt.condor import bootstrap

    folder.mkdir(mode=0o700)
    shutil.copyfile(bootstrap.__file__, folder / p.BOOTSTRAP)
    key = bytes.fromhex(spec.pop("key"))
    p.write_key(folder / p.KEY, key)
    p.write_sealed(folder / p.SPEC, key, spec)
    report = p.store(folder / p.INPUTS, key, keep=1).save(
        values, trigger="submit", info={"versions": p.versions()}
    )
    return [f"{n} ({why})" for n, why in report.skipped.items()]


def submit_cell(
    code: str,
    namespace: Mapping[str, Any],
    *,
    jobs_dir: str | Path,
    name: str | None = None,
    inputs: Sequence[str] | None = None,
    returns: Sequence[str] | None = None,
    every: float | None = None,
    resources: Resources | None = None,
    image: str | None = None,
    max_retries: int = 3,
    backend: str = "local",
    python: str | None = None,
    grace: float = 30,
    vacate_time: int = 60,
    announce: Callable[[str], None] = print,
) -> CondorJob:
    """Submit ``code`` as a self-checkpointing HTCondor job (or to the local emulation).

    Inputs default to the names the cell reads that exist in ``namespace``; returned variables
    default to the names it assigns. Returns at once with a :class:`CondorJob`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend}: use backend=local or backend=schedd")
    if backend == "schedd":
        submit.bindings()  # fail before writing anything
    elif image is not None:
        raise ValueError(
            "image= needs a pool (backend=schedd): the local emulation runs no containers"
        )
    names = cell_names(code, namespace)
    ins = list(inputs) if inputs is not None else list(names.inputs)
    outs = list(returns) if returns is not None else list(names.outputs)
    missing = [n for n in ins if n not in namespace]
    root = Path(jobs_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = jobs.check_job_name(name) if name else jobs.free_name(root)
    folder = root / name
    if folder.exists():
        raise ValueError(f"a job called {name!r} exists already: choose another name=")
    folder.mkdir(mode=0o700)
    try:
        key = p.new_key()
        spec: dict[str, Any] = {
            "name": name,
            "code": code,
            "every": every,
            "returns": outs,
            "inputs": ins,
        }
        spec |= {"grace": min(grace, vacate_time), "versions": p.versions(), "key": key.hex()}
        skipped = _prepare_inputs(
            folder / INPUT, spec, {n: namespace[n] for n in ins if n in namespace}
        )
        files = [f"{INPUT}/{f}" for f in (p.BOOTSTRAP, p.SPEC, p.KEY, p.INPUTS)]
        desc = submit.describe(
            python=python or sys.executable,
            input_files=files,
            checkpoint_files=[p.CHECKPOINT],
            output_files=[p.RESULT, p.OUTPUTS],
            resources=resources or Resources(),
            max_retries=max_retries,
            name=name,
            iwd=folder,
            image=image,
            vacate_time=vacate_time,
        )
        record = JobRecord(name, backend, str(folder), key.hex(), ins, outs, desc, every=every)
        if backend == "schedd":
            record.cluster = submit.schedd_submit(desc)
        else:
            others = [r.cluster or 0 for r in jobs.list_records(root) if r.backend == "local"]
            record.cluster = max(others, default=0) + 1
        record.save()
        if backend == "local":
            from ipyckpt.condor import local

            local.spawn(record)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job = CondorJob(record)
    announce(
        f"ipyckpt: submitted {name} (cluster {record.cluster}, {job.backend_label}); "
        f"inputs: {', '.join(ins) or '(none)'}; returns: {', '.join(outs) or '(none)'}"
        + (f"; not sent (unpicklable): {', '.join(skipped)}" if skipped else "")
        + (f"; not defined here: {', '.join(missing)}" if missing else "")
    )
    return job


def list_jobs(jobs_dir: str | Path) -> list[CondorJob]:
    """Every job of a notebook, oldest first."""
    return [CondorJob(r) for r in jobs.list_records(Path(jobs_dir))]


def get_job(jobs_dir: str | Path, name: str | None = None) -> CondorJob:
    """The job called ``name`` (default: the newest)."""
    return CondorJob(jobs.find_record(Path(jobs_dir), name))
