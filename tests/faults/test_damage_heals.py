"""Damage heals and degrades per variable: real files with real flipped bytes.

A damaged blob is never trusted again (the next save writes it anew), and it loses only the
variables that use it; they come back from the newest older generation with a good copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipyckpt import CheckpointCorrupt, Store
from ipyckpt.store import manifest


def buffer_blob_of(directory: Path, generation: int, name: str) -> Path:
    """The blob file of the first chunk of variable ``name``'s first out-of-band buffer in ``generation``."""
    path = directory / "generations" / f"{generation:08d}.json"
    digest = (
        manifest.decode(path.read_bytes(), None, where=str(path))[0]
        .record(name)
        .buffers[0]
        .chunks[0]
        .hash
    )
    return directory / "blobs" / digest[:2] / digest


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fresh_process", [False, True], ids=["same-store", "new-store"])
def test_a_flipped_byte_is_healed_by_the_next_save(tmp_path: Path, fresh_process: bool) -> None:
    directory = tmp_path / "s"
    store = Store(directory, keep=3)
    weights = np.arange(200_000.0)
    store.save({"weights": weights, "step": 1})
    flip_byte(buffer_blob_of(directory, 1, "weights"))
    if fresh_process:
        Store.__init__(store, directory, keep=3)  # nothing known about the blobs any more
    for step in range(2, 6):  # the same array, saved four more times; keep=3 rotates gen 1 out
        report = store.save({"weights": weights, "step": step})
        if step == 2:
            assert report.bytes_written >= weights.nbytes, "the damaged blob was written again"
    verified = store.verify()
    assert verified.ok, str(verified)
    for info in store.generations():
        values = store.load(generation=info.id).values
        assert np.array_equal(values["weights"], weights)


def test_load_and_verify_move_a_damaged_blob_aside_so_the_next_save_rewrites_it(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "s"
    store = Store(directory)
    arr = np.full(100_000, 7.0)
    store.save({"arr": arr})
    blob = buffer_blob_of(directory, 1, "arr")
    flip_byte(blob)
    assert not Store(directory).verify().ok
    assert not blob.exists(), "verify moved the damaged blob aside"
    assert len(list((directory / "tmp").iterdir())) == 1
    Store(directory).save({"arr": arr})
    assert blob.exists() and Store(directory).load().values["arr"][0] == 7.0
    assert list((directory / "tmp").iterdir()) == [], "the next gc removed it"


def test_each_damaged_variable_comes_from_the_newest_older_good_copy(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store = Store(directory, keep=5)
    for k in (1, 2, 3):
        shared = np.full(50_000, float(k))
        store.save(
            {"a": shared, "b": {"a": shared}, "c": np.full(60_000, 10.0 * k), "tag": f"gen{k}"}
        )
    flip_byte(buffer_blob_of(directory, 3, "a"))  # a, and b which shares its array
    flip_byte(buffer_blob_of(directory, 2, "a"))  # generation 2's copy is damaged too
    report = Store(directory, keep=5).load()
    values: dict[str, Any] = report.values
    assert report.generation == 3
    assert values["tag"] == "gen3" and values["c"][0] == 30.0, "intact: from generation 3"
    assert values["a"][0] == 1.0 and values["b"]["a"] is values["a"], "from generation 1"
    assert report.sources == {"a": 1, "b": 1}
    assert "a restored from generation 1" in str(report)
    with pytest.raises(CheckpointCorrupt, match="generation 3"):
        Store(directory).load(generation=3)


def test_a_blob_damaged_in_every_generation_loses_only_its_variable(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store = Store(directory, keep=5)
    frozen = np.arange(80_000.0)  # unchanged: every generation shares its blob
    store.save({"frozen": frozen, "k": 1})
    store.save({"frozen": frozen, "k": 2})
    flip_byte(buffer_blob_of(directory, 2, "frozen"))
    report = Store(directory).load()
    assert report.generation == 2 and report.values == {"k": 2}
    assert "no older generation has a good copy" in report.failed["frozen"]


def test_in_a_real_kernel_the_next_snapshot_heals_a_flipped_byte(open_kernel: Any) -> None:
    k = open_kernel()
    directory = k.notebook.parent / ".ipyckpt" / k.notebook.name
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\nimport numpy as np\nweights = np.arange(200_000.0)\nstep = 0")
    flip_byte(buffer_blob_of(directory, 1, "weights"))  # bit rot after the kernel wrote it
    k.run("%%checkpoint\nstep = 1")  # weights unchanged: its blob is reused only if good
    verified = Store(directory).verify()
    assert verified.ok, f"the rewritten blob heals both generations: {verified}"
    k.kill()
    k2 = open_kernel(k.notebook.name)
    restored = k2.run("%load_ext ipyckpt")
    assert "from state checkpoint 2" in restored.stdout, restored.text
    k2.run("import numpy as np")
    assert k2.value("(step, bool((weights == np.arange(200_000.0)).all()))") == (1, True)
