"""``%%condor`` in real IPython kernels (backend=local): submit, wait, fetch, kernel SIGKILL."""

from __future__ import annotations

import re
from typing import Any

from .conftest import LOOP, wait_for

CELL = "%%condor backend=local every=0.2 name={name}" + LOOP


def status_rows(text: str) -> dict[str, dict[str, str]]:
    """The rows of ``%condor status``'s text table, by job name."""
    lines = [line for line in text.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("job "))
    columns = re.split(r"\s{2,}", lines[start].strip())
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start + 1 :]]
    return {row[0]: dict(zip(columns, row, strict=False)) for row in rows}


def test_condor_magic_survives_a_killed_kernel(open_kernel: Any) -> None:
    kernel = open_kernel("analysis.ipynb")
    kernel.run("%load_ext ipyckpt")
    kernel.run("n = 30\npause = 0.02")
    out = kernel.run(CELL.format(name="first")).text
    assert "backend=local is an emulation" in out
    assert "submitted first" in out and "inputs: n, pause" in out, out
    assert "returns: done, i, total" in out, out
    waited = kernel.run("%condor wait first --timeout 60").text
    assert "first (cluster 1, local emulation): done, checkpointed" in waited, waited
    fetched = kernel.run("%condor fetch first").text
    assert "fetched 3 variable(s) from first: done, i, total" in fetched, fetched
    assert kernel.value("total") == sum(range(30))
    assert "first is not running (done" in kernel.run("%condor vacate first").stdout
    assert "first has already ended (done" in kernel.run("%condor rm first").stdout

    kernel.run("n = 150")
    kernel.run(CELL.format(name="second"))

    def second() -> dict[str, str]:
        return status_rows(kernel.run("%condor status second").text)["second"]

    for times in ("1", "2"):  # the "survives %condor vacate twice"
        wait_for(lambda: second()["state"] == "running" and second()["checkpoints"] != "0")
        kernel.run("%condor vacate second")
        wait_for(lambda t=times: second()["evictions"] == t)
    kernel.kill()  # SIGKILL while the job runs: the job and its record outlive the kernel

    again = open_kernel("analysis.ipynb")
    again.run("%load_ext ipyckpt")
    rows = status_rows(again.run("%condor status").text)
    assert rows["first"]["state"] == "done", rows
    assert rows["second"]["evictions"] == "2", rows
    again.run("%condor wait second --timeout 90")
    again.run("%condor fetch second")
    assert again.value("total") == sum(range(150))
    assert again.value("done") == list(range(150))
    log = again.run("%condor log second").stdout
    assert "Job terminated." in log and "(1) Normal termination (return value 0)" in log


def test_usage_errors_and_no_bindings_hint(open_kernel: Any) -> None:
    kernel = open_kernel("other.ipynb")
    kernel.run("%load_ext ipyckpt")
    bad = kernel.run("%%condor evry=5s\nx = 1\n")  # IPython prints a UsageError on stderr
    assert "UsageError: unknown option 'evry'; usage: %%condor [name=NAME]" in bad.stderr
    image = kernel.run("%%condor backend=local image=docker://python:3.11\nx = 1\n")
    assert "UsageError: image= needs a pool (backend=schedd)" in image.stderr, image.stderr
    none = kernel.run("%condor status nosuch")
    assert "UsageError: this notebook has no HTCondor jobs" in none.stderr, none.stderr
    kernel.run("%%condor backend=local name=bad\nvalues = [1]\nitem = values[3]\n")
    waited = kernel.run("%condor wait bad --timeout 60")
    assert "bad (cluster 1, local emulation): failed (exit code 1)" in waited.stdout
    assert "item = values[3]" in waited.stderr and "IndexError" in waited.stderr, waited.stderr
    failed = kernel.run("%condor fetch bad", allow_error=True)
    assert failed.error is not None and failed.error["ename"] == "JobFailed"
    kernel.run("import sys\nsys.modules['htcondor2'] = None")  # as if not installed
    hint = kernel.run("%%condor backend=schedd\nx = 1\n", allow_error=True)
    assert hint.error is not None and hint.error["ename"] == "BindingsMissing"
    assert "pip install 'ipyckpt[condor]'" in hint.error["evalue"]
    usage = kernel.run("%condor frobnicate")
    assert "UsageError: %condor: argument command: invalid choice: 'frobnicate'" in usage.stderr
    assert "usage: %condor status|wait|fetch|log|rm|vacate|hold|release [NAME]" in usage.stderr
    kernel.run("%unload_ext ipyckpt")
    gone = kernel.run("%condor status")
    assert "UsageError: Line magic function `%condor` not found" in gone.stderr, gone.stderr


SWEEP = """%%condor map lr=0.1,0.01 seed=1,2 backend=local every=0.2 name=grid
import time
steps = []
for i in range(n):
    time.sleep(0.02)
    steps.append(i)
loss = lr * seed
"""


def test_condor_map_status_hold_release_fetch(open_kernel: Any) -> None:
    kernel = open_kernel("sweep.ipynb")
    kernel.run("%load_ext ipyckpt")
    kernel.run("n = 60")
    out = kernel.run(SWEEP).text
    assert "submitted grid (4 jobs) (cluster 1, local emulation); inputs: n" in out, out
    wait_for(
        lambda: status_rows(kernel.run("%condor status grid").text)["grid/1"]["state"] == "running"
    )
    held = kernel.run("%condor hold grid/1").stdout
    assert "asked to hold grid/1" in held, held
    wait_for(lambda: status_rows(kernel.run("%condor status").text)["grid/1"]["state"] == "held")
    rows = status_rows(kernel.run("%condor status").text)
    assert rows["grid/1"]["parameters"] == "lr=0.1 seed=2", rows
    assert rows["grid/1"]["hold reason"] == "Via condor_hold (by user ipyckpt)", rows
    assert "grid/0 is not held" in kernel.run("%condor release grid/0").stdout
    kernel.run("%condor release grid/1")
    waited = kernel.run("%condor wait grid --timeout 120").stdout
    assert "grid (cluster 1, local emulation): 4 jobs: 4 done" in waited, waited
    fetched = kernel.run("results = %condor fetch grid").stdout
    assert "fetched 4 of 4 jobs of grid" in fetched, fetched
    assert kernel.value("{k: v['loss'] for k, v in results.items()}") == {
        (0.1, 1): 0.1, (0.1, 2): 0.2, (0.01, 1): 0.01, (0.01, 2): 0.02
    }  # fmt: skip
    html = kernel.value("get_ipython().run_line_magic('condor', 'status grid')._repr_html_()")
    assert html.count("<tr>") == 5 and "<td>grid/3</td>" in html, html
