"""Parts in a real kernel (background autosaves after cells): once learnt, unchanged parts are
not pickled again, and no change to them is missed: a method call, a function of another cell,
a numpy view, a DataFrame .loc write, a thread writing while the snapshot child runs."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from ipyckpt import Store
from ipyckpt.store.parts import MIN_ITEMS
from tests.kernel.test_session_autosave import store_of, wait_for_snapshot_after

CONFIG = """
c.InteractiveShellApp.extensions = ['ipyckpt']
c.Checkpointer.autosave = '1s'
"""
SLEEP = "\ntime.sleep(1.05)  # a cell as long as the autosave interval is always saved"

SETUP = (
    f"""
import threading, time
import numpy as np, pandas as pd
N = {MIN_ITEMS + 5}
tokens = [f"t{{i}}" for i in range(N)]
table = {{i: f"v{{i}}" for i in range(N)}}
labels = np.array([f"l{{i}}" for i in range(N)], dtype=object)
frame = pd.DataFrame({{"x": np.arange(N) * 1.0, "label": [f"s{{i}}" for i in range(N)]}})
step = 0
"""
    + SLEEP
)

DEFINE = "def grow(item):\n    tokens.append(item)\nstep = 1" + SLEEP

THREAD = (
    """
def write_while_a_child_runs():
    while get_ipython()._ipyckpt.checkpointer._forked.child is None:  # the autosave after this cell forks
        time.sleep(0.001)
    tokens[1] = "written by a thread while the child pickles"
writer = threading.Thread(target=write_while_a_child_runs)
writer.start()
step = 10
"""
    + SLEEP
)

CHANGES = [
    "grow('grown by a function of another cell')",
    "table.update({0: 'updated'})",
    "labels[5] = 5.0",
    "view = labels[10:20]\nview[0] = True",
    "frame.loc[3, 'label'] = 'changed with loc'",
    "tokens[7] = tokens[7] + ''",  # an equal str: the same object, nothing changed
    "writer.join()\nstep = 11",
]
SNAPSHOT = "(tokens, table, labels.tolist(), frame.to_dict('list'), step)"


@pytest.fixture
def autosaving_kernel(open_kernel: Any, kernel_env: dict[str, str]) -> Any:
    profile = Path(kernel_env["IPYTHONDIR"]) / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(CONFIG)
    return open_kernel()


def _values(store: Store, generation: int) -> tuple[Any, ...]:
    v = store.load(generation=generation).values
    frame = v["frame"].to_dict("list")
    return (v["tokens"], v["table"], v["labels"].tolist(), frame, v["step"])


def peek(kernel: Any, expr: str) -> Any:
    """``expr`` evaluated in the kernel without running a cell (no autosave, no count)."""
    msg_id = kernel.client.execute("", silent=True, user_expressions={"v": f"repr({expr})"})
    while True:
        reply = kernel.client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    found = reply["content"]["user_expressions"]["v"]
    assert found["status"] == "ok", found
    return ast.literal_eval(ast.literal_eval(found["data"]["text/plain"]))


def test_parts_in_background_autosaves_never_miss_a_change(autosaving_kernel: Any) -> None:
    k = autosaving_kernel
    store = Store(store_of(k), keep=50)
    count = last = 0
    for cell in (SETUP, DEFINE, "step = 2" + SLEEP, "step = 3" + SLEEP):  # parts are learnt
        count += 1
        k.run(cell)
        last = wait_for_snapshot_after(k, count, newer_than=last)
    k.run("step = 4" + SLEEP)
    count += 1
    last = wait_for_snapshot_after(k, count, newer_than=last)
    peek(k, "get_ipython()._ipyckpt.session.settle(block=True)")
    assert peek(k, "get_ipython()._ipyckpt.session.last_save.parts_reused") == 4
    for change in [THREAD, *CHANGES]:
        before = peek(k, SNAPSHOT)
        count += 1
        k.run(change if change is THREAD else change + SLEEP)
        last = wait_for_snapshot_after(k, count, newer_than=last)
        got = _values(store, last)
        if change is THREAD:  # the thread wrote after the fork: this snapshot has the old value
            assert got[0][1] == before[0][1] == "t1"
            continue
        assert got == tuple(peek(k, SNAPSHOT)), change
    assert peek(k, "tokens[1]") == "written by a thread while the child pickles"
