"""ipyckpt touches only what it created: foreign folders, symlinks, other users' directories.

Every test puts real files outside (or beside) a store and checks they are byte for byte still
there after the store was used, collected and refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pytest

from ipyckpt import Store, StoreFormatError, StoreUnsafe

TEMP_LIKE = "segment.0123456789abcdef.tmp"  # a name ipyckpt's own temporary files could have
HASH_LIKE = "ab" + "0" * 62


def user_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (not following links) with its content."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def outside_folder(tmp_path: Path) -> Path:
    """A folder of the user's own files, named like files ipyckpt writes."""
    outside = tmp_path / "outside"
    (outside / "ab").mkdir(parents=True)
    (outside / "run1.log").write_text("epoch 1 loss 0.3")
    (outside / TEMP_LIKE).write_text("not ipyckpt's")
    (outside / "ab" / HASH_LIKE).write_text("not a blob")
    (outside / "00000001.json").write_text("{}")
    return outside


def test_a_folder_with_user_tmp_and_blobs_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "tmp").mkdir(parents=True)
    (folder / "blobs" / "v1").mkdir(parents=True)
    (folder / "tmp" / "run1.log").write_text("training log")
    (folder / "tmp" / TEMP_LIKE).write_text("mine too")
    (folder / "blobs" / "v1" / "model.bin").write_bytes(b"\x00weights")
    before = user_files(folder)
    with pytest.raises(StoreFormatError, match=r"not an ipyckpt checkpoint store.*empty"):
        Store(folder).save({"x": 1})
    assert user_files(folder) == before
    assert not (folder / "ipyckpt-store.json").exists()


@pytest.mark.parametrize("sub", ["tmp", "blobs", "generations", "blobs/ab", "."])
def test_a_store_with_a_symlinked_directory_is_refused(tmp_path: Path, sub: str) -> None:
    directory = tmp_path / "store"
    store = Store(directory, keep=1)
    store.save({"arr": np.arange(1000.0)})
    store.save({"arr": np.arange(2000.0)})
    outside = outside_folder(tmp_path)
    before = user_files(outside)
    target = directory / sub if sub != "." else directory
    if sub == "blobs/ab":
        (directory / "blobs" / "ab").mkdir(exist_ok=True)
    if sub == ".":
        directory.rename(tmp_path / "real-store")
        outside = tmp_path / "real-store"
        before = user_files(outside)
    else:
        real = tmp_path / "moved"
        target.rename(real)
    target.symlink_to(outside, target_is_directory=True)
    for action in (
        lambda: Store(directory, keep=1).save({"arr": np.zeros(10)}),
        lambda: Store(directory).gc(keep=1),
        lambda: Store(directory).load(),
        lambda: Store(directory).delete(2),
    ):
        with pytest.raises(StoreUnsafe, match=r"refusing to use .*symbolic link") as caught:
            action()
        assert "\n" not in str(caught.value), "one line"
    assert user_files(outside) == before, "nothing outside the store was touched"


def test_a_directory_others_can_write_or_own_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    Store(directory).save({"x": 1})
    os.chmod(directory / "tmp", 0o777)
    with pytest.raises(StoreUnsafe, match=re.escape("writable by other users (mode 0o777)")):
        Store(directory).save({"x": 2})
    os.chmod(directory / "tmp", 0o700)
    if os.geteuid() == 0:
        os.chown(directory / "blobs", 65534, 65534)
        with pytest.raises(StoreUnsafe, match=r"belongs to another user \(uid 65534\)"):
            Store(directory).load()
        os.chown(directory / "blobs", 0, 0)
    assert Store(directory).load().values == {"x": 1}


def test_gc_removes_only_names_ipyckpt_gives_its_files(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    store = Store(directory, keep=1)
    store.save({"arr": np.arange(1000.0)})
    (directory / "blobs" / "notes.txt").write_text("mine")
    (directory / "blobs" / "ab").mkdir(exist_ok=True)
    (directory / "blobs" / "ab" / "README").write_text("mine")
    (directory / "tmp" / "keep.me").write_text("mine")
    (directory / "mine.txt").write_text("mine")
    (directory / "tmp" / "blob.0123456789abcdef.tmp").write_text("left by a killed save")
    ours = {p for p in (directory / "blobs").glob("*/*") if len(p.name) == 64}
    store.save({"arr": np.arange(5.0)})  # generation 1's blobs become garbage
    assert store.gc(keep=1).removed_generations == []
    for name in ("blobs/notes.txt", "blobs/ab/README", "tmp/keep.me", "mine.txt"):
        assert (directory / name).read_text() == "mine"
    assert not (directory / "tmp" / "blob.0123456789abcdef.tmp").exists()
    assert not any(p.exists() for p in ours), "generation 1's own blobs were collected"
    assert store.load().values["arr"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_destroy_removes_only_what_ipyckpt_created(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    store = Store(directory, keep=5)
    store.save({"arr": np.arange(1000.0)})
    store.save({"arr": np.arange(2000.0)})
    (directory / "blobs" / "notes.txt").write_text("mine")
    store.destroy()
    assert user_files(directory) == {
        "blobs/notes.txt": b"mine",
        "ipyckpt-store.json": ANY,
        "lock": ANY,
    }
    assert Store(directory).generations() == []
    (directory / "blobs" / "notes.txt").unlink()
    Store(directory).save({"x": 1})
    Store(directory).destroy()
    assert not directory.exists(), "an ipyckpt-only store goes entirely"
    Store(directory).save({"x": 1})
    outside = outside_folder(tmp_path)
    before = user_files(outside)
    (directory / "tmp").rename(tmp_path / "old-tmp")
    (directory / "tmp").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreUnsafe):
        Store(directory).destroy()
    assert user_files(outside) == before
