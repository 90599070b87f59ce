"""Sweeps in the local emulation: one cluster, results by parameters, eviction, failure, hold."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from ipyckpt.condor import eventlog, schedd
from ipyckpt.condor import record as jobs
from ipyckpt.condor.api import submit_sweep
from ipyckpt.condor.sweep import Sweep, grid_items, items_from, split_map_line

from .conftest import wait_for

CELL = """
import time
steps = []
for i in range(n):
    time.sleep(pause)
    steps.append(i)
    if (lr, seed) == failing and i == 3:
        raise FloatingPointError(f"diverged at lr={lr}")
loss = lr * seed + offset
"""
GRID = {"lr": [0.1, 0.01], "seed": [1, 2]}


def _sweep(jobs_dir: Path, n: int = 10, failing: Any = None, **kw: Any) -> Sweep:
    ns = {"n": n, "pause": 0.02, "offset": 100, "failing": failing, "lr": "not sent"}
    return submit_sweep(
        CELL, ns, grid_items(GRID), jobs_dir=jobs_dir, backend="local", every=0.15,
        announce=lambda _: None, **kw,
    )  # fmt: skip


def _events(sweep: Sweep) -> list[dict[str, Any]]:
    theirs = schedd.read_log(sweep.record.log)
    assert theirs is not None
    return theirs


def test_a_sweep_is_one_cluster_and_gathers_values_by_parameters(jobs_dir: Path) -> None:
    sweep = _sweep(jobs_dir)
    statuses = sweep.wait(timeout=120)
    assert [s.state for s in statuses] == ["done"] * 4, [j.log() for j in sweep.jobs]
    results = sweep.fetch()
    assert not results.errors
    assert {k: v["loss"] for k, v in results.items()} == {
        (lr, seed): lr * seed + 100 for lr in GRID["lr"] for seed in GRID["seed"]
    }
    assert all(v["steps"] == list(range(10)) for v in results.values())
    assert sweep.record.inputs == ["failing", "n", "offset", "pause"]  # lr, seed: parameters
    # one cluster, one SUBMIT per job, read alike by HTCondor's JobEventLog and our parser
    theirs, ours = _events(sweep), eventlog.parse(sweep.record.log)
    submits = [e for e in theirs if e["EventTypeNumber"] == eventlog.SUBMIT]
    assert {e["Cluster"] for e in theirs} == {sweep.record.cluster}
    assert [e["Proc"] for e in submits] == [0, 1, 2, 3]
    assert submits[1]["LogNotes"] == f"{sweep.name} lr=0.1 seed=2"
    for proc in range(4):
        assert jobs.summarize(theirs, proc) == jobs.summarize(ours, proc) == statuses[proc]
    if importlib.util.find_spec("pandas"):
        frame = results.frame()
        assert list(frame["loss"]) == [100.1, 100.2, 100.01, 100.02]
        assert list(frame.columns[:2]) == ["lr", "seed"]


def test_one_job_evicted_and_one_failing_the_rest_is_fetched(jobs_dir: Path) -> None:
    sweep = _sweep(jobs_dir, n=60, failing=(0.01, 2))
    evicted = sweep.jobs[1]
    wait_for(lambda: evicted.status().checkpoints >= 2, what="job 1 to checkpoint")
    evicted.vacate()
    wait_for(lambda: evicted.status().evictions == 1, what="the eviction")
    statuses = sweep.wait(timeout=120)
    assert [s.state for s in statuses] == ["done", "done", "done", "failed"], statuses
    assert statuses[1].starts == 2 and statuses[3].exit_code == 1
    results = sweep.fetch()
    assert sorted(results) == [(0.01, 1), (0.1, 1), (0.1, 2)]
    assert results[(0.1, 2)]["steps"] == list(range(60))  # the evicted job resumed, whole
    assert results[(0.1, 2)]["loss"] == 100.2
    assert list(results.errors) == [(0.01, 2)]
    assert "FloatingPointError: diverged at lr=0.01" in results.errors[(0.01, 2)]


def test_hold_and_release_a_job_and_a_whole_sweep(jobs_dir: Path) -> None:
    sweep = _sweep(jobs_dir, n=80)
    held = sweep.jobs[2]
    wait_for(lambda: held.status().checkpoints >= 1, what="job 2 to checkpoint")
    held.hold()
    status = wait_for(lambda: (s := held.status()).state == "held" and s, what="the hold")
    assert status.hold_reason == "Via condor_hold (by user ipyckpt)"
    for other in (0, 1, 3):
        assert sweep.jobs[other].wait(timeout=120).state == "done"
    assert held.status().state == "held"  # stays held while the others finish
    held.release()
    wait_for(lambda: held.status().state != "held", what="the release")
    assert held.wait(timeout=120).state == "done"
    assert sweep.fetch()[(0.01, 1)]["steps"] == list(range(80))
    kinds = [e["EventTypeNumber"] for e in _events(sweep) if e["Proc"] == 2]
    i = kinds.index(eventlog.HELD)
    assert kinds[i : i + 3] == [eventlog.HELD, eventlog.RELEASED, eventlog.EXECUTE], kinds
    again = _sweep(jobs_dir, n=400)
    wait_for(lambda: all(s.state == "running" for s in again.statuses()), what="all to run")
    again.hold()
    wait_for(lambda: all(s.state == "held" for s in again.statuses()), what="all held")
    again.release()
    wait_for(lambda: all(s.state == "running" for s in again.statuses()), what="all released")
    again.remove()
    assert [s.state for s in again.wait(timeout=60)] == ["removed"] * 4


def test_map_line_and_named_collections() -> None:
    rest, grid = split_map_line("map lr=0.1,1e-3 opt=adam,'sgd' every=5s name=g", ["every", "name"])
    assert (rest, grid) == ("every=5s name=g", {"lr": [0.1, 0.001], "opt": ["adam", "sgd"]})
    assert split_map_line("every=5s", ["every"]) == ("every=5s", None)
    with pytest.raises(ValueError, match="map needs parameters"):
        split_map_line("map every=5s", ["every"])
    assert [i.key for i in grid_items({"a": [1, 2]})] == [1, 2]
    scalars = items_from([3, 4], "xs")
    assert [(i.params, i.key) for i in scalars] == [({"item": 3}, 3), ({"item": 4}, 4)]
    dicts = items_from([{"lr": 0.1, "depth": 3}], "configs")
    assert (dicts[0].params, dicts[0].key, dicts[0].label) == (
        {"lr": 0.1, "depth": 3}, (0.1, 3), "lr=0.1 depth=3"
    )  # fmt: skip
    named = items_from({"small": {"width": 8}, "big": 64}, "models")
    assert [(i.params, i.key) for i in named] == [
        ({"width": 8}, "small"), ({"key": "big", "item": 64}, "big")
    ]  # fmt: skip
    with pytest.raises(ValueError, match="'my col' is not a Python variable name"):
        items_from([{"my col": 1}], "bad")
    if importlib.util.find_spec("pandas"):
        import pandas as pd

        rows = items_from(pd.DataFrame({"lr": [0.1, 0.2]}, index=["a", "b"]), "df")
        assert [(i.params, i.key) for i in rows] == [({"lr": 0.1}, "a"), ({"lr": 0.2}, "b")]
