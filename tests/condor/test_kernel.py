"""``%%condor`` in real IPython kernels (backend=local): submit, wait, fetch, kernel SIGKILL."""

from __future__ import annotations

from typing import Any

from .conftest import wait_for

CELL = """%%condor backend=local every=0.2 name={name}
import time
done = []
total = 0
for i in range(n):
    time.sleep(pause)
    done.append(i)
    total += i
"""


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
    for times in ("1x", "2x"):  # the "survives %condor vacate twice"
        wait_for(lambda: ": running, checkpointed" in kernel.run("%condor status second").stdout)
        kernel.run("%condor vacate second")
        wait_for(lambda t=times: f"evicted {t}" in kernel.run("%condor status second").stdout)
    kernel.kill()  # SIGKILL while the job runs: the job and its record outlive the kernel

    again = open_kernel("analysis.ipynb")
    again.run("%load_ext ipyckpt")
    status = again.run("%condor status").stdout
    assert "first (cluster 1, local emulation): done" in status, status
    assert "second (cluster 2, local emulation)" in status, status
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
    assert "usage: %condor status|wait|fetch|log|rm|vacate [NAME]" in usage.stderr
    kernel.run("%unload_ext ipyckpt")
    gone = kernel.run("%condor status")
    assert "UsageError: Line magic function `%condor` not found" in gone.stderr, gone.stderr
