"""The README's 30-second example, run as a reader would: paste, kill the kernel, resume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def example_cells() -> list[str]:
    """The python blocks of the README section "In a notebook: the 30-second experience"."""
    text = README.read_text()
    section = text.split("## In a notebook: the 30-second experience", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_30_second_example_survives_a_killed_kernel(open_kernel: Any) -> None:
    load, cell, load_again = example_cells()
    assert load.strip() == load_again.strip() == "%load_ext ipyckpt"
    k = open_kernel("first.ipynb")
    k.run(load)
    running = k.start_running(cell)
    k.wait_for_output(running, "(periodic)")  # a snapshot inside the loop is published
    k.kill()

    k2 = open_kernel("first.ipynb")
    restored = k2.run(load_again)
    assert re.search(
        r"ipyckpt: restored 3 variables from state checkpoint \d+ \(periodic", restored.stdout
    )
    assert restored.stdout.rstrip().endswith(": n, squares, time")
    done_before = len(k2.value("squares"))
    assert 0 < done_before < 100
    resumed = k2.run(cell)
    assert (
        f"ipyckpt: resumed at statement 3, iteration {done_before} of for n in range(100)"
        in resumed.text
    )
    assert k2.value("squares") == [n * n for n in range(100)]
