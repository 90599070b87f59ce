"""Whole notebooks as jobs (``ipyckpt submit``): cell by cell, checkpoints inside and between
cells, resumed after evictions, the executed notebook back beside the original."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipyckpt.condor import description
from ipyckpt.condor.api import submit_notebook
from ipyckpt.condor.job import CondorJob

from .conftest import job_ad, wait_for

#: Rich outputs, as a kernel shows them: display() of HTML between two prints, a value with HTML.
RICH = (  # display() is a builtin in IPython, as in a kernel
    "from IPython.display import HTML\nprint('before')\n"
    "display(HTML('<b>shown</b>'))\nprint('after')\n"
    "class Table:\n    def _repr_html_(self):\n        return '<table><td>1</td></table>'\n\n"
    "    def __repr__(self):\n        return 'Table()'\n\nTable()"
)
#: A matplotlib figure shown with display(), a PNG as with %matplotlib inline in a kernel.
FIGURE = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots(figsize=(2, 1))\nax.plot([1, 3, 2])\ndisplay(fig)\nplt.close(fig)\n"
    "del fig, ax"
)
CELLS = [
    "import math\nimport time\ndata = [math.sqrt(i) for i in range(60)]\nprint('prepared', len(data))",
    "total = 0.0\nfor i, x in enumerate(data):\n    time.sleep(pause)\n    total += x\n"
    "    if i % 20 == 0:\n        print('step', i, flush=True)",
    "def scale(v):\n    return v * 2\n\nscaled = [scale(x) for x in data]\nround(total, 6)",
    "%config IPCompleter.use_jedi = False\nsquares = []\nfor k in range(60):\n"
    "    time.sleep(pause)\n    squares.append(k * k)\nprint(sum(squares))\nlen(squares)",
    FIGURE,
    RICH,
    "!echo from a shell\nsummary = {'total': round(total, 6), 'n': len(scaled)}\nsummary",
]


def _notebook(path: Path, pause: float) -> Path:
    sources = [f"pause = {pause}", *CELLS]
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# A run"}
    ]
    cells += [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
         "outputs": [], "source": source}
        for i, source in enumerate(sources)
    ]  # fmt: skip
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    path.write_text(json.dumps(nb, indent=1))
    return path


def _outputs(path: Path) -> list[Any]:
    nb = json.loads(path.read_text())
    return [(c["execution_count"], c["outputs"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _run(jobs_dir: Path, notebook: Path, name: str, evictions: int) -> CondorJob:
    job = submit_notebook(
        notebook, jobs_dir=jobs_dir, name=name, backend="local", every=0.5, announce=lambda _: None
    )
    for round_ in range(1, evictions + 1):
        wait_for(lambda r=round_: job.status().checkpoints >= 2 * r, what="checkpoints")
        job.vacate()
        wait_for(lambda r=round_: job.status().evictions == r, what="the eviction")
    status = job.wait(timeout=180)
    assert status.state == "done", (status, job.problem())
    return job


def test_a_notebook_vacated_twice_ends_as_an_uninterrupted_run(
    jobs_dir: Path, tmp_path: Path
) -> None:
    notebook = _notebook(tmp_path / "analysis.ipynb", pause=0.04)
    calm = _run(jobs_dir, notebook, "calm", evictions=0)
    expected = _outputs(calm.fetch_notebook(tmp_path / "calm.ipynb"))
    evicted = _run(jobs_dir, notebook, "evicted", evictions=2)
    assert evicted.status().evictions == 2 and evicted.status().starts == 3
    out = evicted.fetch_notebook()
    assert out == tmp_path / "analysis.out.ipynb"
    assert _outputs(out) == expected
    total = round(sum(math.sqrt(i) for i in range(60)), 6)
    assert expected[-1][1][-1]["data"]["text/plain"] == repr({"total": total, "n": 60})
    assert expected[2][1] == [{"output_type": "stream", "name": "stdout",
                               "text": "step 0\nstep 20\nstep 40\n"}]  # fmt: skip
    assert "from a shell" in json.dumps(expected[-1][1])
    [figure] = expected[-3][1]
    assert figure["output_type"] == "display_data" and figure["data"]["text/plain"].startswith(
        "<Figure size 200x100"
    )
    assert base64.b64decode(figure["data"]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert expected[-2][1] == [
        {"output_type": "stream", "name": "stdout", "text": "before\n"},
        {"output_type": "display_data", "data": {"text/html": "<b>shown</b>",
         "text/plain": "<IPython.core.display.HTML object>"}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "after\n"},
        {"output_type": "execute_result", "execution_count": len(CELLS), "metadata": {},
         "data": {"text/plain": "Table()", "text/html": "<table><td>1</td></table>"}},
    ]  # fmt: skip
    err = (evicted.record.path / "job.err").read_text()
    assert "resuming from checkpoint" in err and "iteration" in err  # inside a cell's loop
    assert json.loads(notebook.read_text())["cells"][1]["outputs"] == []  # the original is kept


def test_a_failing_cell_comes_back_in_the_notebook(jobs_dir: Path, tmp_path: Path) -> None:
    notebook = tmp_path / "bad.ipynb"
    cells = [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None,
              "outputs": [], "source": s} for s in ("x = 1\nprint('one')", "1 / 0", "y = 2")]  # fmt: skip
    notebook.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    job = submit_notebook(notebook, jobs_dir=jobs_dir, backend="local", announce=lambda _: None)
    status = job.wait(timeout=60)
    assert (status.state, status.exit_code) == ("failed", 1)
    assert "ZeroDivisionError" in (job.problem() or "")
    executed = json.loads((job.folder / "ipyckpt-notebook.ipynb").read_text())["cells"]
    assert executed[0]["outputs"][0]["text"] == "one\n"
    assert executed[1]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert executed[2]["outputs"] == []


def test_cli_submit_jobs_fetch(tmp_path: Path) -> None:
    _notebook(tmp_path / "cli.ipynb", pause=0.0)

    def ipyckpt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ipyckpt.cli", *args], cwd=tmp_path, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip

    sent = ipyckpt("submit", "cli.ipynb", "--every", "30m", "--request-memory", "2GB",
                   "--backend", "local")  # fmt: skip
    assert sent.returncode == 0 and "submitted cli-1" in sent.stdout, sent
    wait_for(lambda: "done" in ipyckpt("jobs", "cli.ipynb").stdout, timeout=120, poll=0.5)
    listed = ipyckpt("jobs").stdout
    assert "cli-1" in listed and "done" in listed, listed
    fetched = ipyckpt("fetch", "cli-1")
    assert fetched.returncode == 0 and "cli.out.ipynb" in fetched.stdout, fetched
    assert _outputs(tmp_path / "cli.out.ipynb")[-1][1][-1]["data"]["text/plain"].startswith("{")
    bad = ipyckpt("fetch", "nosuch")
    assert bad.returncode == 1 and "no job called 'nosuch'" in bad.stderr, bad


def test_notebook_description_in_the_real_parser(tmp_path: Path, condor24: Path) -> None:
    desc = description.describe(
        python="/usr/bin/python3", input_files=["input/ipyckpt-job.py"],
        checkpoint_files=["ipyckpt-ckpt"],
        output_files=["ipyckpt-result.json", "ipyckpt-outputs", "ipyckpt-notebook.ipynb"],
        resources=description.Resources(memory="2GB"), max_retries=3, name="analysis-1",
        iwd=tmp_path,
    )  # fmt: skip
    ad = job_ad(condor24, description.as_text(desc))
    assert ad["TransferOutput"].endswith("ipyckpt-notebook.ipynb")
    assert ad["SuccessCheckpointExitCode"] == 85 and ad["RequestMemory"] == 2048


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_displays_update_in_place_and_huge_ones_are_left_out(tmp_path: Path) -> None:
    code = """
import json
from ipyckpt.condor import notebook as nb
ns = {}
nb.shell_for(ns)
outputs = []
with nb.capturing(outputs):
    exec('''from IPython.display import HTML
shown = display(HTML('<i>first</i>'), display_id=True)
print('between')
shown.update(HTML('<i>updated</i>'))
display({'image/png': bytes(4_000_000), 'text/plain': 'big'}, raw=True)
''', ns)
print(json.dumps(outputs))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    outputs = json.loads(proc.stdout.splitlines()[-1])
    assert [o["output_type"] for o in outputs] == ["display_data", "stream", "display_data"]
    assert outputs[0]["data"]["text/html"] == "<i>updated</i>"  # as Jupyter shows it
    assert outputs[2]["data"] == {
        "text/plain": "big\n[image/png left out by ipyckpt: larger than 5000000 characters]"
    }
