"""Issue 12 item 1 in a real kernel: a thread writes into a big array while snapshots run.

Every published generation must load and verify (bytes are hashed from the copy that is
written), and after a SIGKILL a new kernel gets back the variables no thread touched. The array
the thread writes may be captured torn (only the cell's own thread is consistent): not checked.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from ipyckpt import Store

START_THREAD = """
import threading, numpy as np
data = np.zeros(16 << 20)  # 128 MB, written by a "data loader" thread
model = {"weights": np.arange(1000.0), "name": "resnet"}
stop = threading.Event()
def loader():
    while not stop.is_set():
        np.add(data, 1.0, out=data)
threading.Thread(target=loader, daemon=True).start()
"""

CELL = """%%checkpoint every=1s exclude=stop,loader
import time
for step in range(1000):
    time.sleep(0.05)
    if step % 10 == 0:
        print("step", step, flush=True)
"""


def test_thread_writing_during_snapshots_never_damages_a_generation(open_kernel: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run(START_THREAD)
    msg = k.start_running(CELL)
    for n in range(2, 5):  # three periodic snapshots taken while the thread writes
        k.wait_for_output(msg, f"state checkpoint {n} (periodic)", timeout=120)
    k.kill(signal.SIGKILL)

    directory = k.notebook.parent / ".ipyckpt" / k.notebook.name
    verify = subprocess.run(
        [sys.executable, "-m", "ipyckpt.cli", "verify", str(k.notebook)],
        capture_output=True, text=True, env=k.env, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "checked 3 generations" in verify.stdout, verify.stdout
    store = Store(directory, keep=10)
    for info in store.generations():
        assert info.problem is None
        assert set(store.load(generation=info.id).values) >= {"data", "model"}

    k2 = open_kernel()
    restored = k2.run("%load_ext ipyckpt")
    assert "restored" in restored.stdout, restored.text
    assert k2.value("(model['name'], float(model['weights'].sum()), data.shape)") == (
        "resnet",
        float(sum(range(1000))),
        (16 << 20,),
    )
