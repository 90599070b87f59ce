"""After a SIGKILL, a new kernel continues where the old one was (issue 11): imports come back."""

from __future__ import annotations

import signal
from typing import Any

IMPORTS_CELL = """%%checkpoint
import numpy as np
import matplotlib.pyplot as plt
import collections.abc
from os import path as osp
x = np.arange(5)
"""

NEXT_CELL = """
fig, ax = plt.subplots()
ax.set_title("after the crash")
y = int(np.sum(x))
joined = osp.join("a", "b")
is_mapping = isinstance({}, collections.abc.Mapping)
"""


def test_imports_are_restored_and_the_next_cell_runs(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run(IMPORTS_CELL)
    k.kill(signal.SIGKILL)
    k2 = open_kernel()
    restored = k2.run("%load_ext ipyckpt")
    assert "not restored" not in restored.stdout, restored.stdout
    k2.run(NEXT_CELL)
    assert k2.value("(y, joined, is_mapping, ax.get_title())") == (
        10,
        "a/b",
        True,
        "after the crash",
    )
    assert k2.value("(type(np).__name__, np.__name__, plt.__name__, osp.__name__)") == (
        "module",
        "numpy",
        "matplotlib.pyplot",
        "posixpath",
    )


RANDOM_CELL = """%%checkpoint every=0.2s
import random, time
import numpy as np
random.seed(5)
np.random.seed(5)
draws = []
for i in range(40):
    draws.append((random.random(), float(np.random.rand()), random.randint(0, 9)))
    print("iter", i, flush=True)
    time.sleep(0.03)
"""


def uninterrupted_draws() -> list[tuple[float, float, int]]:
    """The same loop, run without interruption (in this process: it is deterministic)."""
    import random

    import numpy as np

    random.seed(5)
    np.random.seed(5)
    return [(random.random(), float(np.random.rand()), random.randint(0, 9)) for _ in range(40)]


def test_a_seeded_random_loop_killed_midway_equals_the_uninterrupted_run(
    open_kernel: Any,
) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    msg = k.start_running(RANDOM_CELL)
    k.wait_for_output(msg, "(periodic)")
    k.wait_for_output(msg, "iter 20")
    k.kill(signal.SIGKILL)
    k2 = open_kernel()
    k2.run("%load_ext ipyckpt")
    i = k2.value("i")
    assert 0 < i < 40
    k2.run("print(__import__('random').random())")  # a draw between restore and resume
    out = k2.run(RANDOM_CELL)
    assert f"iteration {i} of" in out.stdout, out.stdout
    assert k2.value("draws") == uninterrupted_draws()


STEP_CELL = """%%checkpoint every=0.2s
import time
for step in range(6):
    total += start
    print("step", step, flush=True)
    time.sleep(0.25)
"""


def killed_in_step_cell(open_kernel: Any) -> Any:
    """A kernel SIGKILLed in the middle of STEP_CELL, and a new one that restored it."""
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\nstart = 1\ntotal = 0")
    msg = k.start_running(STEP_CELL)
    k.wait_for_output(msg, "(periodic)")
    k.wait_for_output(msg, "step 3")
    k.kill(signal.SIGKILL)
    k2 = open_kernel()
    assert "restored" in k2.run("%load_ext ipyckpt").stdout
    return k2


def test_a_resume_point_is_used_once_then_the_cell_runs_from_the_top(open_kernel: Any) -> None:
    k2 = killed_in_step_cell(open_kernel)
    resumed = k2.run(STEP_CELL)
    assert "resumed at" in resumed.stdout
    assert k2.value("total") == 6
    k2.run("total = 1000\nstart = 10")
    again = k2.run(STEP_CELL)
    assert "resumed" not in again.stdout, "an old resume point rolled back newer work"
    assert k2.value("total") == 1060
    k2.km.restart_kernel(now=True)
    k2.client.wait_for_ready(timeout=60)
    k2.run("%load_ext ipyckpt")
    after_restart = k2.run(STEP_CELL)
    assert "resumed" not in after_restart.stdout, "a finished cell is no resume point"
    assert k2.value("total") == 1120


def test_a_rebound_variable_makes_the_cell_run_from_the_top_and_says_which(
    open_kernel: Any,
) -> None:
    k2 = killed_in_step_cell(open_kernel)
    k2.run("start = 1\ntotal = 0")  # the user re-runs the initialising cell
    out = k2.run(STEP_CELL)
    assert "ipyckpt: total changed since state checkpoint" in out.stdout, out.stdout
    assert "resumed" not in out.stdout
    assert k2.value("total") == 6
