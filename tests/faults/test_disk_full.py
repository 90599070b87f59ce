"""A full disk or read-only directory fails the save clearly and loses nothing.

The first tests use a real, tiny tmpfs (root can mount one; elsewhere they are skipped with
the reason). The others make the OS write call fail with ENOSPC at chosen moments, so every
stage of a save (buffer blobs, segment, manifest) is covered on any machine.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import CheckpointWriteError, Store
from ipyckpt.store import fsio


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the ENOSPC-injection tests still run")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def blob_names(directory: Path) -> set[str]:
    return {p.name for p in (directory / "blobs").glob("*/*")}


def test_real_full_disk_keeps_the_previous_generation(tiny_fs: Path) -> None:
    store = Store(tiny_fs / "s")
    store.save({"arr": np.full(100_000, 1.0), "tag": "good"})
    before = blob_names(tiny_fs / "s")
    with pytest.raises(
        CheckpointWriteError, match=r"No space left on device.*generation 1 is intact"
    ):
        store.save({"arr": np.full(4_000_000, 2.0), "tag": "too big"})
    assert Store(tiny_fs / "s").load().values["tag"] == "good"
    assert list((tiny_fs / "s" / "tmp").iterdir()) == [], "temporary files were removed"
    assert blob_names(tiny_fs / "s") == before, "blobs of the failed save were removed"
    assert store.save({"arr": np.full(100_000, 3.0), "tag": "fits"}).generation == 2
    assert store.verify().ok


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
