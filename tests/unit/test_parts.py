"""Parts: large containers of atoms are not pickled again while unchanged, and no change is
ever missed (ipyckpt.store.parts)."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ipyckpt import Store
from ipyckpt.store.parts import MIN_ITEMS, PartCache

N = MIN_ITEMS + 5


class Label(str):
    """A str subclass: equal to the str it was made from, but not an atom."""


def _namespace() -> dict[str, Any]:
    return {
        "tokens": [f"token{i}" for i in range(N)],
        "table": {f"k{i}": (i, f"v{i}", float(i)) for i in range(N)},
        "labels": np.array([f"label-{i}" for i in range(N)], dtype=object),
        "small": [1, 2, 3],
    }


def _saved_and_restored(store: Store, ns: dict[str, Any], cache: PartCache) -> dict[str, Any]:
    store.save(ns, parts=cache)
    return store.load().values


def test_an_unchanged_resave_reuses_every_part_without_pickling(tmp_path: Path) -> None:
    store, cache, ns = Store(tmp_path / "s"), PartCache(), _namespace()
    first = store.save(ns, parts=cache)
    assert (first.parts_pickled, first.parts_reused) == (3, 0)
    again = store.save(ns, parts=cache)
    assert (again.parts_pickled, again.parts_reused) == (0, 3)
    restored = store.load().values
    assert restored["tokens"] == ns["tokens"] and restored["table"] == ns["table"]
    assert restored["labels"].tolist() == ns["labels"].tolist()


def test_a_store_without_the_part_blob_pickles_it_again(tmp_path: Path) -> None:
    cache, ns = PartCache(), {"tokens": [f"t{i}" for i in range(N)]}
    Store(tmp_path / "a").save(ns, parts=cache)
    other = Store(tmp_path / "b").save(ns, parts=cache)  # another store: the blob is not there
    assert (other.parts_pickled, other.parts_reused) == (1, 0)
    assert Store(tmp_path / "b").load().values["tokens"] == ns["tokens"]


def _mutate_list(ns: dict[str, Any]) -> None:
    ns["tokens"].append("appended")


def _mutate_dict(ns: dict[str, Any]) -> None:
    ns["table"].update({"k3": (3, "changed", 3.0)})


def _reorder_dict(ns: dict[str, Any]) -> None:
    ns["table"]["k0"] = ns["table"].pop("k0")  # same items, another order


def _write_array(ns: dict[str, Any]) -> None:
    ns["labels"][7] = "x"


def _write_through_view(ns: dict[str, Any]) -> None:
    view = ns["labels"][5:10]
    view[0] = "through a view"


def _reshape_in_place(ns: dict[str, Any]) -> None:
    ns["labels"].shape = (N // 5, 5) if N % 5 == 0 else (1, N)


@pytest.mark.parametrize(
    "mutate",
    [_mutate_list, _mutate_dict, _reorder_dict, _write_array, _write_through_view],
    ids=lambda f: f.__name__,
)
def test_an_in_place_change_is_never_missed(tmp_path: Path, mutate: Any) -> None:
    store, cache, ns = Store(tmp_path / "s"), PartCache(), _namespace()
    store.save(ns, parts=cache)
    mutate(ns)
    restored = _saved_and_restored(store, ns, cache)
    assert restored["tokens"] == ns["tokens"]
    assert list(restored["table"].items()) == list(ns["table"].items())
    assert restored["labels"].tolist() == ns["labels"].tolist()


def test_a_reshaped_object_array_is_pickled_again(tmp_path: Path) -> None:
    store, cache, ns = Store(tmp_path / "s"), PartCache(), _namespace()
    store.save(ns, parts=cache)
    _reshape_in_place(ns)
    restored = _saved_and_restored(store, ns, cache)
    assert restored["labels"].shape == ns["labels"].shape


def _kind(value: object) -> tuple[type, str]:
    return type(value), repr(value)


@pytest.mark.parametrize(
    ("before", "after"),
    [(1, 1.0), (1.0, True), (True, 1), (0.0, -0.0), ("a", Label("a")), (b"a", "a")],
    ids=["1->1.0", "1.0->True", "True->1", "0.0->-0.0", "str->subclass", "bytes->str"],
)
def test_an_equal_value_of_another_type_is_never_missed(
    tmp_path: Path, before: object, after: object
) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    items = [before] * N
    array = np.empty(N, dtype=object)
    array[:] = items
    ns = {"items": items, "array": array, "mapping": dict.fromkeys(range(N), before)}
    store.save(ns, parts=cache)
    items[N // 2] = after
    array[N // 2] = after
    ns["mapping"][N // 2] = after
    restored = _saved_and_restored(store, ns, cache)
    for name in ("items", "array", "mapping"):
        got = restored[name][N // 2]
        assert _kind(got) == _kind(after), name
        if isinstance(after, float):
            assert math.copysign(1, got) == math.copysign(1, after)


def test_a_dataframe_string_column_changed_with_loc_is_never_missed(tmp_path: Path) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    frame = pd.DataFrame({"x": np.arange(N) * 1.0, "label": [f"s-{i}" for i in range(N)]})
    ns = {"frame": frame}
    first = store.save(ns, parts=cache)
    assert first.parts_pickled == 1  # the label column's object array is a part
    assert store.save(ns, parts=cache).parts_reused == 1
    frame.loc[3, "label"] = "changed"
    frame.loc[4, "label"] = None
    restored = _saved_and_restored(store, ns, cache)["frame"]
    pd.testing.assert_frame_equal(restored, frame)


def test_a_thread_writing_during_saves_is_never_missed(tmp_path: Path) -> None:
    """A thread replaces elements while saves run; after it stops, one more save must hold
    exactly the final list (a part checked against a copy taken after pickling would not)."""
    store, cache = Store(tmp_path / "s"), PartCache()
    tokens = [f"token{i}" for i in range(N * 4)]
    ns = {"tokens": tokens}
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            tokens[n % len(tokens)] = f"written-{n}"

    writer = threading.Thread(target=write)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns as often as the interpreter allows
    writer.start()
    try:
        for _ in range(15):
            store.save(ns, parts=cache)
    finally:
        stop.set()
        writer.join()
        sys.setswitchinterval(interval)
    assert _saved_and_restored(store, ns, cache)["tokens"] == tokens


class _WritesFromAThread:
    """Pickled after ``tokens``: its ``__reduce__`` has a thread write into ``tokens``."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def __reduce__(self) -> tuple[Any, ...]:
        def write() -> None:
            self.tokens[0] = "written by a thread during the save"

        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
        return (str, ("done",))


def test_a_thread_writing_after_the_part_was_saved_is_seen_by_the_next_save(
    tmp_path: Path,
) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    tokens = [f"token{i}" for i in range(N)]
    store.save({"tokens": tokens}, parts=cache)
    before = list(tokens)
    store.save({"tokens": tokens, "z": _WritesFromAThread(tokens)}, parts=cache)
    assert store.load().values["tokens"] == before  # the write came after tokens was saved
    assert _saved_and_restored(store, {"tokens": tokens}, cache)["tokens"] == tokens


def test_shared_parts_stay_shared_and_equal_ones_stay_distinct(tmp_path: Path) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    a = [f"t{i}" for i in range(N)]
    ns = {"a": a, "b": {"x": a, "y": list(a)}}  # one group: b shares a
    for _ in range(2):
        restored = _saved_and_restored(store, ns, cache)
        assert restored["b"]["x"] is restored["a"]
        assert restored["b"]["y"] == restored["a"] and restored["b"]["y"] is not restored["a"]


def test_mutable_elements_are_never_parts(tmp_path: Path) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    rows = [[i] for i in range(N)]
    ns = {"rows": rows, "pairs": [(i, [i]) for i in range(N)]}
    assert store.save(ns, parts=cache).parts_pickled == 0
    rows[0].append("inner")
    ns["pairs"][0][1].append("inner")
    restored = _saved_and_restored(store, ns, cache)
    assert restored["rows"][0] == [0, "inner"] and restored["pairs"][0][1] == [0, "inner"]


def test_a_format_3_store_is_read_and_written_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipyckpt.store import manifest

    ns = _namespace()
    with monkeypatch.context() as patch:  # a store written before parts (format 3)
        patch.setattr(manifest, "FORMAT_VERSION", 3)
        Store(tmp_path / "s").save(ns)
    marker = (tmp_path / "s" / "ipyckpt-store.json").read_text()
    assert '"version": 3' in marker
    store, cache = Store(tmp_path / "s"), PartCache()
    assert store.load().values["tokens"] == ns["tokens"]
    assert store.save(ns, parts=cache).parts_pickled == 3
    for generation in (1, 2):
        assert store.load(generation=generation).values["tokens"] == ns["tokens"]


def test_parts_inside_a_variable_only_dill_can_pickle(tmp_path: Path) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    tokens = [f"t{i}" for i in range(N)]
    ns = {"pair": (lambda x: x + 1, tokens)}  # a lambda: pickled by dill
    assert store.save(ns, parts=cache).parts_pickled == 1
    assert store.save(ns, parts=cache).parts_reused == 1
    tokens.append("more")
    restored = _saved_and_restored(store, ns, cache)["pair"]
    assert restored[0](1) == 2 and restored[1] == tokens


def test_a_damaged_part_blob_is_written_again_by_the_next_save(tmp_path: Path) -> None:
    store, cache = Store(tmp_path / "s"), PartCache()
    ns = {"tokens": [f"t{i}" for i in range(N)]}
    first = store.save(ns, parts=cache)
    (part,) = store._read_manifest(first.generation, trust=False)[0].record("tokens").parts
    path = tmp_path / "s" / "blobs" / part.hash[:2] / part.hash
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit on disk
    path.write_bytes(bytes(data))  # (no load noticed it yet)
    again = store.save(ns, parts=cache)
    assert (again.parts_pickled, again.parts_reused) == (1, 0)
    assert Store(tmp_path / "s").load().values["tokens"] == ns["tokens"]
