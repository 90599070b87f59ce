"""``ipyckpt run``: real kernels, really SIGKILLed mid-loop, restored and resumed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ipyckpt import Store
from ipyckpt.batch import NotebookRunError, run_notebook

SETUP = """\
import os, signal, time
from pathlib import Path
log = Path("iterations.log")
marker = Path("killed-once")
"""

# Each iteration sleeps longer than every=, so a snapshot is due at the start of every
# iteration (monotonic clock): the snapshot at iteration 4 exists before the kernel kills itself.
SELF_KILLING_LOOP = """\
%%checkpoint every=0.01
total = 0
for i in range(8):
    time.sleep(0.02)
    with log.open("a") as f:
        f.write(f"{i}\\n")
    if i == 4 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    total += i * i
"""


def write_notebook(folder: Path, *cells: str, name: str = "analysis.ipynb") -> Path:
    nb = new_notebook(
        cells=[new_markdown_cell("# a batch run")] + [new_code_cell(source) for source in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = folder / name
    nbformat.write(nb, path)
    return path


def outputs_text(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def resumed_iteration(folder: Path) -> int:
    """The iteration of SELF_KILLING_LOOP a new kernel resumed at, checking the log's shape.

    The loop ran 0-4, was killed, and the new kernel ran from the newest published snapshot
    to the end; never from the top. In-process that snapshot is the one of iteration 4. In the
    background (the default) a snapshot due while the previous child still writes is skipped,
    so it can be an earlier one.
    """
    ran = [int(i) for i in (folder / "iterations.log").read_text().split()]
    resumed_at = ran[5]
    assert ran == [0, 1, 2, 3, 4, *range(resumed_at, 8)] and 0 < resumed_at <= 4, ran
    return resumed_at


@pytest.fixture
def batch_env(kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels run_notebook starts inherit this process's environment."""
    for key in ("IPYTHONDIR", "JUPYTER_DATA_DIR", "PYDEVD_DISABLE_FILE_VALIDATION"):
        monkeypatch.setenv(key, kernel_env[key])
    monkeypatch.delenv("IPYCKPT_STORE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


@pytest.mark.usefixtures("batch_env")
@pytest.mark.parametrize("background", [False, True], ids=["in-process", "background"])
def test_sigkilled_mid_loop_finishes_with_the_uninterrupted_result(
    tmp_path: Path, background: bool
) -> None:
    config = f"%load_ext ipyckpt\n%config Checkpointer.background = {background}"
    path = write_notebook(tmp_path, config, SETUP, SELF_KILLING_LOOP, "print('result', total)")
    lines: list[str] = []
    report = run_notebook(path, retries=1, log=lines.append)

    assert (tmp_path / "killed-once").exists(), "the kernel really killed itself"
    assert len(report.restarts) == 1
    assert "the kernel died in cell 4" in lines[0]
    executed = nbformat.read(report.output, as_version=4)
    assert "result 140" in outputs_text(executed.cells[4])  # sum(i*i for i in range(8))
    resumed_at = resumed_iteration(tmp_path)
    # in-process, iterations 0-3 ran once: the new kernel resumed at iteration 4
    assert resumed_at == 4 or background
    loop_output = outputs_text(executed.cells[3])
    assert "a new kernel restored state checkpoint" in loop_output
    assert f"resumed at statement 2, iteration {resumed_at}" in loop_output
    assert report.store == tmp_path / ".ipyckpt" / "analysis.ipynb"
    assert Store(report.store).load().values["total"] == 140


@pytest.mark.usefixtures("batch_env")
def test_killed_from_outside_resumes_the_while_loop(tmp_path: Path) -> None:
    """Another thread SIGKILLs the kernel once a snapshot of the running loop is published."""
    loop = (
        "%%checkpoint every=0.01\n"
        "n = 0\n"
        "while not Path('release').exists():\n"
        "    n += 1\n"
        "    time.sleep(0.005)\n"
        "print('loop ended at', n)"
    )
    path = write_notebook(tmp_path, "%load_ext ipyckpt", SETUP, loop)
    store = tmp_path / ".ipyckpt" / path.name
    kernels: list[Any] = []
    seen: list[int | None] = []
    killed = threading.Event()

    def in_the_loop() -> bool:  # a snapshot of the running loop is published
        infos = Store(store).generations() if store.exists() else []
        return any(g.trigger == "periodic" for g in infos)

    def killer() -> None:
        while not in_the_loop():
            if not kernels or kernels[0].provisioner.process.poll() is not None:
                return
            threading.Event().wait(0.01)
        os.kill(kernels[0].provisioner.pid, signal.SIGKILL)
        killed.set()

    def on_kernel_start(km: Any) -> None:
        kernels.append(km)
        if len(kernels) == 1:
            threading.Thread(target=killer, daemon=True).start()
        else:  # the second kernel: let the loop end
            # the cells that ran before the kill are already written out, as they finished
            written = nbformat.read(tmp_path / "analysis.out.ipynb", as_version=4)
            seen.append(written.cells[2].execution_count)
            (tmp_path / "release").touch()

    report = run_notebook(path, retries=2, on_kernel_start=on_kernel_start)
    assert killed.is_set()
    assert len(kernels) == 2 and len(report.restarts) == 1
    assert seen == [2], "the output notebook is written after every cell"
    executed = nbformat.read(report.output, as_version=4)
    text = outputs_text(executed.cells[3])
    assert "resumed at statement 2, iteration" in text
    assert "loop ended at" in text


@pytest.mark.usefixtures("batch_env")
def test_out_of_retries_writes_the_notebook_and_says_so(tmp_path: Path) -> None:
    always_dies = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    path = write_notebook(tmp_path, "x = 1", always_dies)
    out = tmp_path / "out.ipynb"
    with pytest.raises(NotebookRunError, match=r"died in cell 3 and 1 restart are used up"):
        run_notebook(path, out, retries=1, log=lambda line: None)
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[1].execution_count is not None, "the cells that ran keep their outputs"


@pytest.mark.usefixtures("batch_env")
def test_cli_exit_codes_and_one_line_messages(tmp_path: Path) -> None:
    good = write_notebook(tmp_path, "print(6 * 7)", name="good.ipynb")
    failing = write_notebook(tmp_path, "1 / 0", name="failing.ipynb")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ipyckpt.cli", "run", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = cli(str(good))
    assert done.returncode == 0, done.stderr
    assert "42" in outputs_text(nbformat.read(tmp_path / "good.out.ipynb", as_version=4).cells[1])
    failed = cli(str(failing), "-o", str(tmp_path / "failed.ipynb"))
    assert failed.returncode == 1
    ours = [line for line in failed.stderr.splitlines() if not line.startswith("[IPKernelApp]")]
    assert ours == [
        f"ipyckpt: cell 2 raised ZeroDivisionError: see its output in {tmp_path / 'failed.ipynb'}"
    ]
    slow = write_notebook(tmp_path, "import time\ntime.sleep(600)", name="slow.ipynb")
    timed_out = cli(str(slow), "--timeout", "1")
    assert timed_out.returncode == 1
    assert "cell 2 ran longer than --timeout" in timed_out.stderr
    missing = cli(str(tmp_path / "nope.ipynb"))
    assert missing.returncode == 2
    assert "no notebook" in missing.stderr


@pytest.mark.usefixtures("batch_env")
def test_plain_nbclient_run_names_ipyckpt_run(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    path = write_notebook(tmp_path, "%load_ext ipyckpt", "%%checkpoint\nx = 1")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = outputs_text(nb.cells[2])
    assert "ipyckpt run" in text and "IPYCKPT_STORE" in text


# The kernel kills the `ipyckpt run` process that drives it, then itself: the whole run is gone,
# as when an HTCondor job is evicted. Only the output notebook and the store remain.
WHOLE_RUN_KILLED = SELF_KILLING_LOOP.replace(
    "        os.kill(os.getpid(), signal.SIGKILL)",
    "        os.kill(os.getppid(), signal.SIGKILL)\n        os.kill(os.getpid(), signal.SIGKILL)",
)


@pytest.mark.usefixtures("batch_env")
def test_a_run_killed_as_a_whole_continues_with_resume(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path, "%load_ext ipyckpt", SETUP, WHOLE_RUN_KILLED, "print('result', total)"
    )
    command = [sys.executable, "-m", "ipyckpt.cli", "run", str(path), "--retries", "0"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == -signal.SIGKILL, first.stderr
    stopped = nbformat.read(tmp_path / "analysis.out.ipynb", as_version=4)
    assert stopped.metadata["ipyckpt_run"]["current"] == 3, "the output records the running cell"

    lines: list[str] = []
    report = run_notebook(path, retries=0, resume=True, log=lines.append)
    assert lines == [f"ipyckpt run: {report.resumed}"]
    assert re.fullmatch(
        r"the previous run stopped in cell 4; a new kernel restored state checkpoint \d+ "
        r"\(taken in cell 4\): re-running it",
        report.resumed,
    )
    executed = nbformat.read(report.output, as_version=4)
    assert "result 140" in outputs_text(executed.cells[4])
    resumed_iteration(tmp_path)
    # the cells that finished before the kill kept their outputs; they were not run again
    assert executed.cells[2].execution_count == stopped.cells[2].execution_count == 2
    assert executed.metadata["ipyckpt_run"]["finished"] is True
    again: list[str] = []
    run_notebook(path, retries=0, resume=True, log=again.append)  # nothing left to resume
    assert again == [
        f"ipyckpt run: no unfinished run of this notebook in {report.output}: running it all"
    ]
