"""Background snapshots in a real kernel: the cell keeps running while a forked child writes."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

from ipyckpt import Store

CELL = """%%checkpoint every=0.3s
import time
import numpy as np
a = np.zeros(4 << 20)  # 32 MB
for i in range(100_000):
    a[:] = i  # a and last always agree at a consistent point
    last = i
    time.sleep(0.02)
"""


def store_of(kernel: Any) -> Store:
    return Store(kernel.notebook.parent / ".ipyckpt" / kernel.notebook.name, keep=10)


def test_background_snapshots_hold_the_consistent_point_and_survive_a_kernel_kill(
    open_kernel: Any,
) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%config Checkpointer.background = True")
    msg = k.start_running(CELL)
    seen = k.wait_for_output(msg, "(in the background)")  # an outcome, learnt at a later point
    seen += k.wait_for_output(msg, "in the background (process")
    pid = int(re.findall(r"in the background \(process (\d+)\)", seen)[-1])
    k.kill(signal.SIGKILL)  # the kernel dies while its child may still be writing
    end = time.monotonic() + 120
    while Path(f"/proc/{pid}").exists():  # the child publishes (or gives up), never half
        assert time.monotonic() < end, "the snapshot child never ended"
        time.sleep(0.05)
    store = store_of(k)
    assert store.verify().ok
    periodic = [info for info in store.generations() if info.trigger == "periodic"]
    assert periodic
    for info in periodic:  # (the kernel may also have autosaved after earlier cells)
        values = store.load(generation=info.id).values
        assert values["a"][0] == values["a"][-1] == values["last"], "one consistent point"
    k2 = open_kernel()
    assert "restored" in k2.run("%load_ext ipyckpt").stdout
    last, first, final = k2.value("(last, float(a[0]), float(a[-1]))")
    assert first == final == last
