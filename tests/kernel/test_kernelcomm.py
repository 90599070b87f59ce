"""The JupyterLab channel (ipyckpt.kernel.comm) in real kernels, spoken to as the frontend would."""

from __future__ import annotations

import time
import uuid
from typing import Any

from ipyckpt.kernel.comm import PROTOCOL_VERSION, TARGET


class Frontend:
    """Just enough of JupyterLab's comm handling over a jupyter_client connection."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.client = kernel.client
        self.messages: list[dict[str, Any]] = []  # every comm message seen on iopub, in order

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        msg = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(msg)

    def open(self, data: dict[str, Any]) -> str:
        comm_id = uuid.uuid4().hex
        self._send("comm_open", {"comm_id": comm_id, "target_name": TARGET, "data": data})
        return comm_id

    def request(self, comm_id: str, data: dict[str, Any]) -> None:
        self._send("comm_msg", {"comm_id": comm_id, "data": data})

    def pump(self, timeout: float = 5) -> None:
        """Collect comm traffic from iopub for up to ``timeout`` seconds (stop when quiet)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self.client.get_iopub_msg(timeout=0.3)
            except Exception:  # queue.Empty
                if self.messages:
                    return
                continue
            if msg["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
                self.messages.append({"msg_type": msg["msg_type"], **msg["content"]})

    def wait_for(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        end = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < end:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            try:
                msg = self.client.get_iopub_msg(timeout=0.5)
            except Exception:
                continue
            if msg["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
                self.messages.append({"msg_type": msg["msg_type"], **msg["content"]})
        raise AssertionError(f"no such comm message in {self.messages}")

    def execute(self, code: str, timeout: float = 60) -> None:
        """Run ``code`` (as a cell), keeping the comm traffic it causes (Kernel.run drops it)."""
        msg_id = self.client.execute(code, allow_stdin=False)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
                self.messages.append({"msg_type": msg["msg_type"], **msg["content"]})
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif (
                msg["msg_type"] == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"]["execution_state"] == "idle"
            ):
                return
        raise AssertionError(f"{code!r} did not finish")

    def reply(self, comm_id: str, request_id: str) -> dict[str, Any]:
        message = self.wait_for(
            lambda m: m.get("comm_id") == comm_id and (m.get("data") or {}).get("id") == request_id
        )
        return dict(message["data"])


def test_handshake_status_save_restore_and_autorestore(open_kernel: Any) -> None:
    k = open_kernel()
    fe = Frontend(k)
    fe.execute("%load_ext ipyckpt")
    announced = fe.wait_for(lambda m: m["msg_type"] == "comm_open")
    assert announced["target_name"] == TARGET
    assert announced["data"]["type"] == "hello"
    assert announced["data"]["version"] == PROTOCOL_VERSION
    assert announced["data"]["status"]["store"].endswith(".ipyckpt/analysis.ipynb")
    assert announced["data"]["status"]["autorestore"] is None

    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h1"})
    hello = fe.reply(comm_id, "h1")
    assert hello["ok"] is True and hello["result"]["last_save"] is None

    fe.execute("%%checkpoint\nx = 41\ngen = (i for i in range(3))")
    saved = fe.wait_for(
        lambda m: m.get("comm_id") == comm_id and (m.get("data") or {}).get("event") == "saved"
    )
    status = saved["data"]["status"]
    assert status["last_save"]["generation"] == 1
    assert status["last_save"]["trigger"] == "end"
    assert "gen" in status["last_save"]["skipped"]
    assert status["saving"] is None
    assert any((m.get("data") or {}).get("event") == "saving" for m in fe.messages), (
        "the frontend hears that a save starts"
    )

    k.run("x = 99")
    fe.request(comm_id, {"type": "save", "id": "s1"})
    save = fe.reply(comm_id, "s1")
    assert save["ok"] is True and save["result"]["generation"] == 2
    assert save["result"]["trigger"] == "manual"

    fe.request(comm_id, {"type": "restore", "id": "r1", "generation": 1, "names": ["x"]})
    restore = fe.reply(comm_id, "r1")
    assert restore["ok"] is True, restore
    assert restore["result"]["restored"] == ["x"] and restore["result"]["generation"] == 1
    assert k.value("x") == 41

    fe.request(comm_id, {"type": "restore", "id": "r2", "generation": 17})
    missing = fe.reply(comm_id, "r2")
    assert missing["ok"] is False and "17" in missing["error"]
    fe.request(comm_id, {"type": "bogus", "id": "b1"})
    assert fe.reply(comm_id, "b1")["ok"] is False
    fe.request(comm_id, {"type": "status", "id": "st"})
    assert fe.reply(comm_id, "st")["ok"] is True, "the comm survives bad requests"

    # restart: the frontend loads the extension silently; the kernel announces what it restored
    k.km.restart_kernel(now=True)
    k.client.wait_for_ready(timeout=60)
    fe.messages.clear()
    k.client.execute("%load_ext ipyckpt", silent=True, store_history=False)
    announced = fe.wait_for(lambda m: m["msg_type"] == "comm_open")
    auto = announced["data"]["status"]["autorestore"]
    assert auto is not None and auto["auto"] is True
    assert auto["generation"] == 2 and auto["restored"] == ["x"]
    assert "gen" in auto["skipped"]
    assert k.value("x") == 99


def test_version_mismatch_is_one_clear_message(open_kernel: Any) -> None:
    k = open_kernel()
    fe = Frontend(k)
    k.run("%load_ext ipyckpt")
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION + 1, "id": "h"})
    reply = fe.reply(comm_id, "h")
    assert reply["ok"] is False and reply["code"] == "version"
    assert f"protocol version {PROTOCOL_VERSION + 1}" in reply["error"]
    assert "install the same ipyckpt version" in reply["error"]
    assert "Traceback" not in reply["error"]


def test_refused_autorestore_is_reported(open_kernel: Any, tmp_path: Any) -> None:
    k = open_kernel()
    k.run("%load_ext ipyckpt")
    k.run("%%checkpoint\ny = 5")
    k.km.restart_kernel(now=True)
    k.client.wait_for_ready(timeout=60)
    # a different signing key: the checkpoint is no longer trusted
    k.run(
        "import os, pathlib; d = pathlib.Path(os.environ['JUPYTER_DATA_DIR']) / 'ipyckpt';"
        "(d / 'signing.key').unlink()"
    )
    fe = Frontend(k)
    k.client.execute("%load_ext ipyckpt", silent=True, store_history=False)
    announced = fe.wait_for(lambda m: m["msg_type"] == "comm_open")
    status = announced["data"]["status"]
    assert status["autorestore"] is None
    assert "not restoring" in status["restore_refused"]
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h"})
    fe.reply(comm_id, "h")
    fe.request(comm_id, {"type": "restore", "id": "t", "trust": True})
    assert fe.reply(comm_id, "t")["ok"] is True
    assert k.value("y") == 5


def test_no_extension_no_target(open_kernel: Any) -> None:
    k = open_kernel()
    fe = Frontend(k)
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h"})
    closed = fe.wait_for(lambda m: m["msg_type"] == "comm_close" and m["comm_id"] == comm_id)
    assert closed


def test_progress_is_pushed_while_a_snapshot_is_written(open_kernel: Any) -> None:
    k = open_kernel()
    fe = Frontend(k)
    fe.execute("%load_ext ipyckpt")
    fe.wait_for(lambda m: m["msg_type"] == "comm_open")
    fe.execute(
        "%%checkpoint\nimport numpy as np\nbig = np.arange(40_000_000.0)"
    )  # 320 MB, no equal chunks
    fe.execute("import ipyckpt.kernel.comm as kc; kc.PROGRESS_EVERY_S = 0.0\nbig += 1")
    fe.messages.clear()
    fe.execute("%checkpoint save")
    progress = [m["data"] for m in fe.messages if (m.get("data") or {}).get("type") == "progress"]
    assert progress, "progress pushes during a 320 MB save"
    assert all(p["trigger"] == "manual" and p["estimate"] > 0 for p in progress)
    assert progress[-1]["done"] > 0
    events = [(m.get("data") or {}).get("event") for m in fe.messages]
    assert [e for e in events if e] == ["saving", "saved"]


def test_a_kernel_start_is_told_once_and_a_later_load_is_no_start(open_kernel: Any) -> None:
    """JupyterLab notifies only about a real kernel start, and only once (the kernel remembers)."""
    k = open_kernel()
    fe = Frontend(k)
    fe.execute("%load_ext ipyckpt\n%checkpoint save")
    k.km.restart_kernel(now=True)
    k.client.wait_for_ready(timeout=60)
    fe.messages.clear()
    fe.execute("x = 1\n%load_ext ipyckpt")
    status = fe.wait_for(lambda m: m["msg_type"] == "comm_open")["data"]["status"]
    assert status["fresh_kernel"] is True and status["noticed"] is False
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h"})
    fe.reply(comm_id, "h")
    fe.request(comm_id, {"type": "noticed", "id": "n"})
    assert fe.reply(comm_id, "n")["ok"] is True
    fe.request(comm_id, {"type": "status", "id": "s"})
    assert fe.reply(comm_id, "s")["result"]["noticed"] is True, "a reloaded page stays quiet"

    fe.messages.clear()
    fe.execute("%reset -f\n%unload_ext ipyckpt\n%load_ext ipyckpt")
    again = fe.wait_for(lambda m: m["msg_type"] == "comm_open")["data"]["status"]
    assert again["autorestore"] is not None, "the state came back"
    assert again["fresh_kernel"] is False, "but no kernel started"


def test_clear_is_pushed_at_once(open_kernel: Any) -> None:
    k = open_kernel()
    fe = Frontend(k)
    fe.execute("%load_ext ipyckpt\n%checkpoint save")
    comm_id = fe.open({"type": "hello", "version": PROTOCOL_VERSION, "id": "h"})
    assert fe.reply(comm_id, "h")["result"]["last_save"] is not None
    fe.execute("%checkpoint clear --yes")
    cleared = fe.wait_for(lambda m: (m.get("data") or {}).get("event") == "cleared")
    assert cleared["data"]["status"]["last_save"] is None
