"""The emulation's user log: every event kind parses the same with JobEventLog and our reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipyckpt.condor import eventlog, schedd, submit_cell
from ipyckpt.condor import record as jobs
from ipyckpt.condor.eventlog import EventWriter

pytest.importorskip("htcondor2", reason="htcondor 25.x is in the test extra")


def test_every_event_kind_round_trips(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    w = EventWriter(log, 42)
    w.submit("cell-7")
    w.execute("slot1@here")
    w.checkpoint_transfer()
    w.evicted()
    w.execute("slot1@here")
    w.requeued(4, None)
    w.execute("slot1@here")
    w.requeued(None, 9)
    w.held("Transfer output files failure: x missing", 12, 2)
    w.execute("slot1@here")
    w.checkpoint_transfer()
    w.terminated(0, None)
    w.aborted("removed by test")
    theirs = schedd.read_log(log)
    ours = eventlog.parse(log)
    assert theirs is not None and len(theirs) == len(ours) == 15
    fields = (
        "EventTypeNumber", "Cluster", "Proc", "LogNotes", "Type", "ReturnValue",
        "TerminatedBySignal", "TerminatedAndRequeued", "HoldReason", "HoldReasonCode",
        "HoldReasonSubCode", "Reason",
    )  # fmt: skip
    for mine, real in zip(ours, theirs, strict=True):
        for field in fields:
            if field in mine:
                assert mine[field] == real[field], (field, mine, real)
        assert abs(mine["Timestamp"] - real["Timestamp"]) <= 1
    status = jobs.summarize(theirs)
    assert status == jobs.summarize(ours)
    assert (status.state, status.starts, status.checkpoints) == ("removed", 4, 1)
    assert (status.evictions, status.retries, status.exit_code) == (1, 2, 0)
    assert theirs[0]["LogNotes"] == "cell-7" and theirs[0]["Cluster"] == 42


def test_half_written_event_is_not_read(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    EventWriter(log, 1).submit("x")
    with log.open("a") as fh:
        fh.write("001 (001.000.000) 2026-11-26 01:00:01 Job executing on host: <h>\n")
    assert [e["EventTypeNumber"] for e in eventlog.parse(log)] == [0]
    assert [e["EventTypeNumber"] for e in schedd.read_log(log) or []] == [0]


def test_schedd_backend_without_a_pool_says_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    with pytest.raises(schedd.ScheddUnavailable, match="use backend=local"):
        submit_cell("x = 1\n", {}, jobs_dir=root, backend="schedd", announce=lambda _: None)
    assert list(root.iterdir()) == []  # nothing left behind by the failed submit


def test_status_of_a_real_pool_sequence() -> None:
    """Input transfers and the final output transfer are not checkpoints (schedd logs)."""
    ft = eventlog.FILE_TRANSFER
    events = [
        {"EventTypeNumber": eventlog.SUBMIT},
        {"EventTypeNumber": ft, "Type": 1},
        {"EventTypeNumber": ft, "Type": 2},
        {"EventTypeNumber": ft, "Type": 3},
        {"EventTypeNumber": eventlog.EXECUTE},
        {"EventTypeNumber": ft, "Type": eventlog.OUT_STARTED},
        {"EventTypeNumber": ft, "Type": eventlog.OUT_FINISHED},
        {"EventTypeNumber": ft, "Type": eventlog.OUT_STARTED},
        {"EventTypeNumber": ft, "Type": eventlog.OUT_FINISHED},
    ]
    running = jobs.summarize(events)
    assert (running.state, running.checkpoints) == ("running", 2)
    done = jobs.summarize([*events, {"EventTypeNumber": eventlog.TERMINATED, "ReturnValue": 0}])
    assert (done.state, done.checkpoints, done.exit_code) == ("done", 1, 0)
    held = jobs.summarize([*events, {"EventTypeNumber": eventlog.HELD, "HoldReason": "disk"}])
    assert str(held) == "held (disk), checkpointed 2x"


def test_sweep_hold_and_release_events_round_trip(tmp_path: Path) -> None:
    """The emulation's events for jobs 0 and 1 of one cluster, as JobEventLog reads them."""
    log = tmp_path / "job.log"
    first, second = EventWriter(log, 7, 0), EventWriter(log, 7, 1)
    first.submit("grid lr=0.1")
    second.submit("grid lr=0.01")
    second.execute("slot1@here")
    first.execute("slot1@here")
    second.held("Via condor_hold (by user ipyckpt)", 1, 0)
    second.released("Via condor_release (by user ipyckpt)")
    second.execute("slot1@here")
    theirs = schedd.read_log(log)
    assert theirs is not None
    ours = eventlog.parse(log)
    assert [(e["EventTypeNumber"], e["Proc"]) for e in theirs] == [
        (e["EventTypeNumber"], e["Proc"]) for e in ours
    ]
    assert [e["Proc"] for e in theirs] == [0, 1, 1, 0, 1, 1, 1]
    assert theirs[5]["EventTypeNumber"] == eventlog.RELEASED
    assert theirs[5]["Reason"] == ours[5]["Reason"] == "Via condor_release (by user ipyckpt)"
    assert theirs[4]["HoldReasonCode"] == 1 and theirs[1]["LogNotes"] == "grid lr=0.01"
    for proc in (0, 1):
        assert jobs.summarize(theirs, proc) == jobs.summarize(ours, proc)
    assert jobs.summarize(theirs, 1).starts == 2 and jobs.summarize(theirs, 1).state == "running"
    assert jobs.summarize(theirs, 0).state == "running"
