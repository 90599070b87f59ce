"""The Python API under ``%%condor``: :func:`submit_cell`, :func:`list_jobs`, :func:`get_job`."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ipyckpt.condor import jobs, submit
from ipyckpt.condor import payload as p
from ipyckpt.condor.analysis import cell_names
from ipyckpt.condor.handle import CondorJob
from ipyckpt.condor.jobs import JobRecord
from ipyckpt.condor.options import check_backend
from ipyckpt.condor.submit import Resources

INPUT = "input"


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
    default to the names it assigns (``announce`` is told what was chosen). ``every`` is the
    checkpoint interval in seconds (None: no periodic checkpoints). ``python`` is the
    interpreter path on the execute node (default: this one); ``grace`` bounds the snapshot on
    SIGTERM and ``vacate_time`` the time before SIGKILL. Returns at once with a
    :class:`CondorJob`; the job's files live in ``jobs_dir/<name>/``.
    """
    try:
        check_backend(backend)
    except ValueError as exc:
        raise ValueError(f"backend={backend}: {exc}") from None
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
