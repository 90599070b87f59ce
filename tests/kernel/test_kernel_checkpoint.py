"""%%checkpoint in real kernels: snapshots, restore after restart and crash, resume, isolation."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ipyckpt import Store

LOOP_CELL = """%%checkpoint every=0.3s
import time
total = 0
seen = []
for i in range(30):
    total += i
    seen.append(i)
    print("iter", i, flush=True)
    time.sleep(0.05)
result = total
"""


def store_of(kernel: Any) -> Store:
    return Store(kernel.notebook.parent / ".ipyckpt" / kernel.notebook.name)


def test_save_restart_and_state_is_back(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    out = k.run("%%checkpoint\nx = 41\ny = x + 1\nf = lambda v: v * y\ny")
    assert out.value == "42", "the last expression is displayed"
    assert "state checkpoint 1 (end)" in out.text
    k.km.restart_kernel(now=True)
    k.client.wait_for_ready(timeout=60)
    restored = k.run("%load_ext ipyckpt")
    assert "restored 3 variables from state checkpoint 1" in restored.stdout
    assert k.value("(x, y, f(2))") == (41, 42, 84)


def test_normal_shutdown_snapshots_tracked_state_but_not_after_clear(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\nimport numpy as np\nx = np.zeros(100_000)")
    k.run("x[0] = 2")  # changed after the last snapshot; arrays are written at exit too
    k.km.shutdown_kernel(now=False)  # a normal shutdown request, like closing the notebook
    newest = store_of(k).generations()[0]
    assert newest.trigger == "shutdown"
    assert store_of(k).load().values["x"][0] == 2
    k2 = open_kernel(k.notebook.name)
    k2.run("%load_ext ipyckpt")
    k2.run("%%checkpoint\ny = 3")
    k2.run("%checkpoint clear --yes")
    k2.km.shutdown_kernel(now=False)
    assert not (k.notebook.parent / ".ipyckpt" / k.notebook.name).exists()


def test_sigkill_mid_loop_then_resume_in_a_new_kernel(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    msg = k.start_running(LOOP_CELL)
    k.wait_for_output(msg, "(periodic)")
    k.wait_for_output(msg, "iter 12")
    k.kill(signal.SIGKILL)

    k2 = open_kernel()
    restored = k2.run("%load_ext ipyckpt")
    assert "restored" in restored.stdout
    i, total, seen = k2.value("(i, total, seen)")
    assert seen == list(range(i)) and total == sum(range(i)), "snapshot at the start of iteration i"
    assert 0 < i < 30
    out = k2.run(LOOP_CELL)
    assert re.search(
        rf"resumed at statement \d+, iteration {i} of for i in range\(30\)", out.stdout
    )
    first = int(re.search(r"iter (\d+)", out.stdout).group(1))
    assert first == i, "continued with the interrupted iteration, not from the top"
    assert k2.value("(result, seen)") == (sum(range(30)), list(range(30)))


def test_sigterm_takes_a_snapshot_at_the_next_consistent_point(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    msg = k.start_running(LOOP_CELL.replace("every=0.3s", "every=1h"))
    k.wait_for_output(msg, "iter 5")
    k.kill(signal.SIGTERM)
    assert k.exit_code() == 128 + signal.SIGTERM
    newest = store_of(k).generations()[0]
    assert newest.trigger == "sigterm"
    k2 = open_kernel()
    k2.run("%load_ext ipyckpt")
    i, seen = k2.value("(i, seen)")
    assert seen == list(range(i)) and i >= 5
    out = k2.run(LOOP_CELL.replace("every=0.3s", "every=1h"))
    assert f"iteration {i} of" in out.stdout
    assert k2.value("result") == sum(range(30))


def test_sigterm_when_idle_snapshots_tracked_state_and_exits(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\na = 1")
    k.run("a = 2\nb = 3")
    k.kill(signal.SIGTERM)
    newest = store_of(k).generations()[0]
    assert newest.trigger == "sigterm"
    assert Store(store_of(k).directory).load().values == {"a": 2, "b": 3}


def test_a_statement_is_never_torn(open_kernel: Any) -> None:
    rng = random.Random(7)
    cell = (
        "%%checkpoint every=0.05s\n"
        "a = b = 0\n"
        "for i in range(10**9):\n"
        "    a = i\n"
        "    b = 2 * i\n"
        "    c = [a] * 100\n"
    )
    for trial in range(4):
        k = open_kernel()
        loaded = k.run("%load_ext ipyckpt")
        if trial:
            assert "restored" in loaded.stdout
            a, b, c, i = k.value("(a, b, c[:1], i)")
            assert b == 2 * a and c == [a] and i == a + 1, f"torn state after kill {trial}"
        msg = k.start_running(cell)
        k.wait_for_output(msg, "(periodic)")
        time.sleep(rng.uniform(0.0, 0.4))  # kill at a random moment after a snapshot
        k.kill(signal.SIGKILL)


def test_two_notebooks_in_one_folder_are_isolated(open_kernel: Any) -> None:
    a = open_kernel("a.ipynb")
    a.run("%load_ext ipyckpt")
    a.run("%%checkpoint\nsecret = 'from a'")
    b = open_kernel("b.ipynb")
    out = b.run("%load_ext ipyckpt")
    assert "restored" not in out.stdout
    assert b.value("'secret' in dir()") is False
    assert "b.ipynb" in b.run("%checkpoint status").stdout


def test_a_name_set_before_loading_is_not_overwritten(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\nx = 'saved'\nz = 'saved'")
    k2 = open_kernel()
    k2.run("x = 'mine'")
    out = k2.run("%load_ext ipyckpt")
    assert "kept your current values of: x" in out.stdout
    assert k2.value("(x, z)") == ("mine", "saved")


def test_exceptions_propagate_and_bad_arguments_are_usage_errors(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    out = k.run(
        "%%checkpoint every=0.01s\nimport time\nv = 1\nfor j in range(3):\n    v += 1\n    time.sleep(0.02)\n1 / 0",
        allow_error=True,
    )
    assert out.error["ename"] == "ZeroDivisionError"
    newest = store_of(k).generations()[0]
    assert newest.error == "ZeroDivisionError: division by zero"
    bad = k.run("%%checkpoint every=banana\nx = 1", allow_error=True)
    assert "UsageError" in bad.stderr  # IPython prints UsageError plainly, no traceback
    assert "1h30m" in bad.stderr
    assert k.value("'x' in dir()") is False, "the cell did not run"
    unknown = k.run("%checkpoint frobnicate", allow_error=True)
    assert "UsageError" in unknown.stderr


def test_line_magic_subcommands(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%config Checkpointer.autosave = 'off'")  # only the saves this test makes
    k.run("import numpy as np\narr = np.arange(10.0)\ngen = (i for i in range(3))\nn = 1")
    saved = k.run("%checkpoint save")
    assert "saved 3 variables" in saved.stdout and "gen: cannot pickle" in saved.stdout
    k.run("n = 2\nnew = 'x'")
    assert "changed: n" in k.run("%checkpoint diff").stdout
    listed = k.run("%checkpoint list")
    assert "manual" in (listed.value or "")
    assert "all good" in k.run("%checkpoint verify").stdout
    status = k.run("%checkpoint status").stdout
    assert "last save: generation 1" in status
    restored = k.run("%checkpoint restore n")
    assert "restored 1 variable" in restored.stdout
    assert k.value("n") == 1
    assert "usage" in k.run("%checkpoint restore --help").stdout.lower()
    k.run("%checkpoint clear --yes")
    assert not store_of(k).directory.exists()
    k.run("%unload_ext ipyckpt")
    gone = k.run("%checkpoint list", allow_error=True)
    assert "not found" in gone.stderr


def test_kernel_without_a_notebook_needs_a_name(open_kernel: Any, tmp_path: Path) -> None:
    k = open_kernel(JPY_SESSION_NAME="")
    k.run("%load_ext ipyckpt")
    out = k.run("%%checkpoint\nq = 1", allow_error=True)
    assert "%checkpoint name NAME" in out.stderr  # one line: tests/kernel/test_one_line_errors.py
    k.run("%checkpoint name batch-run")
    k.run("%%checkpoint\nq = 2")
    assert (Path(k.notebook.parent) / ".ipyckpt" / "batch-run" / "generations").is_dir()


def test_install_makes_new_kernels_restore_without_load_ext(
    open_kernel: Any, kernel_env: dict[str, str]
) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\nremember = 'me'")
    env = {**kernel_env}
    cli = [sys.executable, "-m", "ipyckpt.cli"]
    first = subprocess.run([*cli, "install"], env=env, capture_output=True, text=True, check=True)
    again = subprocess.run([*cli, "install"], env=env, capture_output=True, text=True, check=True)
    assert "now loads" in first.stdout and "already loads" in again.stdout
    k2 = open_kernel()
    assert k2.value("remember") == "me"
    subprocess.run([*cli, "uninstall"], env=env, capture_output=True, text=True, check=True)
    k3 = open_kernel()
    assert k3.value("'remember' in dir()") is False
