"""Parts with the forked saver (real forks): the parent learns which parts its children wrote,
an unchanged re-save pickles none, and a change made while a child writes is never missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ipyckpt import Store
from ipyckpt.background import BackgroundReport, ForkedSaver
from ipyckpt.store.parts import MIN_ITEMS
from ipyckpt.store.reports import SaveReport
from tests.unit.test_background import Gate, request

N = MIN_ITEMS + 5


def _background(saver: ForkedSaver, store: Store, ns: dict[str, Any]) -> SaveReport:
    assert isinstance(saver.save(request(store, ns)), BackgroundReport)
    outcome = saver.wait(timeout=120)
    assert outcome is not None and outcome.report is not None, outcome
    return outcome.report


def _namespace() -> dict[str, Any]:
    return {
        "tokens": [f"token{i}" for i in range(N)],
        "labels": np.array([f"label-{i}" for i in range(N)], dtype=object),
    }


def test_the_third_unchanged_background_snapshot_pickles_no_part(tmp_path: Path) -> None:
    store, saver, ns = Store(tmp_path / "s"), ForkedSaver(unavailable=lambda: None), _namespace()
    first = _background(saver, store, ns)  # the child pickles; the parent finds the containers
    second = _background(saver, store, ns)  # pickled again from the copies taken at this fork
    third = _background(saver, store, ns)
    assert (first.parts_pickled, second.parts_pickled) == (2, 2)
    assert (third.parts_pickled, third.parts_reused) == (0, 2)
    values = store.load().values
    assert values["tokens"] == ns["tokens"]
    assert values["labels"].tolist() == ns["labels"].tolist()


def _change(ns: dict[str, Any]) -> None:
    ns["tokens"].append("appended while the child writes")
    ns["labels"][3] = 3  # an int where a str was


def test_a_change_made_while_the_child_learns_a_part_is_never_missed(tmp_path: Path) -> None:
    """The hash the parent keeps is the one of its copy taken at the fork, not of the
    containers as they are when the child's report arrives."""
    store, saver = Store(tmp_path / "s"), ForkedSaver(unavailable=lambda: None)
    ns = _namespace()
    _background(saver, store, ns)
    gated = {**ns, "gate": Gate(tmp_path / "open")}  # pickled after the parts
    assert isinstance(saver.save(request(store, gated)), BackgroundReport)
    before = {"tokens": list(ns["tokens"]), "labels": ns["labels"].tolist()}
    _change(ns)  # the parent changes both parts while its child pickles them
    (tmp_path / "open").touch()
    outcome = saver.wait(timeout=120)
    assert outcome is not None and outcome.report is not None, outcome
    assert outcome.report.parts_pickled == 2  # the hashes the parent learns from this child
    values = store.load().values
    assert values["tokens"] == before["tokens"] and values["labels"].tolist() == before["labels"]

    _background(saver, store, ns)
    values = store.load().values
    assert values["tokens"] == ns["tokens"]
    assert values["labels"].tolist() == ns["labels"].tolist()


def test_a_change_made_while_a_child_reuses_a_part_is_never_missed(tmp_path: Path) -> None:
    store, saver, ns = Store(tmp_path / "s"), ForkedSaver(unavailable=lambda: None), _namespace()
    for _ in range(2):
        _background(saver, store, ns)
    gated = {**ns, "gate": Gate(tmp_path / "open")}
    assert isinstance(saver.save(request(store, gated)), BackgroundReport)
    _change(ns)
    (tmp_path / "open").touch()
    outcome = saver.wait(timeout=120)
    assert outcome is not None and outcome.report is not None, outcome
    assert outcome.report.parts_reused == 2
    report = _background(saver, store, ns)
    assert report.parts_pickled == 2
    values = store.load().values
    assert values["tokens"] == ns["tokens"]
    assert values["labels"].tolist() == ns["labels"].tolist()
    again = _background(saver, store, ns)  # learnt from the copies the parent took at that fork
    assert (again.parts_pickled, again.parts_reused) == (0, 2)


def test_in_process_and_background_saves_share_one_cache(tmp_path: Path) -> None:
    store, saver, ns = Store(tmp_path / "s"), ForkedSaver(unavailable=lambda: None), _namespace()
    end = saver.save(request(store, ns, trigger="end"))  # written in-process
    assert end.parts_pickled == 2
    assert _background(saver, store, ns).parts_reused == 2
    ns["labels"][0] = "changed"
    report = saver.save(request(store, ns, trigger="end"))
    assert (report.parts_pickled, report.parts_reused) == (1, 1)
    assert store.load().values["labels"][0] == "changed"
