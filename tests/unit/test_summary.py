"""Variable summaries (what the JupyterLab panel shows), taken at save time into the manifest."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from ipyckpt import Store
from ipyckpt.store.summary import summarize


def test_summaries_read_like_a_variable_inspector() -> None:
    frame = pd.DataFrame({"a": range(1_000_000), "b": 0.0, "c": "x"})
    assert summarize(list(range(100_000))) == "list[100000]"
    assert summarize(frame) == "DataFrame 1,000,000 \N{MULTIPLICATION SIGN} 3"
    assert summarize(np.zeros(40_000)) == "ndarray float64 (40000,)"
    assert summarize(np.zeros((3, 4), dtype=np.int32)) == "ndarray int32 (3, 4)"
    assert summarize(frame["a"]) == "Series int64 [1,000,000]"
    assert summarize(True) == "bool"
    assert summarize({"k": 1}) == "dict[1]"
    assert summarize(np.float64(2.5)) == "float64"


def test_user_code_is_never_run_for_a_summary() -> None:
    """A user __len__ (or a shape property) may hang or raise: only the type's name is shown."""
    called = threading.Event()

    class Tricky(list[int]):
        def __len__(self) -> int:
            called.set()
            raise RuntimeError("boom")

    class Shaped:
        @property
        def shape(self) -> tuple[int, ...]:
            called.set()
            return (1,)

    assert summarize(Tricky()) == "Tricky"
    assert summarize(Shaped()) == "Shaped"
    assert not called.is_set()


def test_the_manifest_records_summaries_and_partial_saves_carry_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.save({"rows": list(range(5)), "flag": True, "gen": (i for i in range(3))})
    store.save({"flag": False, "arr": np.ones(7)}, names=["arr"])
    newest = store.generations()[0]
    assert newest.summaries == {
        "rows": "list[5]",
        "flag": "bool",
        "arr": "ndarray float64 (7,)",
    }, "carried variables keep the summary of the generation that wrote them; skipped have none"
    assert "gen" in store.generations()[0].skipped
    manifest = json.loads(next((tmp_path / "store" / "generations").glob("*2*")).read_text())
    assert manifest["variables"]["rows"][3] == "list[5]"  # [segment, index, written_by, summary]
