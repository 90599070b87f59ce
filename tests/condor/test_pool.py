"""Integration with a real HTCondor pool (schedd backend): only where ``condor_q`` works."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ipyckpt.condor import submit_cell

from .conftest import LOOP, wait_for


def _pool_reason() -> str | None:
    if shutil.which("condor_q") is None:
        return "no HTCondor pool here: condor_q is not on PATH"
    proc = subprocess.run(["condor_q"], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        return f"condor_q does not work here: {proc.stderr.strip()[:200]}"
    return None


REASON = _pool_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


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


SWEEP = """
import time
steps = []
for i in range(n):
    time.sleep(0.5)
    steps.append(i)
    if (lr, seed) == failing and i == 3:
        raise FloatingPointError(f"diverged at lr={lr}")
loss = lr * seed
"""


def test_sweep_one_evicted_one_failing_hold_release_on_a_real_pool(tmp_path: Path) -> None:
    """Twin of test_sweep.py: one cluster, results by parameters, eviction, failure, hold."""
    pytest.importorskip("htcondor2")
    from ipyckpt.condor.api import submit_sweep
    from ipyckpt.condor.sweep import grid_items

    items = grid_items({"lr": [0.1, 0.01], "seed": [1, 2]})
    sweep = submit_sweep(
        SWEEP, {"n": 60, "failing": (0.01, 2)}, items, jobs_dir=tmp_path / "jobs",
        backend="schedd", every=5, announce=lambda _: None,
    )  # fmt: skip
    evicted, held = sweep.jobs[1], sweep.jobs[2]
    wait_for(lambda: evicted.status().checkpoints >= 1, timeout=600, what="a checkpoint", poll=1)
    evicted.vacate()
    wait_for(lambda: evicted.status().evictions >= 1, timeout=300, what="the eviction", poll=1)
    held.hold()
    wait_for(lambda: held.status().state == "held", timeout=300, what="the hold", poll=1)
    held.release()
    statuses = sweep.wait(timeout=1800, poll=2)
    assert [s.state for s in statuses] == ["done", "done", "done", "failed"], statuses
    results = sweep.fetch()
    assert results[(0.1, 2)]["steps"] == list(range(60))
    assert "FloatingPointError" in results.errors[(0.01, 2)]


def test_notebook_vacated_twice_on_a_real_pool(tmp_path: Path) -> None:
    """Twin of test_notebook.py: a notebook job evicted twice ends with the same outputs."""
    pytest.importorskip("htcondor2")
    import json

    from ipyckpt.condor.api import submit_notebook

    cells = ["import time\nsquares = []", "for k in range(120):\n    time.sleep(0.5)\n"
             "    squares.append(k * k)\nprint(sum(squares))", "len(squares)"]  # fmt: skip
    notebook = tmp_path / "pool.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s}
        for s in cells]}))  # fmt: skip
    job = submit_notebook(notebook, jobs_dir=tmp_path / "jobs", backend="schedd", every=5,
                          announce=lambda _: None)  # fmt: skip
    for r in (1, 2):
        wait_for(lambda r=r: job.status().checkpoints >= 2 * r, timeout=600, poll=1)
        job.vacate()
        wait_for(lambda r=r: job.status().evictions >= r, timeout=300, poll=1)
    assert job.wait(timeout=1800, poll=2).state == "done", job.log()
    executed = json.loads(job.fetch_notebook().read_text())["cells"]
    assert executed[1]["outputs"][0]["text"] == f"{sum(k * k for k in range(120))}\n"
    assert executed[2]["outputs"][0]["data"]["text/plain"] == "120"
