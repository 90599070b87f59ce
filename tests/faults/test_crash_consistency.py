"""SIGKILL a process in the middle of saving a large namespace, many times, at random moments.

After every kill, ``load()`` must return a complete generation: the one before the interrupted
save or the interrupted save itself if its manifest was published; never an error or a mix.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipyckpt import Store

TRIALS = 50
ARRAY_MB = 160
GC_TRIALS = 20
RESTORE_TRIALS = 20

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
        # distinct chunks (equal ones are stored once): every save writes the whole array
        ns = {"arr": np.arange(n, dtype=np.float64) + k, "meta": {"k": k}, "tail": [k] * 1000,
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
    arr = v["arr"]
    assert arr[0] == float(k) and arr[-1] == float(k + len(arr) - 1), "array and metadata agree"
    assert v["tail"] == [k] * 1000
    assert v["small"][0] == float(k)
    assert not report.failed
    return int(k)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_exposes_a_torn_generation(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    directory = tmp_path / "store"
    n = ARRAY_MB * (1 << 20) // 8
    first = {
        "arr": np.arange(n, dtype=np.float64) + 1,  # as the saver writes generation k=1
        "meta": {"k": 1},
        "tail": [1] * 1000,
        "small": np.full(1000, 1.0),
    }
    Store(directory, keep=2).save(first, info={"k": 1})  # every trial has a generation to lose
    del first
    last_loaded = 1
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
    print(f"50 kills: loaded {outcomes}, {killed_mid_write} left a half-written file")
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


GC_VICTIM = textwrap.dedent(
    """
    import sys, time
    from ipyckpt import Store
    store = Store(sys.argv[1], keep=1000)
    print("gc", flush=True)
    started = time.perf_counter()
    store.gc(keep=1)
    print("done", time.perf_counter() - started, flush=True)
    """
)
GENERATIONS, ARRAYS = 30, 40


def store_for_gc(directory: Path) -> None:
    """30 generations of 40 arrays each: 1,230 files for gc to go through."""
    store = Store(directory, keep=1000)
    for k in range(1, GENERATIONS + 1):
        store.save({f"a{i}": np.full(1000, float(k * 100 + i)) for i in range(ARRAYS)} | {"k": k})


def every_generation_loads(directory: Path) -> list[int]:
    store = Store(directory, keep=1000)
    ids = store.generation_ids()
    for gid in ids:
        report = store.load(generation=gid)
        k = report.values["k"]
        assert report.values["a7"][0] == float(k * 100 + 7) and not report.failed
    assert store.verify().ok
    return ids


@pytest.mark.slow
def test_sigkill_during_gc_leaves_every_remaining_generation_whole(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    template = tmp_path / "template"
    store_for_gc(template)
    shutil.copytree(template, tmp_path / "calibrate")
    calibration = subprocess.run(
        [sys.executable, "-c", GC_VICTIM, str(tmp_path / "calibrate")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    gc_seconds = float(calibration.stdout.split()[-1])
    inside = 0
    for trial in range(GC_TRIALS):
        directory = tmp_path / f"s{trial}"
        shutil.copytree(template, directory)
        child = subprocess.Popen(
            [sys.executable, "-c", GC_VICTIM, str(directory)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "gc"
        time.sleep(rng.uniform(0.0, gc_seconds))
        os.kill(child.pid, signal.SIGKILL)
        finished = child.stdout.read().startswith("done")
        child.stdout.close()
        child.wait()
        ids = every_generation_loads(directory)
        assert ids and ids[0] == GENERATIONS, f"trial {trial}: the newest generation survives"
        left = len(list((directory / "blobs").glob("*/*")))
        inside += not finished and (len(ids) > 1 or left > ARRAYS + 1)
        Store(directory).gc(keep=1)  # the next gc finishes the job
        assert every_generation_loads(directory) == [GENERATIONS]
        left = len(list((directory / "blobs").glob("*/*")))
        assert left == ARRAYS + 1, "the kept generation's arrays and its segment"
    print(f"{GC_TRIALS} kills during a {gc_seconds:.3f} s gc: {inside} interrupted it")
    assert inside >= GC_TRIALS // 4, f"only {inside} of {GC_TRIALS} kills landed inside gc"


RESTORER = textwrap.dedent(
    """
    import sys
    from ipyckpt import Store
    store = Store(sys.argv[1])
    store.load()  # warm: imports and the page cache, so a load takes its steady time
    print("ready", flush=True)
    while True:
        store.load()
        print("loaded", flush=True)
    """
)


def _timed(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def tree(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file() and p.name != "lock"
    }


@pytest.mark.slow
def test_sigkill_during_restore_changes_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    directory = tmp_path / "s"
    store = Store(directory)
    n = 64 * (1 << 20) // 8
    # distinct chunks (equal ones are stored once), so a load reads all 64 MB
    store.save({"arr": np.arange(n, dtype=np.float64), "meta": {"k": 1}, "small": np.arange(9.0)})
    store.save({"arr": np.arange(n) + 2.0, "meta": {"k": 2}, "small": np.arange(1000.0)})
    seconds = min(_timed(Store(directory).load) for _ in range(3))  # one load, steady state
    before = tree(directory)
    loads_completed = 0
    for _ in range(RESTORE_TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-c", RESTORER, str(directory)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 2 * seconds))  # about one load: most kills land inside one
        os.kill(child.pid, signal.SIGKILL)
        loads_completed += child.stdout.read().count("loaded")
        child.stdout.close()
        child.wait()
        assert tree(directory) == before, "a killed restore changed no file of the store"
    after = Store(directory, lock_timeout=1).save({"meta": {"k": 3}}, names=["meta"])
    assert after.generation == 3, "no lock was left behind"
    values = Store(directory).load().values
    assert values["meta"] == {"k": 3} and values["arr"][-1] == n + 1.0
    print(f"{RESTORE_TRIALS} kills during restores: {loads_completed} loads had completed")
    assert loads_completed < RESTORE_TRIALS * 3, "most kills landed inside a load"
