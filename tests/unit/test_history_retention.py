"""Cell history and provenance, the autosave clock, recompute plans, retention (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipyckpt.autosave import AutosaveClock, parse_autosave
from ipyckpt.history import CellHistory, analyze, first_line, snapshot_cell
from ipyckpt.recompute import describe_missing, plan_recompute
from ipyckpt.store import Store
from ipyckpt.store.retention import (
    DAY,
    HOUR,
    Footprint,
    by_time,
    parse_budget,
    tiered,
    within_budget,
)


def test_analyze_reads_only_what_comes_from_earlier_cells() -> None:
    code = analyze("x = x + 1\ny = x\nr = [i * k for i in data]\nimport numpy as np")
    assert code.reads == {"x", "k", "data"}
    assert code.writes == {"x", "y", "r", "np"}
    assert code.imports == {"np": "import numpy as np"}
    assert not analyze("pass").may_mutate
    assert analyze("arr[0] += 1").may_mutate
    assert analyze("print(a)").reads == {"a"}  # builtins are not reads


def test_functions_read_their_free_names_and_assign_globals_only_when_called() -> None:
    code = analyze("def f(a, b=z):\n    global g\n    g = a + q\n    t = 1\n    return t")
    assert code.reads == {"z", "q"}
    assert code.writes == {"f"}


def run(history: CellHistory, source: str, count: int, **kw: object) -> None:
    history.begin(source, count, cell_id=f"id-{count}")
    history.end(**kw)  # type: ignore[arg-type]


def test_provenance_follows_the_last_assignment_and_survives_a_restore() -> None:
    history = CellHistory("k1")
    run(history, "import sqlite3\npath = 'db'", 1)
    run(history, "conn = sqlite3.connect(path)", 2)
    run(history, "path = 'other'", 3)
    run(history, "bump()", 4, rebound=["counter"])
    assert history.made_by("conn").label() == "[2] conn = sqlite3.connect(path)"  # type: ignore[union-attr]
    assert history.made_by("path").count == 3  # type: ignore[union-attr]
    assert history.made_by("counter").count == 4  # type: ignore[union-attr]
    info = {"history": history.snapshot_info("autosave")}
    assert snapshot_cell(info) == {**snapshot_cell(info), "count": 4, "state": "after"}  # type: ignore[dict-item]
    fresh = CellHistory("k2")
    fresh.adopt(info, restored=["path"])
    assert fresh.made_by("conn").source == "conn = sqlite3.connect(path)"  # type: ignore[union-attr]
    assert fresh.made_by("path").count == 3  # type: ignore[union-attr]


def test_a_snapshot_during_a_cell_says_it_interrupts_it() -> None:
    history = CellHistory()
    history.begin("for i in range(10):\n    x = i", 7)
    during = snapshot_cell({"history": history.snapshot_info("interval")})
    end = snapshot_cell({"history": history.snapshot_info("end")})
    assert (during["state"], end["state"]) == ("during", "after")  # type: ignore[index]
    assert first_line("\n\n  for i in range(10):\n") == "for i in range(10):"
    assert first_line("%%checkpoint every=1h\n\nfor epoch in range(9):") == "for epoch in range(9):"
    assert first_line("%%checkpoint every=1h\n") == "%%checkpoint every=1h"  # nothing else


def test_recompute_plans_cells_in_order_with_their_imports_and_refuses_missing_inputs() -> None:
    history = CellHistory()
    run(history, "import sqlite3\npath = 'db'", 1)
    run(history, "conn = sqlite3.connect(path)", 2)
    run(history, "rows = iter(conn.execute('select 1'))", 3)
    missing = {"conn": "cannot pickle 'sqlite3.Connection'", "rows": "cannot pickle 'generator'"}
    plan = plan_recompute(missing, history, available={"path"})
    assert plan.runnable
    assert [s.cell.count for s in plan.steps] == [2, 3]
    assert plan.steps[0].imports == ["import sqlite3"]
    assert describe_missing("conn", missing["conn"], history) == (
        "conn: cannot pickle 'sqlite3.Connection' — made by cell [2] conn = sqlite3.connect(path)"
    )
    refused = plan_recompute({"rows": missing["rows"], "conn": "x"}, history, available=set())
    assert not refused.runnable
    assert any("reads path, which is not defined" in r for r in refused.refusals)
    alone = plan_recompute({"rows": "cannot pickle 'generator'"}, history, available=set())
    assert alone.refusals == [
        "cell [3] rows = iter(conn.execute('select 1')) reads conn, which is not defined: "
        "define it first"
    ]


def test_autosave_clock() -> None:
    clock = AutosaveClock(parse_autosave("30s"))
    assert parse_autosave("off") is None
    with pytest.raises(ValueError, match="like 30s"):
        parse_autosave("soon")
    clock.cell_ran(changed=False)
    assert not clock.due(0.0)
    clock.cell_ran(changed=True)
    assert clock.due(0.0)  # nothing protected yet
    clock.snapshot_taken(0.0, pause=1.0)  # a 1 s pause stretches the interval to 50 s
    clock.cell_ran(changed=True)
    assert not clock.due(40.0)
    assert clock.due(40.0, cell_seconds=35.0)  # a cell longer than the interval
    assert clock.due(51.0)
    clock.forget_snapshots()  # %checkpoint clear: the clearing cell is not saved again
    clock.cell_ran(changed=True, now=60.0)
    assert not clock.due(1000.0)
    clock.cell_ran(changed=True, now=61.0)
    assert clock.due(111.0)


def gen(i: int, created: float, *blobs: str) -> Footprint:
    return Footprint(i, created, {b: 100 for b in blobs})


def test_time_tiers_keep_the_last_hour_then_hourly_then_daily() -> None:
    now = 10 * DAY + 12 * HOUR + 30 * 60  # mid-day, mid-hour: neighbours share buckets
    gens = [
        gen(i, now - age)
        for i, age in enumerate(
            [8 * DAY, 3 * DAY + 5, 3 * DAY, 5 * HOUR + 10, 5 * HOUR, 50 * 60, 10 * 60, 60], start=1
        )
    ]
    kept = {g.generation for g in by_time(gens, now)}
    # a week: one per day (2 was superseded by 3 that day); a day: one per hour; the hour: all
    assert kept == {3, 5, 6, 7, 8}


def test_budget_counts_shared_blobs_once_and_keeps_the_newest() -> None:
    gens = [gen(3, 3, "a", "c"), gen(2, 2, "a", "b"), gen(1, 1, "x", "y")]
    assert [g.generation for g in within_budget(gens, 300)] == [3, 2]
    assert [g.generation for g in within_budget(gens, 10)] == [3]
    assert parse_budget("3x").bytes_for(100) == 300  # type: ignore[union-attr]
    assert parse_budget("2GB").bytes_for(1) == 2 * 10**9  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="like 3x"):
        parse_budget("lots")


def test_the_store_prunes_with_the_policy_after_each_save(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", keep=1, retention=tiered(parse_budget("3x")))
    for i in range(5):
        store.save({"blob": bytes([i]) * 100_000})
    # each generation is ~100 kB of its own: a 3x budget keeps the newest three
    assert store.generation_ids() == [5, 4, 3]
    assert Store(tmp_path / "s").gc(keep=1).removed_generations == [4, 3]  # keep=N still works
