"""The one cell executor, the resume record, the snapshot seam and the per-shell state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipyckpt import Store
from ipyckpt.cells import ResumeInfo, run_cell
from ipyckpt.safepoints import RUNTIME_NAME, ResumePoint, SafepointRuntime, instrument
from ipyckpt.session import InProcessSaver, SaveRequest, StateSession
from ipyckpt.store.reports import SaveReport
from tests.conftest import run_python


def _runtime() -> SafepointRuntime:
    return SafepointRuntime(interval=None, on_snapshot=lambda position, trigger: None)


def test_run_cell_returns_the_last_expression_and_always_unbinds_the_runtime() -> None:
    ns: dict[str, Any] = {}
    assert run_cell(instrument("x = 2\nx * 21"), ns, _runtime(), filename="<c1>") == 42
    assert RUNTIME_NAME not in ns
    with pytest.raises(KeyError, match="mine"):
        run_cell(instrument("y = 1\nraise KeyError('mine')"), ns, _runtime(), filename="<c2>")
    assert RUNTIME_NAME not in ns
    assert ns["y"] == 1


def test_resume_info_round_trips_through_a_generations_info() -> None:
    cell = instrument("total = 0\nfor i in range(5):\n    total += i\n")
    info = ResumeInfo.at(cell, ResumePoint(1, 3))
    assert info.where == "statement 2, iteration 3 of for i in range(5)"
    assert ResumeInfo.from_info(info.to_info() | {"versions": {}}) == info
    assert ResumeInfo.from_info({"versions": {}}) is None  # a snapshot not taken in a cell
    assert ResumeInfo.from_info({"cell": "abc", "position": {"statement": "x"}}) is None


def test_every_snapshot_goes_through_the_sessions_saver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPYCKPT_STORE", str(tmp_path / "store"))
    session = StateSession({"a": 1, "b": [2, 3]})
    requests: list[SaveRequest] = []

    class RecordingSaver(InProcessSaver):
        def save(self, request: SaveRequest) -> SaveReport:
            requests.append(request)
            return super().save(request)

    session.saver = RecordingSaver()
    events: list[str] = []
    session.listeners.append(lambda event, data: events.append(event))
    report = session.save(session.tracked_names(), trigger="manual")
    assert [(r.trigger, r.names, sorted(r.namespace)) for r in requests] == [
        ("manual", None, ["a", "b"])
    ]
    assert session.last_save is report
    assert events[0] == "saving"
    assert events[-1] == "saved"
    assert Store(tmp_path / "store").load().values == {"a": 1, "b": [2, 3]}


def test_the_extension_keeps_one_state_on_the_shell_and_unload_removes_everything() -> None:
    proc = run_python(
        """
        import signal
        from IPython.core.interactiveshell import InteractiveShell
        from ipyckpt.kernel.state import state_of

        ip = InteractiveShell.instance()
        before = signal.getsignal(signal.SIGTERM)
        ip.run_line_magic("load_ext", "ipyckpt")
        state = state_of(ip)
        assert state is not None
        assert state.condor.session is state.session is state.checkpointer.session
        assert signal.getsignal(signal.SIGTERM) != before
        ip.run_line_magic("unload_ext", "ipyckpt")
        assert state_of(ip) is None
        for kind in ("line", "cell"):
            assert not {"checkpoint", "condor"} & set(ip.magics_manager.magics[kind])
        assert signal.getsignal(signal.SIGTERM) == before
        ip.run_line_magic("load_ext", "ipyckpt")
        assert state_of(ip) is not None and state_of(ip) is not state
        print("ok")
        """
    )
    assert proc.stdout.strip().endswith("ok")


TERMINATION = """
import sys
from ipyckpt.cells import ResumeInfo, TerminationHandler, run_cell
from ipyckpt.safepoints import SafepointRuntime, instrument

cell = instrument(sys.argv[1])

def on_snapshot(position, trigger):
    print("snapshot", trigger, "at", ResumeInfo.at(cell, position).where, flush=True)

def idle(trigger):
    print("idle snapshot", trigger, flush=True)

TerminationHandler(grace=lambda: float(sys.argv[2]), snapshot_idle=idle).install()
runtime = SafepointRuntime(interval=None, on_snapshot=on_snapshot)
run_cell(cell, {}, runtime, filename="<cell>")
print("cell finished", flush=True)
import os, signal
os.kill(os.getpid(), signal.SIGTERM)  # now idle
print("still running after an idle SIGTERM", flush=True)
"""


def test_sigterm_in_a_loop_snapshots_at_the_next_iteration_then_exits() -> None:
    loop = (
        "import os, signal\n"
        "for i in range(5):\n"
        "    if i == 2:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "    print('iteration', i, flush=True)\n"
    )
    proc = run_python(TERMINATION, loop, "60", check=False)
    assert proc.returncode == 128 + 15, proc.stderr
    assert "iteration 2\nsnapshot sigterm at statement 2, iteration 3 of for i in range(5)\n" in (
        proc.stdout
    )
    assert "\niteration 3" not in proc.stdout
    assert "cell finished" not in proc.stdout


def test_sigterm_when_idle_snapshots_at_once_then_exits() -> None:
    proc = run_python(TERMINATION, "x = 1", "60", check=False)
    assert proc.returncode == 128 + 15, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["cell finished", "idle snapshot sigterm"]


def test_the_watchdog_ends_a_cell_stuck_in_one_statement() -> None:
    stuck = "import os, signal, time\n(os.kill(os.getpid(), signal.SIGTERM), time.sleep(60))\n"
    proc = run_python(TERMINATION, stuck, "0.5", check=False, timeout=30)
    assert proc.returncode == 128 + 15, proc.stderr
    assert "snapshot" not in proc.stdout  # never mid-statement
