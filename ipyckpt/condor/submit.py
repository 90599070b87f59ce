"""Submit descriptions, and the only module that imports HTCondor's Python bindings.

:func:`describe` is a pure function: it turns a job's settings into the submit commands (a
``dict``) that both backends use. Everything that needs ``htcondor2`` (building a real
``htcondor2.Submit``, talking to the schedd, reading the event log with ``JobEventLog``) is here
and imports the bindings lazily, so ``import ipyckpt.condor`` works without them; the local
emulation never needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipyckpt.exitcodes import EXIT_CHECKPOINT, NO_RETRY_EXIT_CODES
from ipyckpt.store.errors import IpyckptError

INSTALL_HINT = "the HTCondor features need the bindings: pip install 'ipyckpt[condor]'"

#: Every submit command :func:`describe` may emit (the parser silently accepts misspelled keys,
#: so tests check each emitted key against this list and against the real parser's job ad).
ALLOWED_KEYS = frozenset(
    {
        "universe",
        "executable",
        "arguments",
        "transfer_executable",
        "initialdir",
        "transfer_input_files",
        "transfer_output_files",
        "should_transfer_files",
        "when_to_transfer_output",
        "checkpoint_exit_code",
        "transfer_checkpoint_files",
        "max_retries",
        "retry_until",
        "request_cpus",
        "request_memory",
        "request_disk",
        "request_gpus",
        "container_image",
        "job_max_vacate_time",
        "log",
        "output",
        "error",
        "submit_event_notes",
        "batch_name",
    }
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|[KMGT])?\s*$", re.IGNORECASE)


class BindingsMissing(IpyckptError):
    """``htcondor2`` is not installed (``pip install 'ipyckpt[condor]'``)."""


class ScheddUnavailable(IpyckptError):
    """The schedd could not be reached or refused the request."""


def _schedd_error(what: str, exc: Exception) -> ScheddUnavailable:
    return ScheddUnavailable(
        f"could not {what} through the HTCondor schedd: {exc}. Is a pool running here "
        "(try condor_q)? Without one, use backend=local (an emulation on this machine)"
    )


@dataclass(frozen=True)
class Resources:
    """``request_*`` values; sizes like ``4GB``, ``512MB`` or a number of MB."""

    cpus: int = 1
    memory: str = "1GB"
    disk: str = "1GB"
    gpus: int = 0


def check_size(text: str, what: str) -> str:
    """Validate a size for ``request_memory``/``request_disk`` (``4GB``, ``512MB``, ``100``)."""
    if not _SIZE.match(text):
        raise ValueError(f"{what}={text}: write a size such as 4GB, 512MB or 2048 (MB)")
    return text.strip().upper().replace("IB", "B")


def describe(
    *,
    python: str,
    input_files: list[str],
    checkpoint_files: list[str],
    output_files: list[str],
    resources: Resources,
    max_retries: int,
    name: str,
    iwd: Path,
    image: str | None = None,
    vacate_time: int = 60,
) -> dict[str, str]:
    """The submit commands for a cell job (see ``ALLOWED_KEYS``); paths relative to ``iwd``.

    Without ``image`` the job runs ``python`` (the notebook's interpreter, not transferred);
    with it, ``python3`` inside the container image.
    """
    bootstrap = Path(input_files[0]).name
    desc = {
        "universe": "vanilla",
        "executable": python if image is None else "/usr/bin/env",
        "arguments": bootstrap if image is None else f"python3 {bootstrap}",
        "transfer_executable": "false",
        "initialdir": str(iwd),
        "transfer_input_files": ", ".join(input_files),
        "transfer_output_files": ", ".join(output_files),
        "should_transfer_files": "YES",
        "when_to_transfer_output": "ON_EXIT",
        "checkpoint_exit_code": str(EXIT_CHECKPOINT),
        "transfer_checkpoint_files": ", ".join(checkpoint_files),
        "max_retries": str(max_retries),
        # exit codes that retrying cannot fix: max_retries does not re-run them
        "retry_until": " || ".join(f"ExitCode =?= {c}" for c in NO_RETRY_EXIT_CODES),
        "request_cpus": str(resources.cpus),
        "request_memory": check_size(resources.memory, "request_memory"),
        "request_disk": check_size(resources.disk, "request_disk"),
        "job_max_vacate_time": str(vacate_time),
        "log": "job.log",
        "output": "job.out",
        "error": "job.err",
        "submit_event_notes": name,
        "batch_name": name,
    }
    if resources.gpus:
        desc["request_gpus"] = str(resources.gpus)
    if image is not None:
        desc["container_image"] = image
    unknown = set(desc) - ALLOWED_KEYS
    assert not unknown, unknown  # a programming error, caught by the unit tests
    return desc


def as_text(desc: dict[str, str]) -> str:
    """The description as a submit file (``key = value`` lines and ``queue``)."""
    return "".join(f"{k} = {v}\n" for k, v in desc.items()) + "queue\n"


def bindings() -> Any:
    """``htcondor2``, or :class:`BindingsMissing` with the install command."""
    import importlib

    try:
        return importlib.import_module("htcondor2")
    except ImportError as exc:
        raise BindingsMissing(INSTALL_HINT) from exc


def to_submit(desc: dict[str, str]) -> Any:
    """A real ``htcondor2.Submit`` for ``desc``."""
    return bindings().Submit(dict(desc))


def schedd_submit(desc: dict[str, str]) -> int:
    """Submit ``desc`` to the local schedd; return the cluster id."""
    htcondor2 = bindings()
    description = to_submit(desc)
    try:
        result = htcondor2.Schedd().submit(description, count=1)
    except Exception as exc:  # HTCondorException and friends: say what to do instead
        raise _schedd_error("submit the job", exc) from exc
    return int(result.cluster())


def schedd_act(cluster: int, action: str) -> None:
    """``Remove`` or ``Vacate`` the job (a vacate also asks the schedd to reschedule)."""
    htcondor2 = bindings()
    try:
        schedd = htcondor2.Schedd()
        schedd.act(getattr(htcondor2.JobAction, action), f"ClusterId == {cluster}")
        if action == "Vacate":
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
