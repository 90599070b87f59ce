"""A variable whose pickling never returns abandons the snapshot at the deadline, nothing else."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipyckpt import Store
from ipyckpt.store.errors import SnapshotTooSlow


class SleepsForever:
    def __reduce__(self) -> Any:
        time.sleep(10**6)
        raise AssertionError("unreachable")


class WaitsForever:
    def __reduce__(self) -> Any:
        threading.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize("hang", [SleepsForever, WaitsForever], ids=["sleep", "event-wait"])
def test_a_hung_reduce_abandons_only_that_snapshot(tmp_path: Path, hang: type) -> None:
    directory = tmp_path / "s"
    store = Store(directory)
    store.save({"arr": np.arange(10.0), "tag": "good"})
    before = signal.getsignal(signal.SIGALRM)
    timer_before = signal.getitimer(signal.ITIMER_REAL)[0]  # e.g. pytest-timeout's
    started = time.monotonic()
    with pytest.raises(
        SnapshotTooSlow, match=r"pickling variable 'stuck' took longer than the 0.5 s"
    ):
        store.save({"arr": np.arange(1e6), "stuck": hang(), "tag": "new"}, deadline=0.5)
    assert time.monotonic() - started < 30
    assert signal.getsignal(signal.SIGALRM) is before, "the previous handler is back"
    timer_after = signal.getitimer(signal.ITIMER_REAL)[0]
    assert (timer_after > 0) == (timer_before > 0) and timer_after <= timer_before
    assert store.load().values["tag"] == "good"
    assert list((directory / "tmp").iterdir()) == []
    assert store.save({"tag": "next"}, deadline=0.5).generation == 2


def test_an_outer_timer_keeps_running(tmp_path: Path) -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.5)
        Store(tmp_path / "s").save({"x": 1}, deadline=60)
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 1.5
        while not fired:
            signal.pause()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
