"""Integration with a real HTCondor pool (schedd backend): only where ``condor_q`` works."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ipyckpt.condor import submit_cell

from .conftest import wait_for


def _pool_reason() -> str | None:
    if shutil.which("condor_q") is None:
        return "no HTCondor pool here: condor_q is not on PATH"
    proc = subprocess.run(["condor_q"], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        return f"condor_q does not work here: {proc.stderr.strip()[:200]}"
    return None


REASON = _pool_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

LOOP = """
import time
done = []
for i in range(n):
    time.sleep(pause)
    done.append(i)
"""


def test_submit_vacate_resume_fetch_on_a_real_pool(tmp_path: Path) -> None:
    pytest.importorskip("htcondor2")
    job = submit_cell(
        LOOP, {"n": 120, "pause": 0.5}, jobs_dir=tmp_path / "jobs", backend="schedd", every=5
    )
    wait_for(lambda: job.status().checkpoints >= 1, timeout=600, what="a checkpoint", poll=1)
    job.vacate()
    wait_for(lambda: job.status().evictions >= 1, timeout=300, what="the eviction", poll=1)
    status = job.wait(timeout=1200, poll=2)
    assert status.state == "done", (status, job.log())
    assert job.fetch()["done"] == list(range(120))
