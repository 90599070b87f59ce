"""Two processes saving into one store never interleave a generation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipyckpt import Store, StoreBusy

WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from ipyckpt import Store
    store = Store(sys.argv[1], keep=100)
    w = int(sys.argv[2])
    for i in range(8):
        stamp = w * 1000 + i
        store.save({"arr": np.full(2_000_000, float(stamp)), "stamp": stamp, "writer": w},
                   info={"stamp": stamp})
    print("done", flush=True)
    """
)

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ipyckpt import Store
    from ipyckpt.store.locking import locked
    store = Store(sys.argv[1])
    store.save({"x": 0})
    with locked(Path(sys.argv[1]) / "lock", exclusive=True, timeout=5):
        print("held", flush=True)
        sys.stdin.read()  # hold the lock until the test closes our stdin
    """
)


def test_concurrent_savers_produce_only_whole_generations(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), str(w)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0 and "done" in out
    store = Store(directory, keep=100)
    infos = store.generations()
    assert [g.id for g in infos] == list(range(16, 0, -1)), "16 distinct generation ids"
    seen = set()
    for info in infos:
        values = store.load(generation=info.id).values
        stamp = values["stamp"]
        assert values["arr"][0] == values["arr"][-1] == float(stamp)
        assert values["writer"] == stamp // 1000
        assert info.info["stamp"] == stamp
        seen.add(stamp)
    assert seen == {w * 1000 + i for w in (1, 2) for i in range(8)}
    assert store.verify().ok


def test_a_held_lock_makes_the_loser_wait_then_fail_clearly(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match=rf"busy: another save \(process {holder.pid}\)"):
            Store(directory, lock_timeout=0.3).save({"x": 1})
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert Store(directory).save({"x": 2}).generation == 2
