"""Damaged and tampered checkpoints are detected, refused, and the older good one is used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import CheckpointCorrupt, CheckpointUntrusted, Store
from ipyckpt.cli import main as cli
from ipyckpt.store import manifest


def two_generations(directory: Path) -> Store:
    """A store with generation 1 (value 1.0) and generation 2 (value 2.0), no shared blobs."""
    store = Store(directory)
    store.save({"arr": np.full(50_000, 1.0), "tag": "one"})
    store.save({"arr": np.full(50_000, 2.0), "tag": "two"})
    return store


def newest_only_blobs(store: Store) -> list[Path]:
    """Blob files referenced by generation 2 but not by generation 1."""
    paths = sorted((store.directory / "generations").iterdir())
    docs = [manifest.decode(p.read_bytes(), None, where=str(p))[0] for p in paths]
    only = set(docs[1].blobs()) - set(docs[0].blobs())
    return sorted(p for p in (store.directory / "blobs").glob("*/*") if p.name in only)


def largest(paths: list[Path]) -> Path:
    return max(paths, key=lambda p: p.stat().st_size)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage", [truncate, flip_byte, Path.unlink], ids=["truncated", "flipped", "missing"]
)
def test_a_damaged_blob_loses_only_its_variable_which_comes_from_the_older_generation(
    tmp_path: Path, damage, capsys: pytest.CaptureFixture[str]
) -> None:
    store = two_generations(tmp_path / "s")
    damage(largest(newest_only_blobs(store)))  # generation 2's array
    report = Store(tmp_path / "s").load()
    assert report.generation == 2
    assert report.values["tag"] == "two", "the intact variable comes from the newest generation"
    assert report.values["arr"][0] == 1.0, "the damaged one from the older generation"
    assert report.sources == {"arr": 1}
    assert report.notes and "arr restored from generation 1" in report.notes[0]
    assert "damaged" in report.notes[0] or "missing" in report.notes[0]
    assert "arr restored from generation 1" in str(report)
    with pytest.raises(CheckpointCorrupt):
        store.load(generation=2)
    verified = store.verify()
    assert not verified.ok
    assert {p.generation for p in verified.problems} == {2}
    assert cli(["verify", str(tmp_path / "s")]) == 1
    assert "generation 2" in capsys.readouterr().out


def test_damaged_segment_pickle_is_detected(tmp_path: Path) -> None:
    store = two_generations(tmp_path / "s")
    smallest = min(newest_only_blobs(store), key=lambda p: p.stat().st_size)
    flip_byte(smallest)
    assert Store(tmp_path / "s").load().generation == 1


def test_unreadable_manifest_falls_back(tmp_path: Path) -> None:
    store = two_generations(tmp_path / "s")
    (tmp_path / "s" / "generations" / "00000002.json").write_text('{"format": 1, "gener')
    report = store.load()
    assert report.generation == 1
    assert "unreadable" in report.notes[0]
    assert store.generations()[0].problem


def test_every_generation_damaged_is_an_error_listing_each(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"arr": np.full(1000, 1.0)})
    for blob in (tmp_path / "s" / "blobs").glob("*/*"):
        flip_byte(blob)
    with pytest.raises(CheckpointCorrupt, match="generation 1"):
        store.load()


def edit_manifest(directory: Path, generation: int, edit) -> None:
    path = directory / "generations" / f"{generation:08d}.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_edited_manifest_is_refused_unless_trusted(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"x": 1})

    def rename_var(doc: dict) -> None:
        doc["variables"]["y"] = doc["variables"].pop("x")

    edit_manifest(tmp_path / "s", 1, rename_var)
    with pytest.raises(CheckpointUntrusted, match="modified since it was signed"):
        store.load()
    report = store.load(trust=True)
    assert report.values == {"y": 1}
    assert report.trusted is False


def test_swapped_blob_with_matching_manifest_edit_is_refused(tmp_path: Path) -> None:
    """An attacker replaces the data and updates the hash: the signature no longer matches."""
    store = two_generations(tmp_path / "s")
    first_gen = json.loads((tmp_path / "s" / "generations" / "00000001.json").read_text())

    def point_at_old_segment(doc: dict) -> None:
        doc["segments"] = first_gen["segments"]
        doc["variables"] = first_gen["variables"]

    edit_manifest(tmp_path / "s", 2, point_at_old_segment)
    report = store.load()
    assert report.generation == 1, "the tampered generation 2 was refused"
    assert "modified since it was signed" in report.notes[0]
    with pytest.raises(CheckpointUntrusted):
        store.load(generation=2)


def test_swapped_blob_content_is_detected(tmp_path: Path) -> None:
    store = two_generations(tmp_path / "s")
    new_blob = largest(newest_only_blobs(store))
    old_blob = next(
        p
        for p in (tmp_path / "s" / "blobs").glob("*/*")
        if p not in newest_only_blobs(store) and p.stat().st_size == new_blob.stat().st_size
    )
    new_blob.write_bytes(old_blob.read_bytes())
    report = store.load()
    assert report.generation == 2 and report.sources == {"arr": 1}
    assert report.values["tag"] == "two" and report.values["arr"][0] == 1.0
    assert "content changed" in report.notes[0]


def test_unsigned_and_foreign_key_checkpoints_are_refused(tmp_path: Path) -> None:
    Store(tmp_path / "mine").save({"x": 1})
    Store(tmp_path / "theirs", key=b"k" * 32).save({"x": 2})
    with pytest.raises(CheckpointUntrusted, match="signed by another key"):
        Store(tmp_path / "theirs").load()
    assert Store(tmp_path / "theirs").load(trust=True).values == {"x": 2}

    def unsign(doc: dict) -> None:
        del doc["signature"]

    edit_manifest(tmp_path / "mine", 1, unsign)
    with pytest.raises(CheckpointUntrusted, match="not signed"):
        Store(tmp_path / "mine").load()


def test_blob_names_from_a_trusted_manifest_cannot_escape_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"x": 1})

    def escape(doc: dict) -> None:
        seg = next(iter(doc["segments"].values()))
        seg["pickle"][0] = "../../../../etc/passwd"

    edit_manifest(tmp_path / "s", 1, escape)
    with pytest.raises(CheckpointCorrupt, match="invalid blob name"):
        store.load(trust=True)
