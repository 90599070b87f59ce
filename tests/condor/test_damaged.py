"""Damaged checkpoints on the execute node (issue 12 item 7): fall back once, never livelock.

The job's interpreter is a wrapper that really damages the sandbox's checkpoint store before
the runner starts (as a failing disk or a torn transfer would): the runner must pass over the
unusable checkpoint for the previous good one (or the inputs) once, and end with a clear error
when the checkpoints keep coming back unusable, instead of restarting from the inputs forever.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ipyckpt.condor import submit_cell
from ipyckpt.condor.job import CondorJob
from ipyckpt.condor.restart import FALLBACK_LIMIT
from ipyckpt.exitcodes import EXIT_NO_PROGRESS

from .conftest import LOOP

#: Before the runner starts: truncate the newest manifest once, after the second checkpoint.
TEAR_NEWEST_MANIFEST_ONCE = """
import os, pathlib, sys
ad = pathlib.Path(os.environ["_CONDOR_JOB_AD"]).read_text()
marker = pathlib.Path(os.environ["_CONDOR_JOB_IWD"]) / "damaged"
if "CheckpointNumber = 2" in ad and not marker.exists():
    newest = max(pathlib.Path("ipyckpt-ckpt/generations").glob("*.json"))
    newest.write_bytes(newest.read_bytes()[:40])
    marker.touch()
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

#: Before every run: cut the last byte off every checkpoint blob.
DAMAGE_EVERY_BLOB = """
import os, pathlib, sys
for blob in pathlib.Path("ipyckpt-ckpt/blobs").rglob("*"):
    if blob.is_file() and blob.stat().st_size:
        os.truncate(blob, blob.stat().st_size - 1)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _wrapper(tmp_path: Path, body: str) -> str:
    path = tmp_path / "python-on-a-bad-disk"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


def _submit(jobs_dir: Path, python: str, n: int) -> CondorJob:
    return submit_cell(
        LOOP, {"n": n, "pause": 0.02}, jobs_dir=jobs_dir, backend="local", every=0.15,
        python=python, announce=lambda _: None,
    )  # fmt: skip


def _err(job: CondorJob) -> str:
    return (job.record.path / "job.err").read_text()


def test_a_torn_newest_checkpoint_falls_back_to_the_previous_one(
    jobs_dir: Path, tmp_path: Path
) -> None:
    job = _submit(jobs_dir, _wrapper(tmp_path, TEAR_NEWEST_MANIFEST_ONCE), n=40)
    status = job.wait(timeout=90)
    assert status.state == "done", (status, _err(job))
    assert job.fetch()["done"] == list(range(40))
    err = _err(job)
    assert (job.record.path / "damaged").exists()
    assert "passed over unusable checkpoints (checkpoint 2:" in err, err
    assert "resuming from checkpoint 1 at" in err, err


def test_checkpoints_that_never_load_end_the_job_instead_of_a_livelock(
    jobs_dir: Path, tmp_path: Path
) -> None:
    job = _submit(jobs_dir, _wrapper(tmp_path, DAMAGE_EVERY_BLOB), n=1000)
    status = job.wait(timeout=60)  # without the bound: checkpoint exits from the inputs forever
    assert (status.state, status.exit_code, status.retries) == ("failed", EXIT_NO_PROGRESS, 0)
    assert status.checkpoints == FALLBACK_LIMIT + 1, (status, _err(job))
    problem = job.problem() or ""
    assert "the job cannot make progress" in problem and "is damaged" in problem, problem
    assert _err(job).count("starting from the inputs") == FALLBACK_LIMIT
