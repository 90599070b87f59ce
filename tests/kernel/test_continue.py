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
