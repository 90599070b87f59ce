"""A full disk or read-only directory fails the save clearly and loses nothing.

The first tests use a real, tiny tmpfs (root can mount one; elsewhere they are skipped with
the reason). The others make the OS write call fail with ENOSPC at chosen moments, so every
stage of a save (buffer blobs, segment, manifest) is covered on any machine.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipyckpt import CheckpointWriteError, Store
from ipyckpt.store import fsio
from tests.faults.conftest import problem_lines


def blob_names(directory: Path) -> set[str]:
    return {p.name for p in (directory / "blobs").glob("*/*")}


def test_real_full_disk_keeps_the_previous_generation(tiny_fs: Path) -> None:
    store = Store(tiny_fs / "s")
    store.save({"arr": np.full(100_000, 1.0), "tag": "good"})
    before = blob_names(tiny_fs / "s")
    with pytest.raises(
        CheckpointWriteError, match=r"No space left on device.*generation 1 is intact"
    ):
        store.save({"arr": np.arange(4_000_000.0), "tag": "too big"})  # distinct chunks
    assert Store(tiny_fs / "s").load().values["tag"] == "good"
    assert list((tiny_fs / "s" / "tmp").iterdir()) == [], "temporary files were removed"
    assert blob_names(tiny_fs / "s") == before, "blobs of the failed save were removed"
    assert store.save({"arr": np.full(100_000, 3.0), "tag": "fits"}).generation == 2
    assert store.verify().ok


def test_gc_and_delete_on_a_read_only_filesystem_leave_every_generation(tiny_fs: Path) -> None:
    store = Store(tiny_fs / "s", keep=5)
    for k in range(3):
        store.save({"arr": np.full(10_000, float(k)), "k": k})
    manifests = {p.name: p.read_bytes() for p in (tiny_fs / "s" / "generations").iterdir()}
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(CheckpointWriteError, match=r"Read-only file system.*intact"):
        store.gc(keep=1)
    with pytest.raises(CheckpointWriteError, match=r"Read-only file system.*intact"):
        store.delete(1)
    assert {p.name: p.read_bytes() for p in (tiny_fs / "s" / "generations").iterdir()} == manifests
    assert [store.load(generation=g).values["k"] for g in (3, 2, 1)] == [2, 1, 0]


def test_read_only_filesystem_is_a_clear_error(tiny_fs: Path) -> None:
    store = Store(tiny_fs / "s")
    store.save({"x": 1})
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(CheckpointWriteError, match="Read-only file system"):
        store.save({"x": 2})
    assert store.load().values == {"x": 1}


class FailingWrites:
    """Replace the OS write call: let ``allow`` writes through, then fail with ENOSPC."""

    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.calls = 0

    def __call__(self, fd: int, data: memoryview) -> int:
        self.calls += 1
        if self.calls > self.allow:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


def count_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ns: dict[str, object]) -> int:
    """How many OS writes a save of ``ns`` into a fresh store makes."""
    counter = FailingWrites(allow=10**9)
    monkeypatch.setattr(fsio, "os_write", counter)
    store = Store(tmp_path / "count")
    store.save({"x": 0})
    counter.calls = 0
    store.save(ns)
    monkeypatch.setattr(fsio, "os_write", os.write)
    return counter.calls


def test_enospc_at_every_write_of_a_save_keeps_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = {"a": np.full(50_000, 2.0), "b": np.full(60_000, 3.0), "tag": "new"}
    total = count_writes(tmp_path, monkeypatch, new)
    assert total >= 5, "buffers, segment, manifest and lock each write"
    for allow in range(total):
        directory = tmp_path / f"s{allow}"
        store = Store(directory)
        store.save({"a": np.full(50_000, 1.0), "tag": "old"})
        before = blob_names(directory)
        monkeypatch.setattr(fsio, "os_write", FailingWrites(allow))
        with pytest.raises(CheckpointWriteError, match="No space left on device"):
            store.save(new)
        monkeypatch.setattr(fsio, "os_write", os.write)
        assert Store(directory).load().values["tag"] == "old", f"failed at write {allow + 1}"
        assert [g.id for g in store.generations()] == [1]
        assert blob_names(directory) == before
        assert list((directory / "tmp").iterdir()) == []


FILL_CELL = """%%checkpoint keep=1 every=0.01s
import time
weights = [1.0, 2.0, 3.0]
for step in range(3):
    weights.append(step)
    time.sleep(0.03)
with open({fill!r}, "wb") as out:  # the cell's own write fills the disk and raises
    out.write(bytes(64 << 20))
"""


def test_full_disk_and_a_raising_cell_keep_the_newest_generation(
    tiny_fs: Path, open_kernel: Any
) -> None:
    directory = tiny_fs / "store"
    k = open_kernel(IPYCKPT_STORE=str(directory))
    k.run("%load_ext ipyckpt")
    out = k.run(FILL_CELL.format(fill=str(tiny_fs / "fill.bin")), allow_error=True)
    assert out.error is not None and out.error["ename"] == "OSError"
    assert "No space left on device" in out.error["evalue"]
    traceback = "\n".join(out.error["traceback"])
    assert "During handling" not in traceback and "direct cause" not in traceback
    assert "CheckpointWriteError" not in traceback, "the user sees only their own error"
    problems = [line for line in problem_lines(out.stderr) if "ipyckpt" in line]
    assert len(problems) == 1 and "could not mark the snapshot" in problems[0], out.stderr
    (tiny_fs / "fill.bin").unlink()
    store = Store(directory, keep=1)
    assert len(store.generations()) == 1, "keep=1: the newest good generation is still there"
    values = store.load().values
    assert values["weights"][:3] == [1.0, 2.0, 3.0] and values["step"] >= 0
    assert store.verify().ok


def test_a_failed_annotate_leaves_the_published_manifest_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "s", keep=1)
    store.save({"x": 1})
    manifest = tmp_path / "s" / "generations" / "00000001.json"
    before = manifest.read_bytes()
    monkeypatch.setattr(fsio, "os_write", FailingWrites(allow=1))  # the lock's pid write only
    with pytest.raises(CheckpointWriteError, match=r"generation 1 .*it is unchanged"):
        store.annotate(1, error="ValueError: boom")
    monkeypatch.setattr(fsio, "os_write", os.write)
    assert manifest.read_bytes() == before
    assert store.load().values == {"x": 1}
