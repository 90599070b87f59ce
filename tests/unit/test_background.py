"""The forked background saver (issue 13 items 1-3), without IPython: real forks, real kills.

A ``Gate`` variable makes the child wait inside pickling until the test opens it, so each test
knows exactly where the child is (no sleeps): the parent mutates, kills or checks meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipyckpt import Store
from ipyckpt.background import (
    BackgroundReport,
    ForkedSaver,
    Outcome,
    SnapshotSkipped,
    fork_unavailable,
)
from ipyckpt.session import InProcessSaver, SaveRequest, StateSession
from ipyckpt.store import knowngood

GATE_TIMEOUT_S = 60


class Gate:
    """Pickles as the string "gate", but only once ``path`` exists (checked every 10 ms)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        end = time.monotonic() + GATE_TIMEOUT_S
        while not self.path.exists() and time.monotonic() < end:
            time.sleep(0.01)
        return (str, ("gate",))


class Crash:
    def __reduce__(self) -> tuple[Any, ...]:
        os.abort()  # a crash inside an extension's pickling


class Hang:
    def __reduce__(self) -> tuple[Any, ...]:
        time.sleep(3600)
        raise AssertionError("unreachable")


@pytest.fixture(autouse=True)
def no_child_outlives_its_test() -> Any:
    """A failing test must not leave a child behind (e.g. one stuck in ``Hang``)."""
    created: list[ForkedSaver] = []
    original = ForkedSaver.__init__

    def tracking(self: ForkedSaver, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    ForkedSaver.__init__ = tracking  # type: ignore[method-assign]
    yield
    ForkedSaver.__init__ = original  # type: ignore[method-assign]
    for saver in created:
        if saver.child is not None:
            with contextlib.suppress(OSError):
                os.kill(saver.child.pid, signal.SIGKILL)
            saver.wait(timeout=10)


def request(store: Store, ns: dict[str, Any], trigger: str = "periodic") -> SaveRequest:
    return SaveRequest(store, ns, None, trigger)


def collected(saver: ForkedSaver) -> list[Outcome]:
    seen: list[Outcome] = []
    saver.on_outcome = seen.append
    return seen


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_generation_holds_the_values_at_the_consistent_point(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    saver = ForkedSaver(unavailable=lambda: None)
    outcomes = collected(saver)
    arr = np.arange(1_000_000.0)
    ns = {"arr": arr, "d": {"k": 1}, "gate": Gate(tmp_path / "open")}
    report = saver.save(request(store, ns))
    assert isinstance(report, BackgroundReport) and report.pid != os.getpid()
    assert saver.running, "save returned while the child is still pickling"
    arr[:] = -1.0  # the cell goes on mutating the same objects
    ns["d"]["k"] = 2
    (tmp_path / "open").touch()
    outcome = saver.wait(timeout=60)
    assert outcome is not None and outcome.report is not None, outcome
    assert outcomes == [outcome] and outcome.report.generation == report.generation == 1
    blobs = list((tmp_path / "s" / "blobs").glob("*/*"))
    assert blobs and all(knowngood.is_known_good(p, p.stat().st_size) for p in blobs), (
        "the parent learnt the child's blobs: the next save does not hash them again"
    )
    values = Store(tmp_path / "s").load().values
    np.testing.assert_array_equal(values["arr"], np.arange(1_000_000.0))
    assert values["d"] == {"k": 1} and values["gate"] == "gate"


def test_a_periodic_snapshot_due_while_one_is_written_is_skipped_and_end_waits(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "s")
    saver = ForkedSaver(unavailable=lambda: None)
    outcomes = collected(saver)
    saver.save(request(store, {"gate": Gate(tmp_path / "open")}))
    with pytest.raises(SnapshotSkipped, match="background snapshot 1 is still being written"):
        saver.save(request(store, {"x": 1}))
    (tmp_path / "open").touch()
    second = saver.save(request(store, {"x": 2}, trigger="end"))  # waits for the first
    assert not isinstance(second, BackgroundReport) and second.generation == 2
    assert [o.report.generation for o in outcomes if o.report] == [1]
    assert Store(tmp_path / "s").load().values == {"x": 2}


def test_a_skipped_snapshot_is_not_announced_as_started_nor_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frontend keeps showing the running child's progress: a skip is no failure."""
    monkeypatch.setenv("IPYCKPT_STORE", str(tmp_path / "s"))
    session = StateSession({"gate": Gate(tmp_path / "open")})
    session.saver = ForkedSaver(unavailable=lambda: None, on_outcome=lambda outcome: None)
    events: list[str] = []
    session.listeners.append(lambda event, data: events.append(event))
    session.save(["gate"], trigger="periodic")
    assert events == ["saving"]
    with pytest.raises(SnapshotSkipped):
        session.save(["gate"], trigger="autosave")
    assert events == ["saving"], "the skipped snapshot was told to the frontend"
    (tmp_path / "open").touch()
    session.settle(block=True)


def test_sigkill_of_the_child_mid_write_leaves_the_previous_generation(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.save({"big": np.zeros(10), "tag": "previous"})
    saver = ForkedSaver(unavailable=lambda: None)
    outcomes = collected(saver)
    big = np.random.default_rng(0).standard_normal(8 << 20)  # 64 MB: 8 chunks
    report = saver.save(request(store, {"big": big, "gate": Gate(tmp_path / "never")}))
    tmp = tmp_path / "s" / "tmp"
    wait_until(lambda: any(tmp.iterdir()), "the child to write into tmp/")
    os.kill(report.pid, signal.SIGKILL)
    saver.wait(timeout=60)
    assert outcomes[0].error == "the snapshot process was killed by SIGKILL"
    assert [g.id for g in store.generations()] == [1]
    assert store.load().values["tag"] == "previous"
    assert store.verify().ok
    store.save({"tag": "next"})
    assert list(tmp.iterdir()) == [], "the next save removed what the killed child left"


@pytest.mark.parametrize("bad", [Crash(), Hang()], ids=["crash", "hang"])
def test_a_crashing_or_hanging_reduce_kills_only_the_child(tmp_path: Path, bad: object) -> None:
    store = Store(tmp_path / "s")
    store.save({"x": 1})
    saver = ForkedSaver(unavailable=lambda: None, deadline=2)
    outcomes = collected(saver)
    saver.save(request(store, {"x": 2, "bad": bad}))
    saver.wait(timeout=60)
    expected = "killed by SIGABRT" if isinstance(bad, Crash) else "longer than the deadline of 2 s"
    assert outcomes[0].error is not None and expected in outcomes[0].error
    assert store.load().values == {"x": 1}, "the previous generation is untouched"
    assert saver.save(request(store, {"x": 3}, trigger="end")).generation == 2, "still works"
    saver.wait(timeout=60)
    assert store.load().values == {"x": 3}


def test_fallbacks_save_in_process_say_why_once_and_store_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = {"arr": np.arange(100_000.0), "d": {"a": [1, 2]}, "f": 1.5}
    low_memory = ForkedSaver(unavailable=lambda: fork_unavailable(memory=lambda: 1 << 20))
    off = ForkedSaver(enabled=False)
    forked = ForkedSaver(unavailable=lambda: None)
    contents = {}
    for name, saver in (("low", low_memory), ("off", off), ("forked", forked)):
        store = Store(tmp_path / name)
        for _ in range(2):
            report = saver.save(request(store, ns))
            assert isinstance(report, BackgroundReport) == (name == "forked")
            saver.wait(timeout=60)
        contents[name] = Store(tmp_path / name).load().values
    err = capsys.readouterr().err
    assert err.count("saving in-process: not enough free memory for a background snapshot") == 1
    assert "saving in-process" not in err.replace(
        "saving in-process: not enough free memory", ""
    ), "background = False is the user's choice: nothing said"
    for values in contents.values():
        np.testing.assert_array_equal(values["arr"], ns["arr"])
        assert (values["d"], values["f"]) == (ns["d"], ns["f"])


def test_snapshots_that_must_be_complete_run_in_process_after_the_child(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    saver = ForkedSaver(unavailable=lambda: None)
    outcomes = collected(saver)
    saver.save(request(store, {"x": 1, "gate": Gate(tmp_path / "open")}))
    (tmp_path / "open").touch()
    report = saver.save(request(store, {"x": 2}, trigger="sigterm"))
    assert not isinstance(report, BackgroundReport) and report.generation == 2
    assert [o.generation for o in outcomes] == [1], "waited for the child first"
    assert store.load().values == {"x": 2}


def test_a_child_forked_after_threaded_hashing_does_not_hang(tmp_path: Path) -> None:
    """blake3's thread pool does not exist in a forked child: hashing there must not use it."""
    store = Store(tmp_path / "s")
    big = np.random.default_rng(1).standard_normal(4 << 20)  # 32 MB: hashed with threads
    InProcessSaver().save(request(store, {"big": big}))
    saver = ForkedSaver(unavailable=lambda: None, deadline=20)
    outcomes = collected(saver)
    saver.save(request(store, {"big": big + 1.0}))
    saver.wait(timeout=60)
    assert outcomes[0].report is not None, outcomes[0].error


PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from tests.unit.test_background import Gate, request
    from ipyckpt import Store
    from ipyckpt.background import ForkedSaver
    store = Store(sys.argv[1])
    store.save({"arr": np.zeros(10), "k": 0})
    saver = ForkedSaver(unavailable=lambda: None)
    ns = {"arr": np.arange(4 << 20, dtype=np.float64), "k": 1, "gate": Gate(Path(sys.argv[3]))}
    print(saver.save(request(store, ns)).pid, flush=True)
    time.sleep(3600)
    """
)


def test_sigkill_of_the_parent_while_the_child_writes_publishes_a_whole_generation(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "open"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "s"), str(Path.cwd()), str(gate)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    with parent.stdout:
        child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    gate.touch()  # the orphaned child goes on and publishes
    wait_until(lambda: not Path(f"/proc/{child}").exists(), "the orphaned child to finish")
    values = Store(tmp_path / "s").load().values
    assert values["k"] == 1 and values["gate"] == "gate"
    np.testing.assert_array_equal(values["arr"], np.arange(4 << 20, dtype=np.float64))
    assert Store(tmp_path / "s").verify().ok
