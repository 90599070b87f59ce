"""SIGKILL a process in the middle of saving a large namespace, many times, at random moments.

After every kill, ``load()`` must return a complete generation: the one before the interrupted
save or the interrupted save itself if its manifest was published; never an error or a mix.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import Store

TRIALS = 50
ARRAY_MB = 160

SAVER = textwrap.dedent(
    """
    import sys, numpy as np
    from ipyckpt import Store
    store = Store(sys.argv[1], keep=2)
    gens = store.generations()
    k = gens[0].info["k"] if gens else 0
    print("ready", k, flush=True)
    n = int(sys.argv[2]) * (1 << 20) // 8
    while True:
        k += 1
        ns = {"arr": np.full(n, float(k)), "meta": {"k": k}, "tail": [k] * 1000,
              "small": np.full(1000, float(k))}
        store.save(ns, info={"k": k})
        print("saved", k, flush=True)
    """
)


def check_consistent(store: Store) -> int:
    report = store.load()
    v = report.values
    k = v["meta"]["k"]
    assert report.info["k"] == k
    assert v["arr"][0] == v["arr"][-1] == float(k), "array and metadata from the same save"
    assert v["tail"] == [k] * 1000
    assert v["small"][0] == float(k)
    assert not report.failed
    return int(k)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_exposes_a_torn_generation(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    directory = tmp_path / "store"
    last_loaded = 0
    outcomes = {"old": 0, "new": 0}
    killed_mid_write = 0
    for trial in range(TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(directory), str(ARRAY_MB)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        assert ready[0] == "ready", ready
        time.sleep(rng.uniform(0.0, 1.5))  # a random moment inside one of the saves
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.stdout.close()
        child.wait()
        assert child.returncode == -signal.SIGKILL
        if (directory / "tmp").is_dir() and any((directory / "tmp").iterdir()):
            killed_mid_write += 1  # the kill left a half-written temporary file behind
        completed = [int(line.split()[1]) for line in rest.splitlines() if line.startswith("saved")]
        confirmed = completed[-1] if completed else int(ready[1])
        if confirmed == 0:
            assert not Store(directory).generations()
            continue
        k = check_consistent(Store(directory))
        assert k in (confirmed, confirmed + 1), f"trial {trial}: loaded {k}, confirmed {confirmed}"
        assert k >= last_loaded
        outcomes["new" if k == confirmed + 1 else "old"] += 1
        last_loaded = k
    assert Store(directory).verify().ok
    assert sum(outcomes.values()) >= TRIALS - 2, outcomes
    assert killed_mid_write >= TRIALS // 3, f"only {killed_mid_write} kills landed inside a write"


def test_next_save_cleans_up_after_a_killed_one(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    child = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(directory), "64"], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    child.stdout.readline()
    assert child.stdout.readline().startswith("saved")  # one complete generation
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    store = Store(directory, keep=1)
    store.save({"arr": np.zeros(10)})
    assert list((directory / "tmp").iterdir()) == []
    names = {p.name for p in (directory / "blobs").glob("*/*")}
    store_info = store.generations()
    assert len(store_info) == 1
    assert len(names) == 2, "only the kept generation's segment and buffer remain"
