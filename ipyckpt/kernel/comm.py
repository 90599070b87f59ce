"""The kernel end of the JupyterLab extension's channel: a ``comm`` target named ``ipyckpt``.

Messages are JSON dicts with a ``type``. The frontend opens a comm (after every kernel start or
restart) with ``{"type": "hello", "version": N}``; the kernel also opens one itself when the
extension loads, so a frontend learns about a ``%load_ext ipyckpt`` run by hand. Requests carry
an ``id`` and get exactly one ``{"type": "reply", "id": ..., "ok": bool, ...}``; a failing
handler becomes an error reply, never a broken comm. Unprompted, the kernel pushes
``{"type": "status", "event": ..., "status": {...}}`` (saving, saved, save_failed, restored) and
throttled ``{"type": "progress", ...}`` while a snapshot is written.

Requests: ``hello``, ``status``, ``save`` (all tracked variables, trigger ``manual``),
``restore`` (``generation``, ``cell``, ``names``, ``trust``; exactly ``%checkpoint restore``:
with ``cell`` the state right after that cell), ``recompute`` (``generation`` of the last
restore; exactly ``%checkpoint restore --recompute``, only ever on a user's click), ``noticed``
(a frontend told the user what the kernel restored at its start: no other frontend, nor a
reloaded page, tells it again). A restore's JSON carries ``recompute``: the cells the button
would re-run.

The protocol version and the comm target come from ``comm_protocol.json`` beside this module, the
file the JupyterLab extension is built from.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipyckpt._version import __version__
from ipyckpt.background import ForkedSaver
from ipyckpt.store.errors import IpyckptError

if TYPE_CHECKING:
    from ipyckpt.session import RestoreOutcome, StateSession
    from ipyckpt.store.reports import SaveReport

_PROTOCOL = json.loads((Path(__file__).parent / "comm_protocol.json").read_text())
TARGET: str = _PROTOCOL["target"]
PROTOCOL_VERSION: int = _PROTOCOL["version"]
PROGRESS_EVERY_S = 0.25

# set by the first %load_ext in this process: a later one (after %unload_ext) is no kernel start
_ATTACHED_ONCE = threading.Event()


def save_dict(report: SaveReport, when: float) -> dict[str, Any]:
    """A :class:`SaveReport` as JSON for the frontend."""
    return {
        "generation": report.generation,
        "trigger": report.trigger,
        "time": when,
        "variables": len(report.saved) + len(report.carried),
        "saved": list(report.saved),
        "skipped": dict(report.skipped),
        "bytes_total": report.bytes_total,
        "bytes_written": report.bytes_written,
        "seconds": report.seconds,
    }


def recompute_offer(session: StateSession, outcome: RestoreOutcome) -> dict[str, Any] | None:
    """What the notification's Recompute button would re-run (None: nothing is missing)."""
    from ipyckpt.kernel.timetravel import recompute_plan

    plan = recompute_plan(session, outcome)
    if plan is None:
        return None
    return {
        "cells": [
            {"count": s.cell.count, "cell": s.cell.label(), "makes": s.makes, "imports": s.imports}
            for s in plan.steps
        ],
        "refusals": list(plan.refusals),
        "unknown": list(plan.unknown),
    }


def restore_dict(session: StateSession, outcome: RestoreOutcome, *, auto: bool) -> dict[str, Any]:
    """A :class:`RestoreOutcome` as JSON for the frontend (``recompute``: as of now)."""
    report = outcome.report
    return {
        "generation": report.generation,
        "created": report.created,
        "trigger": report.trigger,
        "restored": list(outcome.restored),
        "conflicts": list(outcome.conflicts),
        "failed": dict(report.failed),
        "skipped": dict(report.skipped_at_save),
        "notes": list(report.notes),
        "auto": auto,
        "summary": outcome.summary().removeprefix("ipyckpt: "),
        "removed": list(outcome.removed),
        "missing": outcome.missing,
        "made_by": dict(outcome.made_by),
        "recompute": recompute_offer(session, outcome),
    }


def version_mismatch(theirs: object) -> str | None:
    """The one message shown when the frontend and the kernel speak different protocols."""
    if theirs == PROTOCOL_VERSION:
        return None
    return (
        f"The ipyckpt JupyterLab extension speaks protocol version {theirs}, but ipyckpt "
        f"{__version__} in this kernel speaks version {PROTOCOL_VERSION}: install the same "
        "ipyckpt version in the kernel's environment and in JupyterLab's, then reload the page."
    )


class KernelChannel:
    """Every open ``ipyckpt`` comm of one kernel, and what the frontend must know."""

    def __init__(
        self,
        session: StateSession,
        autorestore_enabled: Callable[[], bool],
        autorestore_message: str | None = None,
        *,
        fresh_kernel: bool = True,
    ) -> None:
        self.session = session
        self.autorestore_enabled = autorestore_enabled  # the live Checkpointer.autorestore
        self.comms: list[Any] = []
        self.token = uuid.uuid4().hex  # one per extension load: the frontend notifies once
        self.saving: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.last_saved_at: float | None = None
        self._progress_sent = 0.0
        last = self.session.last_restore
        self.autorestore = restore_dict(session, last, auto=True) if last is not None else None
        # autorestore printed a message but restored nothing: refused (unsigned) or failed
        self.restore_refused = autorestore_message if last is None else None
        # the restore (or refusal) above happened as this kernel process started, and no
        # frontend has told the user yet: only then does JupyterLab show a notification
        self.fresh_kernel = fresh_kernel
        self.noticed = False
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "hello": self._hello,
            "status": lambda data: self.status(),
            "save": self._save,
            "restore": self._restore,
            "noticed": self._noticed,
            "recompute": self._recompute,
        }

    # ------------------------------------------------------------------ lifecycle
    def register(self) -> None:
        """Accept comms from the frontend and observe the session."""
        import comm

        comm.get_comm_manager().register_target(TARGET, self._on_open)
        self.session.listeners.append(self._on_event)

    def unregister(self) -> None:
        """Stop accepting comms, close the open ones, stop observing."""
        import comm

        manager = comm.get_comm_manager()
        if manager.targets.get(TARGET) == self._on_open:
            manager.unregister_target(TARGET, self._on_open)
        if self._on_event in self.session.listeners:
            self.session.listeners.remove(self._on_event)
        for c in list(self.comms):
            c.close()
        self.comms.clear()

    def announce(self) -> None:
        """Open a comm from the kernel (the frontend may not be listening: that is fine)."""
        import comm

        opened = comm.create_comm(
            target_name=TARGET,
            data={"type": "hello", "version": PROTOCOL_VERSION, "status": self.status()},
        )
        self._adopt(opened)

    def _on_open(self, opened: Any, msg: dict[str, Any]) -> None:
        self._adopt(opened)
        data = msg.get("content", {}).get("data") or {}
        if data.get("type") == "hello":
            self._dispatch(opened, data)

    def _adopt(self, opened: Any) -> None:
        self.comms.append(opened)
        opened.on_msg(lambda msg: self._dispatch(opened, msg["content"]["data"] or {}))
        opened.on_close(lambda msg: self.comms.remove(opened) if opened in self.comms else None)

    # ------------------------------------------------------------------ requests
    def _dispatch(self, target: Any, data: dict[str, Any]) -> None:
        kind, request_id = data.get("type"), data.get("id")
        handler = self.handlers.get(str(kind))
        if handler is None:
            reply = {"ok": False, "error": f"unknown request type {kind!r}"}
        else:
            try:
                reply = {"ok": True, "result": handler(data)}
            except _Refused as exc:
                reply = {"ok": False, "error": str(exc), "code": exc.code}
            except (IpyckptError, ValueError) as exc:
                reply = {"ok": False, "error": str(exc), "code": type(exc).__name__}
            except Exception as exc:  # a handler error is a reply, never a broken comm
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "code": "internal"}
        target.send({"type": "reply", "id": request_id, **reply})

    def _hello(self, data: dict[str, Any]) -> dict[str, Any]:
        problem = version_mismatch(data.get("version"))
        if problem:
            raise _Refused(problem, "version")
        return self.status()

    def _save(self, data: dict[str, Any]) -> dict[str, Any]:
        report = self.session.save(self.session.tracked_names(), trigger="manual")
        return save_dict(report, self.last_saved_at or time.time())

    def _restore(self, data: dict[str, Any]) -> dict[str, Any]:
        from ipyckpt.kernel.timetravel import restore_to

        generation, cell, names = data.get("generation"), data.get("cell"), data.get("names")
        outcome = restore_to(
            self.session,
            generation=int(generation) if generation is not None else None,
            cell=int(cell) if cell is not None else None,
            names=[str(n) for n in names] if names else None,
            trust=bool(data.get("trust", False)),
        )
        return restore_dict(self.session, outcome, auto=False)

    def _recompute(self, data: dict[str, Any]) -> dict[str, Any]:
        """Re-run the cells that made what the last restore (of ``generation``) did not bring
        back: exactly ``%checkpoint restore --recompute``, asked for by the user's click."""
        from ipyckpt.kernel.timetravel import recompute_missing

        outcome = self.session.last_restore
        if outcome is None or outcome.report.generation != data.get("generation"):
            raise _Refused(
                "not re-running any cell: this kernel's last restore is not the one shown; "
                "restore again, then recompute",
                "stale",
            )
        report = recompute_missing(self.session, outcome)
        self._push({"type": "status", "event": "recomputed", "status": self.status()})
        return report.to_json()

    def _noticed(self, data: dict[str, Any]) -> bool:
        self.noticed = True
        return True

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        """Everything the status bar and the notifications need."""
        from ipyckpt.kernel.timetravel import autosave_status

        session = self.session
        location = session.location
        save = session.last_save
        restore = session.last_restore
        return {
            "protocol": PROTOCOL_VERSION,
            "ipyckpt": __version__,
            "token": self.token,
            "store": str(location) if location else None,
            "autorestore_enabled": bool(self.autorestore_enabled()),
            "autorestore": self.autorestore,
            "restore_refused": self.restore_refused,
            "last_save": save_dict(save, self.last_saved_at or time.time()) if save else None,
            "saving": self.saving,
            "last_error": self.last_error,
            "last_restore": restore_dict(session, restore, auto=False) if restore else None,
            "fresh_kernel": self.fresh_kernel,
            "noticed": self.noticed,
            "protection": autosave_status(self.session),
        }

    def _push(self, message: dict[str, Any]) -> None:
        for c in list(self.comms):
            try:
                c.send(message)
            except Exception:  # a closed frontend must not break the kernel
                self.comms.remove(c)

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "progress":
            now = time.monotonic()
            if self.saving is None or now - self._progress_sent < PROGRESS_EVERY_S:
                return
            self._progress_sent = now
            self.saving["done"] = data["done"]
            self._push({"type": "progress", **self.saving})
            return
        if event == "saving":
            self.saving = {"trigger": data["trigger"], "estimate": data["estimate"], "done": 0}
            self._progress_sent = time.monotonic()
            self._watch_background()
        elif event == "saved":
            self.saving, self.last_error = None, None
            self.last_saved_at = time.time()
        elif event == "save_failed":
            self.saving, self.last_error = None, data["error"]
        self._push({"type": "status", "event": event, "status": self.status()})

    def _watch_background(self) -> None:
        """While a forked child writes the snapshot, check on it from the kernel's event loop
        (only while no cell runs: the next cell collects it otherwise), so the frontend hears
        its progress and that it was published without waiting for another cell."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain shell): the next cell collects it
            return
        loop.call_later(PROGRESS_EVERY_S, self._check_background)

    def _check_background(self) -> None:
        saver = self.session.saver
        if not isinstance(saver, ForkedSaver) or self.saving is None:
            return  # saved in-process (already told), or already collected
        if self.session.history.running is None:
            saver.collect()  # an ended child is reported: session.saved -> "saved" pushed
        child = saver.child
        if child is None:
            return
        if child.done != self.saving["done"]:
            self.saving["done"] = child.done
            self._push({"type": "progress", **self.saving})
        self._watch_background()


class _Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def attach(
    ip: Any,
    session: StateSession,
    autorestore_enabled: Callable[[], bool],
    autorestore_message: str | None = None,
) -> KernelChannel | None:
    """Open the channel (after the automatic restore); None when there is nobody to talk to."""
    if getattr(ip, "kernel", None) is None:
        return None  # no kernel (plain IPython terminal): nobody to talk to
    fresh = not _ATTACHED_ONCE.is_set()
    _ATTACHED_ONCE.set()
    channel = KernelChannel(session, autorestore_enabled, autorestore_message, fresh_kernel=fresh)
    try:
        channel.register()
        channel.announce()
    except Exception:  # no comm support in this frontend: checkpoints work without a UI
        channel.unregister()
        return None
    return channel
