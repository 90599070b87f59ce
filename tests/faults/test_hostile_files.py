"""Hostile or damaged files in a store never abort anything: they are treated as corrupt.

Real files written into ``generations/`` (what a broken disk, a bad sync tool or another user
could leave) and a real corrupted signing key, read by the store API and by a running cell.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ipyckpt import CheckpointCorrupt, IpyckptError, Store


def manifest_doc(directory: Path, generation: int) -> dict[str, Any]:
    return json.loads((directory / "generations" / f"{generation:08d}.json").read_text())


def with_(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    def build(doc: dict[str, Any]) -> bytes:
        edit(doc)
        return json.dumps(doc).encode()

    return build


def _first_record(doc: dict[str, Any]) -> dict[str, Any]:
    """The first variable record, rewritten from the compact list form to the object form
    (the parser reads both) so that one field can be damaged by name."""
    records = next(iter(doc["segments"].values()))["variables"]
    if isinstance(records[0], list):
        name, kind, start, end, buffers, group = records[0]
        records[0] = dict(name=name, type=kind, span=[start, end], buffers=buffers, group=group)
    record: dict[str, Any] = records[0]
    return record


HOSTILE: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "segments-list": with_(lambda d: d.update(segments=[])),
    "1e400": lambda d: json.dumps(d).replace('"created": ', '"created": 1e400, "x": ').encode(),
    "NaN": lambda d: json.dumps(d).replace('"duration": ', '"duration": NaN, "x": ').encode(),
    "deep-nesting": lambda d: b'{"format": 2, "info": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    "negative-size": with_(
        lambda d: next(iter(d["segments"].values()))["pickle"].__setitem__(1, -5)
    ),
    "negative-span": with_(lambda d: _first_record(d).update(span=[10, -3])),
    "wrong-types": with_(lambda d: d.update(generation="9", variables=["x"])),
    "bool-as-int": with_(lambda d: _first_record(d).update(group=True)),
    "name-not-string": with_(lambda d: _first_record(d).update(name=5)),
    "5000-digit-int": lambda d: (
        json.dumps(d)
        .replace('"bytes_written": ', '"bytes_written": ' + "9" * 5000 + ', "x": ')
        .encode()
    ),
    "json-list": lambda d: b"[1, 2, 3]",
    "binary": lambda d: os.urandom(4096),
    "empty": lambda d: b"",
    "huge": lambda d: b'{"format": 2, "pad": "' + b"x" * (65 << 20) + b'"}',
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_manifest_is_skipped_as_corrupt(tmp_path: Path, kind: str) -> None:
    directory = tmp_path / "s"
    store = Store(directory, keep=2)
    store.save({"x": 1, "tag": "good"})
    hostile = HOSTILE[kind](manifest_doc(directory, 1))
    for gid in (7, 8, 9):  # newer than every good generation
        (directory / "generations" / f"{gid:08d}.json").write_bytes(hostile)
    assert Store(directory).load().values["tag"] == "good"
    assert Store(directory).load(trust=True).values["tag"] == "good"
    infos = store.generations()
    assert [i.id for i in infos] == [9, 8, 7, 1] and all(i.problem for i in infos[:3])
    problems = store.verify().problems
    assert {p.generation for p in problems} == {7, 8, 9}
    assert all("\n" not in p.message for p in problems)
    with pytest.raises(CheckpointCorrupt):
        store.load(generation=9, trust=True)
    for k in range(2, 5):  # periodic snapshots go on; the hostile files never push good ones out
        assert store.save({"x": k, "tag": "good"}).generation == 9 + k - 1
    assert Store(directory).load().values["x"] == 4
    assert [i.id for i in store.generations()] == [12, 11], "keep=2 good ones; older files go"


def test_a_symlink_or_directory_named_like_a_manifest_is_corrupt(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    store = Store(directory)
    store.save({"x": 1})
    (directory / "generations" / "00000008.json").symlink_to(manifest_doc.__code__.co_filename)
    (directory / "generations" / "00000009.json").mkdir()
    (directory / "generations" / ("1" * 200 + ".json")).write_text("{}")
    assert Store(directory).load().values == {"x": 1}
    assert [p.generation for p in store.verify().problems] == [9, 8]
    assert store.save({"x": 2}).generation == 10


def test_a_corrupt_signing_key_is_one_clear_line(
    tmp_path: Path, private_jupyter_dirs: Path
) -> None:
    Store(tmp_path / "s").save({"x": 1})
    key = next(private_jupyter_dirs.rglob("signing.key"))
    for damage in (b"\xff\xfe not hex", b"abcd", b"zz" * 32):
        key.write_bytes(damage)
        for action in (
            lambda: Store(tmp_path / "s").save({"x": 2}),
            lambda: Store(tmp_path / "s").load(),
        ):
            with pytest.raises(IpyckptError, match=r"signing key .* is damaged") as caught:
                action()
            assert "\n" not in str(caught.value) and "move it away" in str(caught.value)
