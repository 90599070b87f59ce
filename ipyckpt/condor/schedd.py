"""The only module that imports HTCondor's Python bindings (``htcondor2``).

Building a real ``htcondor2.Submit``, talking to the schedd and reading a user log with
``JobEventLog`` are here; the bindings are imported lazily, so ``import ipyckpt.condor`` works
without them and the local emulation never needs them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ipyckpt.store.errors import IpyckptError

INSTALL_HINT = "the HTCondor features need the bindings: pip install 'ipyckpt[condor]'"


class BindingsMissing(IpyckptError):
    """``htcondor2`` is not installed (``pip install 'ipyckpt[condor]'``)."""


class ScheddUnavailable(IpyckptError):
    """The schedd could not be reached or refused the request."""


def _schedd_error(what: str, exc: Exception) -> ScheddUnavailable:
    return ScheddUnavailable(
        f"could not {what} through the HTCondor schedd: {exc}. Is a pool running here "
        "(try condor_q)? Without one, use backend=local (an emulation on this machine)"
    )


def bindings() -> Any:
    """``htcondor2``, or :class:`BindingsMissing` with the install command."""
    try:
        return importlib.import_module("htcondor2")
    except ImportError as exc:
        raise BindingsMissing(INSTALL_HINT) from exc


def to_submit(desc: dict[str, str]) -> Any:
    """A real ``htcondor2.Submit`` for ``desc``."""
    return bindings().Submit(dict(desc))


def submit(desc: dict[str, str], items: list[dict[str, str]] | None = None) -> int:
    """Submit ``desc`` to the local schedd (one job per item of ``items``, one cluster)."""
    htcondor2 = bindings()
    description = to_submit(desc)
    try:
        if items:
            result = htcondor2.Schedd().submit(description, itemdata=iter(items))
        else:
            result = htcondor2.Schedd().submit(description, count=1)
    except Exception as exc:  # HTCondorException and friends: say what to do instead
        raise _schedd_error("submit the job", exc) from exc
    return int(result.cluster())


def act(cluster: int, action: str, proc: int | None = None) -> None:
    """``Remove``, ``Vacate``, ``Hold`` or ``Release`` job ``proc`` (None: the whole cluster).

    Vacating or releasing also asks the schedd to reschedule, so the job does not sit idle.
    """
    htcondor2 = bindings()
    where = f"ClusterId == {cluster}" + ("" if proc is None else f" && ProcId == {proc}")
    try:
        schedd = htcondor2.Schedd()
        schedd.act(getattr(htcondor2.JobAction, action), where)
        if action in ("Vacate", "Release"):
            schedd.reschedule()
    except Exception as exc:
        raise _schedd_error(f"{action.lower()} job {cluster}", exc) from exc


def read_log(path: Path) -> list[dict[str, Any]] | None:
    """Events of a user log through ``htcondor2.JobEventLog`` (None without the bindings)."""
    try:
        htcondor2 = bindings()
    except BindingsMissing:
        return None
    if not path.exists():
        return []
    events = []
    for event in htcondor2.JobEventLog(str(path)).events(stop_after=0):
        item: dict[str, Any] = dict(event.items())
        item["EventTypeNumber"] = int(event.type)
        item["Timestamp"] = int(event.timestamp)
        events.append(item)
    return events
