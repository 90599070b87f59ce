"""Round trips through a real store, restoring in a fresh interpreter where it matters."""

from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import Store, StoreFormatError
from ipyckpt.store.errors import NoCheckpoint
from tests.conftest import run_python

SAVE_NOTEBOOK_OBJECTS = """
import sys, numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression
from ipyckpt import Store

def make_counter(start):
    count = [start]
    def bump():
        count[0] += 1
        return count[0]
    return bump

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm2(self):
        return self.x ** 2 + self.y ** 2

square = lambda v: v * v
shared = [1, 2]
holder = {"x": shared, "again": shared}
arr = np.arange(100_000, dtype=np.float64)
fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
frame = pd.DataFrame({"n": np.arange(1000), "s": [f"row{i}" for i in range(1000)]})
model = LinearRegression().fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
counter = make_counter(10)
counter()
pt = Point(3, 4)
points = [pt, pt]
params = [np.zeros(3)]
net = Point(params, 1)
optim = {"lr": 0.1, "params": params}
mod = np
ns = {k: v for k, v in globals().items() if not k.startswith("__") and k not in ("sys", "Store", "pd", "LinearRegression")}
print(Store(sys.argv[1]).save(ns))
"""

LOAD_AND_CHECK = """
import sys, numpy as np
from ipyckpt import Store
r = Store(sys.argv[1]).load()
v = r.values
assert not r.failed, r.failed
assert v["square"](7) == 49
assert v["counter"]() == 12, "closure state was restored"
assert v["pt"].norm2() == 25 and type(v["pt"]).__name__ == "Point"
assert v["points"][0] is v["points"][1] is v["pt"], "aliasing inside and across variables"
assert v["holder"]["x"] is v["shared"] and v["holder"]["again"] is v["shared"]
assert v["optim"]["params"] is v["net"].x is v["params"], "sharing across dill and C pickles"
assert v["mod"] is np, "modules are stored by reference"
assert np.array_equal(v["arr"], np.arange(100_000.0)) and v["arr"].flags.writeable
assert v["fortran"].flags.f_contiguous and v["fortran"][2, 3] == 11.0
assert v["frame"]["s"][999] == "row999" and v["frame"]["n"].sum() == 499500
assert abs(v["model"].predict(np.array([[4.0, 5.0]]))[0] - 2.0) < 1e-9
assert isinstance(v["make_counter"](0), type(lambda: 0))
print("OK", sorted(v))
"""


def test_round_trip_of_notebook_objects_in_a_fresh_process(tmp_path: Path) -> None:
    store = tmp_path / "store"
    saved = run_python(SAVE_NOTEBOOK_OBJECTS, str(store))
    assert "skipped" not in saved.stdout
    loaded = run_python(LOAD_AND_CHECK, str(store))
    assert loaded.stdout.startswith("OK")


def test_only_variables_sharing_objects_are_grouped(tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    shared = {"k": 1}
    ns = {
        "a": np.arange(10.0),
        "b": np.arange(5, dtype=np.int32),
        "frame": pd.DataFrame({"n": np.arange(3), "s": list("xyz")}),
        "frame2": pd.DataFrame({"n": np.arange(3.0)}),
        "model": LinearRegression().fit(np.arange(8.0).reshape(4, 2), np.arange(4.0)),
        "model2": LinearRegression(),
        "f": lambda x: x,
        "one": shared,
        "two": [shared],
        "words": ["a", "b"],
    }
    Store(tmp_path / "s").save(ns)
    m = Store(tmp_path / "s")._read_manifest(1, trust=False)[0]
    groups = {name: m.record(name).group for name in m.variables}
    assert groups["one"] == groups["two"]
    alone = [n for n in ns if n not in ("one", "two")]
    assert len({groups[n] for n in alone}) == len(alone), groups


def test_unpicklable_variables_are_skipped_with_reasons_and_others_saved(tmp_path: Path) -> None:
    sock = socket.socket()
    ns = {
        "gen": (i for i in range(3)),
        "thread": threading.Thread(target=print),
        "sock": sock,
        "nested": {"inner": sock},
        "scratch": tempfile.TemporaryFile(),
        "ok": [1, 2, 3],
    }
    report = Store(tmp_path / "s").save(ns)
    sock.close()
    ns["scratch"].close()
    assert report.saved == ["ok"]
    assert "generator" in report.skipped["gen"]
    assert "thread" in report.skipped["thread"]
    assert "socket" in report.skipped["sock"]
    assert report.skipped["nested"].startswith("cannot pickle 'socket.socket'")
    assert "open file without a path" in report.skipped["scratch"], (
        "an open file is never pickled by value: without a path it cannot be reopened"
    )
    assert "sock: cannot pickle 'socket.socket'" in str(report)
    assert Store(tmp_path / "s").load().values == {"ok": [1, 2, 3]}


def test_a_variable_failing_midway_does_not_break_shared_objects(tmp_path: Path) -> None:
    shared = {"k": 1}

    class Exploding:
        def __reduce__(self) -> tuple[object, ...]:
            raise RuntimeError("boom")

    ns = {"a": shared, "bad": [shared, Exploding()], "c": [shared]}
    report = Store(tmp_path / "s").save(ns)
    assert report.skipped == {"bad": "RuntimeError: boom"}
    values = Store(tmp_path / "s").load().values
    assert values["c"][0] is values["a"] == {"k": 1}


def test_partial_save_carries_forward_and_records_deletions(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    big = np.ones(1_000_000)
    store.save({"big": big, "x": 1, "y": 2})
    blobs_before = sorted(p.name for p in (tmp_path / "s" / "blobs").glob("*/*"))
    report = store.save({"x": 10, "big": big}, names=["x", "y"])
    assert report.saved == ["x"]
    assert report.deleted == ["y"]
    assert report.carried == ["big"]
    assert report.bytes_written < 1000, "the big array was carried forward, not rewritten"
    assert Store(tmp_path / "s").load().values.keys() == {"big", "x"}
    assert Store(tmp_path / "s").load().values["x"] == 10
    assert Store(tmp_path / "s").load(generation=1).values["y"] == 2
    blobs_after = sorted(p.name for p in (tmp_path / "s" / "blobs").glob("*/*"))
    assert set(blobs_before) <= set(blobs_after)


def test_full_save_records_deleted_names_and_unchanged_buffers_are_not_rewritten(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s")
    arr = np.arange(2_000_000.0)
    first = store.save({"arr": arr, "gone": 1})
    second = store.save({"arr": arr})
    assert first.bytes_written > arr.nbytes
    assert second.bytes_written < 10_000
    assert second.deleted == ["gone"]
    assert "gone" not in store.load().values


def test_keep_prunes_old_generations_and_gc_removes_unreferenced_blobs(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", keep=2)
    for i in range(5):
        store.save({"arr": np.full(10_000, float(i))})
    assert [g.id for g in store.generations()] == [5, 4]
    blobs = list((tmp_path / "s" / "blobs").glob("*/*"))
    # the pickle segments are byte-identical (only the out-of-band buffer differs), so the two
    # kept generations share one segment blob and own one buffer blob each
    assert len(blobs) == 3, "older generations' buffers were collected"
    report = store.gc(keep=1)
    assert report.removed_generations == [4]
    assert report.removed_blobs == 1
    assert store.load().values["arr"][0] == 4.0
    with pytest.raises(NoCheckpoint):
        store.load(generation=4)


def test_load_selected_names_and_report_missing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    shared = [1]
    store.save({"a": shared, "b": {"x": shared}, "c": 3})
    report = store.load(names=["b", "nope"])
    assert report.values == {"b": {"x": [1]}}
    assert report.failed == {"nope": "not in generation 1"}


def test_variable_that_cannot_be_restored_is_reported_and_others_load(tmp_path: Path) -> None:
    code = """
    import sys
    from ipyckpt import Store
    import tests_tmp_mod
    shared = [1]
    print(Store(sys.argv[1]).save({"obj": tests_tmp_mod.Thing(), "a": shared, "b": [shared]}))
    """
    moddir = tmp_path / "mod"
    moddir.mkdir()
    (moddir / "tests_tmp_mod.py").write_text("class Thing:\n    pass\n")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{moddir}:{env_path}"
    try:
        run_python(code, str(tmp_path / "s"))
    finally:
        os.environ["PYTHONPATH"] = env_path
    report = Store(tmp_path / "s").load()
    assert "tests_tmp_mod" in report.failed["obj"]
    assert report.values["b"][0] is report.values["a"]


def test_invalid_names_are_rejected(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    with pytest.raises(ValueError, match=re.escape("'../etc'")):
        store.save({"x": 1}, names=["../etc"])
    with pytest.raises(ValueError, match="'a/b'"):
        store.load(names=["a/b"])
    report = store.save({"ok": 1, "a/b": 2})
    assert report.skipped == {"a/b": "not a valid Python identifier"}


def test_not_a_store_and_newer_format_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(StoreFormatError, match="not an ipyckpt checkpoint store"):
        Store(tmp_path / "other")
    Store(tmp_path / "s").save({"x": 1})
    (tmp_path / "s" / "ipyckpt-store.json").write_text('{"format": "ipyckpt-store", "version": 99}')
    with pytest.raises(StoreFormatError, match=r"store format 99.*reads format 4"):
        Store(tmp_path / "s")


def test_newer_manifest_format_is_named(tmp_path: Path) -> None:
    import json

    Store(tmp_path / "s").save({"x": 1})
    path = tmp_path / "s" / "generations" / "00000001.json"
    doc = json.loads(path.read_text())
    doc["format"] = 7
    path.write_text(json.dumps(doc))
    with pytest.raises(StoreFormatError, match=r"format 7.*reads format 4"):
        Store(tmp_path / "s").load()


def test_files_are_private(tmp_path: Path, private_jupyter_dirs: Path) -> None:
    Store(tmp_path / "s").save({"x": np.arange(10.0)})
    for path in [tmp_path / "s", *(tmp_path / "s").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{path} has mode {oct(mode)}"
    key = next(private_jupyter_dirs.rglob("signing.key"))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_generations_describe_each_save(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"x": 1, "gen": (i for i in range(3))}, trigger="periodic")
    info = store.generations()[0]
    assert info.trigger == "periodic"
    assert info.variables == {"x": "builtins.int"}
    assert "gen" in info.skipped
    assert info.bytes > 0 and info.duration >= 0 and info.time > 0


def test_empty_store_has_no_checkpoint(tmp_path: Path) -> None:
    store = Store(tmp_path / "nothing")
    assert store.generations() == []
    with pytest.raises(NoCheckpoint, match="no state checkpoint"):
        store.load()
    assert not (tmp_path / "nothing").exists(), "reading never creates a store"


def test_delete_one_generation_keeps_blobs_others_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", keep=5)
    shared = np.arange(50_000.0)
    store.save({"a": shared, "b": np.ones(40_000)})
    store.save({"a": shared, "b": np.zeros(40_000)})
    report = store.delete(2)
    assert store.generation_ids() == [1]
    assert report.removed_blobs >= 1  # generation 2's own zeros and segment
    restored = store.load().values
    assert np.array_equal(restored["a"], shared) and restored["b"][0] == 1.0
    with pytest.raises(NoCheckpoint, match="generation 7 does not exist"):
        store.delete(7)


def test_a_first_save_killed_before_the_marker_leaves_a_usable_directory(tmp_path: Path) -> None:
    empty = tmp_path / "s"
    empty.mkdir()  # killed right after creating the directory
    Store(empty).save({"x": 1})
    assert Store(empty).load().values == {"x": 1}
    half = tmp_path / "h"
    half.mkdir()  # killed while writing the marker (written before anything else)
    (half / "ipyckpt-store.json.0123456789abcdef.tmp").write_bytes(b'{"form')
    Store(half).save({"x": 2})
    assert sorted(p.name for p in half.iterdir()) == [
        "blobs",
        "generations",
        "ipyckpt-store.json",
        "lock",
        "tmp",
    ]
    (tmp_path / "t" / "generations").mkdir(parents=True)
    (tmp_path / "t" / "generations" / "00000001.json").write_text("{}")
    with pytest.raises(StoreFormatError, match="not an ipyckpt checkpoint store"):
        Store(tmp_path / "t")


def test_progress_reaches_every_byte_written_including_background_buffers(tmp_path: Path) -> None:
    seen: list[int] = []
    report = Store(tmp_path / "s").save(
        {"big": np.arange(4_000_000.0), "small": [1, 2, 3]}, progress=seen.append
    )
    assert seen == sorted(seen), "progress never goes backwards"
    assert seen[-1] == report.bytes_written > 32_000_000
