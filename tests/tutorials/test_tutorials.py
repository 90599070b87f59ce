"""The tutorials are executable documentation: each runs top to bottom in a real kernel here.

Every notebook in ``tutorials/`` is executed with nbclient as JupyterLab would run it (working
directory ``tutorials/``, ``JPY_SESSION_NAME`` naming the notebook), with
``IPYCKPT_TUTORIAL_QUICK=1`` (smaller numbers) and in full size as a reader runs it (marked
``slow``), with the ``local`` HTCondor backend and private
Jupyter/IPython directories. Any error fails; so does a missing final check line, or state left
behind in the repository. The notebooks in git must carry no outputs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = REPO / "tutorials"
NOTEBOOKS = sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]-*.ipynb"))
STRIP = "strip it: jupyter nbconvert --clear-output --inplace tutorials/*.ipynb"

#: Lines each notebook's output must contain: its final check, and the things it demonstrates.
EXPECTED = {
    "01-first-checkpoint": [
        "tutorial 01 complete",
        "state checkpoint 1 (end): saved 7 variables",  # 5 + the modules os, math
        "ipyckpt: restored 7 variables from state checkpoint 1",
        "changed: note",
        "deleted: roots",
    ],
    "02-long-cells-and-crashes": [
        "tutorial 02 complete",
        "(periodic) at statement 3, iteration",
        "(end): saved 5 variables",  # 3 + the modules os, time
        "skipped conn: cannot pickle 'socket.socket'",
        "numbers: cannot pickle 'generator'",
        "(exit code -9)",
        "ipyckpt: resumed at statement 3, iteration",
        "(sigterm) at statement 3, iteration",
        "child | state checkpoint",
    ],
    "03-how-often-to-checkpoint": [
        "tutorial 03 complete",
        "MTBF 1 h (busy pool): best interval",
        "ipyckpt: every=auto: a snapshot costs",
        "(Young/Daly)",
    ],
    "04-a-cell-on-htcondor": [
        "tutorial 04 complete",
        "backend=local: chosen by IPYCKPT_TUTORIAL_BACKEND",
        "ipyckpt: submitted train",
        "train (cluster 1, local emulation): done, checkpointed",
        "evicted 1x",
        "Job was evicted",
        "ipyckpt job: resuming from checkpoint",
        "ipyckpt: fetched 2 variable(s) from train: losses, step",
        "checkpoint_exit_code = 85",
        "transfer_checkpoint_files = ipyckpt-ckpt",
    ],
    "05-many-jobs": [
        "tutorial 05 complete",
        "backend=local: chosen by IPYCKPT_TUTORIAL_BACKEND",
        "ipyckpt: submitted sweep (",  # 4 jobs in quick mode, 6 in full size
        "sweep/3",
        "ipyckpt: submitted evict-without",
        "with checkpoints: ipyckpt job: resuming from checkpoint",
        "without checkpoints: started again from the inputs",
    ],
    "06-safety": [
        "tutorial 06 complete",
        "signed by another key",
        "with trust=True: {'gift': 'a pickle from someone else'}",
        "has been modified since it was signed",
        "rw-------",
        "restored 5 variables from state checkpoint 2",  # 3 + the modules np, os
        "weights restored from generation 1",
        "is damaged: its content changed",
    ],
}


def _text(nb: Any) -> str:
    """Everything the executed notebook shows: streams, plain-text results, error texts."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                parts.append(str(out["data"].get("text/plain", "")))
                parts.append(str(out["data"].get("text/html", "")))
            elif out["output_type"] == "error":
                parts.append("\n".join(out["traceback"]))
    return "\n".join(parts)


def _untracked(path: Path) -> list[str]:
    """Files under ``path`` git would pick up (untracked, not ignored) or that changed."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.splitlines())


def _state_dirs(name: str) -> list[Path]:
    """Where a notebook's state checkpoints and job records would be (gitignored)."""
    store = TUTORIALS / ".ipyckpt" / f"{name}.ipynb"
    return [store, store.parent / f"{store.name}.condor"]


def _remove_state(name: str) -> list[Path]:
    """Delete what a run left in the state dirs; stop its local jobs first. Return what was there."""
    found = [p for p in _state_dirs(name) if p.exists()]
    supervisors = list(_state_dirs(name)[1].glob("*/local/supervisor.pid"))
    for pid_file in supervisors:  # ask each job's supervisor to remove its job, as condor_rm
        (pid_file.parent / "requests").mkdir(exist_ok=True)
        (pid_file.parent / "requests" / "rm").touch()
    deadline = time.monotonic() + 30
    while supervisors and time.monotonic() < deadline:
        supervisors = [p for p in supervisors if _alive(p)]
        time.sleep(0.1)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def test_every_tutorial_has_expectations() -> None:
    assert sorted(EXPECTED) == NOTEBOOKS, "add the new notebook's expected lines to EXPECTED"


#: Quick mode (the sizes under IPYCKPT_TUTORIAL_QUICK=1) and the full size a reader runs.
MODES = [
    pytest.param(True, id="quick"),
    pytest.param(False, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
]


@pytest.mark.parametrize("quick", MODES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_runs(name: str, quick: bool, tmp_path: Path, private_jupyter_dirs: Path) -> None:
    _remove_state(name)  # from an earlier run that failed half-way
    before = _untracked(TUTORIALS)
    path = TUTORIALS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.pop("IPYCKPT_STORE", None)
    env.pop("IPYCKPT_TUTORIAL_QUICK", None)
    if quick:
        env["IPYCKPT_TUTORIAL_QUICK"] = "1"
    env |= {
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "JUPYTER_DATA_DIR": str(private_jupyter_dirs),
        "JPY_SESSION_NAME": str(path),  # what jupyter_server tells a notebook's kernel
        "IPYCKPT_TUTORIAL_BACKEND": "local",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
    }
    client = NotebookClient(
        nb,
        timeout=120 if quick else 900,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS)}},
    )
    started = time.monotonic()
    try:
        client.execute(env=env)
    finally:
        leftovers = _remove_state(name)
    seconds = time.monotonic() - started
    text = _text(nb)
    missing = [line for line in EXPECTED[name] if line not in text]
    assert not missing, f"{name} did not show {missing}; it showed:\n{text}"
    assert not leftovers, f"{name} left state behind: {leftovers}"
    assert _untracked(TUTORIALS) == before, "the tutorial left files in the repository"
    assert not quick or seconds < 60, f"{name} took {seconds:.0f} s under IPYCKPT_TUTORIAL_QUICK=1"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_is_stored_clean_and_shaped(name: str) -> None:
    """No outputs or execution counts in git; goal first, QUICK early, 'what you learned' last."""
    nb = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs ({STRIP}): {cell.source[:60]!r}"
            assert cell.execution_count is None, f"{name}: execution count ({STRIP})"
    assert nb.cells[0].cell_type == "markdown" and "**Goal:**" in nb.cells[0].source
    number = int(name[:2])
    assert nb.cells[0].source.startswith(f"# {number}. ")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert 'QUICK = os.environ.get("IPYCKPT_TUTORIAL_QUICK") == "1"' in code[0]
    assert nb.cells[-1].cell_type == "markdown"
    assert nb.cells[-1].source.startswith("## What you learned")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for link in re.findall(r"\]\(([^)#]+)\)", markdown):  # next notebooks, screenshots
        if not link.startswith(("http://", "https://")):
            assert (TUTORIALS / link).is_file(), f"{name} links to a missing file {link}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_images_are_served_with_the_tutorials(name: str) -> None:
    """`bash dev/lab.sh` serves tutorials/: an image outside it is a 404 in JupyterLab."""
    nb = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)
    images += re.findall(r"<img [^>]*src=[\"']([^\"']+)", markdown)
    for image in images:
        if image.startswith(("http://", "https://", "data:")):
            continue
        path = (TUTORIALS / image).resolve()
        assert path.is_relative_to(TUTORIALS), f"{name} shows {image}, outside tutorials/"
        assert path.is_file(), f"{name} shows a missing image {image}"


def test_readme_images_exist() -> None:
    readme = (REPO / "README.md").read_text()
    for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme):
        if not image.startswith(("http://", "https://")):
            assert (REPO / image).is_file(), f"README.md shows a missing image {image}"
