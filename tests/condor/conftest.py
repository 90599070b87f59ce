"""Fixtures for the HTCondor tests: job folders, a side venv with htcondor 24.12, polling."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
SIDE_VENV = REPO / ".venv" / "condor24"  # inside the gitignored .venv, reused across runs
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 60, what: str = "condition", poll: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Iterator[Path]:
    """A notebook's job folder; every local supervisor still running at the end is removed."""
    root = tmp_path / "nb.ipynb.condor"
    yield root
    found = [*root.glob("*/local/supervisor.pid"), *root.glob("*/*/local/supervisor.pid")]
    for pid_file in found:  # single jobs, and each job of a sweep
        (pid_file.parent / "requests").mkdir(exist_ok=True)
        (pid_file.parent / "requests" / "rm").touch()


@pytest.fixture(scope="session")
def condor24() -> Path:
    """Python of a side venv with htcondor 24.12 (its Submit.jobs() runs the real parser)."""
    python = SIDE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import htcondor"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    shutil.rmtree(SIDE_VENV, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(SIDE_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "htcondor==24.12.*"],
    ]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            shutil.rmtree(SIDE_VENV, ignore_errors=True)
            pytest.skip(f"cannot create the htcondor 24.12 side venv: {proc.stderr[-500:]}")
    return python


def job_ads(condor24: Path, submit_text: str) -> list[dict[str, Any]]:
    """The job ClassAds HTCondor 24.12's submit parser makes of ``submit_text`` (offline)."""
    code = (
        "import sys, json, htcondor\n"
        "ads = htcondor.Submit(sys.stdin.read()).jobs(clusterid=1, qdate=0, owner='x')\n"
        "print(json.dumps([{k: str(ad.lookup(k)) if not isinstance(ad[k], (int, float, str, bool))"
        " else ad[k] for k in ad.keys()} for ad in ads]))\n"
    )
    env = dict(os.environ, CONDOR_CONFIG="/dev/null", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [str(condor24), "-c", code],
        input=submit_text,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"HTCondor's submit parser refused the description:\n{proc.stderr}")
    import json

    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def job_ad(condor24: Path, submit_text: str) -> dict[str, Any]:
    """The (first) job ClassAd HTCondor 24.12's submit parser makes of ``submit_text``."""
    return job_ads(condor24, submit_text)[0]


from tests.kernel.conftest import kernel_env, open_kernel  # noqa: E402  (real-kernel fixtures)

__all__ = ["job_ad", "job_ads", "kernel_env", "open_kernel", "wait_for"]


#: The cell the job tests run: a loop whose progress (``done``, ``total``, "step i") shows how
#: much was re-run after an eviction or a restart.
LOOP = """
import time
done = []
total = 0
for i in range(n):
    time.sleep(pause)
    done.append(i)
    total += i
    print("step", i, flush=True)
total
"""
