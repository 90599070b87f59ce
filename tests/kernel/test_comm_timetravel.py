"""Time travel and recompute over the JupyterLab channel, in real kernels without any magic:
the panel's restore is ``%checkpoint restore --cell N``, the notification's Recompute button is
``%checkpoint restore --recompute``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ipyckpt.kernel.comm import PROTOCOL_VERSION
from tests.kernel.test_kernelcomm import Frontend
from tests.kernel.test_session_autosave import (
    manifests,
    session_kernel,
    store_of,
    wait_for_snapshot_after,
)

__all__ = ["session_kernel"]  # the fixture, used by name


def hello(fe: Frontend) -> tuple[str, dict[str, Any]]:
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h"})
    reply = fe.reply(comm_id, "h")
    assert reply["ok"] is True, reply
    return comm_id, reply["result"]


def test_restore_after_a_cell_over_the_comm(session_kernel: Any) -> None:
    kernel = session_kernel()
    kernel.run("x = 1")
    first = wait_for_snapshot_after(kernel, 1)
    kernel.run("x = 2\ny = [x]")
    second = wait_for_snapshot_after(kernel, 2)
    kernel.run("y.append(3)\nz = 'new'")
    newest = wait_for_snapshot_after(kernel, 3)

    fe = Frontend(kernel)
    comm_id, _ = hello(fe)
    fe.request(comm_id, {"type": "restore", "id": "r", "generation": second, "cell": 2})
    reply = fe.reply(comm_id, "r")
    assert reply["ok"] is True, reply
    assert reply["result"]["generation"] == second
    assert reply["result"]["removed"] == ["z"]
    assert kernel.value("(x, y, 'z' in globals())") == (2, [2], False)
    assert newest in manifests(store_of(kernel)), "going back deletes nothing newer"

    # a generation that was not taken after that cell is refused, nothing changes
    fe.request(comm_id, {"type": "restore", "id": "w", "generation": first, "cell": 2})
    wrong = fe.reply(comm_id, "w")
    assert wrong["ok"] is False
    assert wrong["error"].startswith(f"state checkpoint {first} was not taken right after cell [2]")
    assert kernel.value("x") == 2


def test_recompute_button_runs_what_restore_recompute_runs(
    session_kernel: Any, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.txt"
    kernel = session_kernel()
    kernel.run("import sqlite3")
    kernel.run(f"path, ran = {str(tmp_path / 'data.sqlite')!r}, {str(ran)!r}")
    kernel.run("conn = sqlite3.connect(path)")
    kernel.run("rows = (v for v in range(3))\nopen(ran, 'a').write('ran\\n')")
    wait_for_snapshot_after(kernel, 4)
    kernel.kill()
    assert ran.read_text() == "ran\n"

    again = session_kernel()
    fe = Frontend(again)
    comm_id, status = hello(fe)
    restore = status["last_restore"]
    assert restore["made_by"]["conn"] == "[3] conn = sqlite3.connect(path)"
    offer = restore["recompute"]
    assert [c["cell"] for c in offer["cells"]] == [
        "[3] conn = sqlite3.connect(path)",
        "[4] rows = (v for v in range(3))",
    ]
    assert [c["makes"] for c in offer["cells"]] == [["conn"], ["rows"]]
    assert offer["refusals"] == []
    assert ran.read_text() == "ran\n", "nothing is re-run before the user asks"

    fe.request(comm_id, {"type": "recompute", "id": "stale", "generation": 999})
    stale = fe.reply(comm_id, "stale")
    assert stale["ok"] is False and stale["code"] == "stale"

    fe.request(comm_id, {"type": "recompute", "id": "c", "generation": restore["generation"]})
    reply = fe.reply(comm_id, "c")
    assert reply["ok"] is True, reply
    lines = reply["result"]["lines"]
    assert lines[0].startswith("re-ran cell [3] conn = sqlite3.connect(path)")
    assert lines[0].endswith(": re-created conn")
    assert lines[1] == "re-ran cell [4] rows = (v for v in range(3)): re-created rows"
    assert again.value("(conn.execute('select 7').fetchone(), list(rows))") == ((7,), [0, 1, 2])
    assert ran.read_text() == "ran\nran\n"

    # the status pushed after it offers nothing more; a second click re-runs nothing
    pushed = fe.wait_for(lambda m: (m.get("data") or {}).get("event") == "recomputed")
    assert pushed["data"]["status"]["last_restore"]["recompute"] is None
    fe.request(comm_id, {"type": "recompute", "id": "again", "generation": restore["generation"]})
    twice = fe.reply(comm_id, "again")
    assert twice["result"]["nothing_missing"] is True
    assert ran.read_text() == "ran\nran\n"


def test_a_background_autosave_is_told_without_another_cell(session_kernel: Any) -> None:
    """The autosave a forked child writes is pushed once published, not at the next cell (the
    status bar and the timeline would say "saving…" until the user runs something)."""
    kernel = session_kernel()
    fe = Frontend(kernel)
    comm_id, _ = hello(fe)
    fe.execute("import os\nx = os.urandom(1000)")
    saved = fe.wait_for(
        lambda m: m.get("comm_id") == comm_id and (m.get("data") or {}).get("event") == "saved"
    )
    status = saved["data"]["status"]
    assert status["saving"] is None
    assert status["last_save"]["trigger"] == "autosave"
    assert any((m.get("data") or {}).get("event") == "saving" for m in fe.messages), (
        "it was written in the background, announced before"
    )
    assert status["last_save"]["generation"] in manifests(store_of(kernel))
