"""What a job asks of HTCondor: submit commands, resources, a sweep's ``queue ... from``.

:func:`describe` is a pure function: it turns a job's settings into the submit commands (a
``dict``) that both backends use (the schedd through :mod:`ipyckpt.condor.schedd`, the local
emulation directly). The runner's exit codes (:mod:`ipyckpt.exitcodes`) reach the pool here, as
``checkpoint_exit_code`` and ``retry_until``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ipyckpt.exitcodes import EXIT_CHECKPOINT, NO_RETRY_EXIT_CODES

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

LOG = "job.log"
ITEM = "ipyckpt_item"  # the itemdata variable naming a sweep job's folder
LABEL = "ipyckpt_params"  # ... and the one describing its parameters (for humans)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+:/ -]")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|[KMGT])?\s*$", re.IGNORECASE)


def file_list(value: str) -> list[str]:
    """The names in a comma-separated submit list (``transfer_output_files = a, b``)."""
    return [item.strip() for item in value.split(",") if item.strip()]


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
    per_item: bool = False,
    transfer_on_evict: bool = False,
) -> dict[str, str]:
    """The submit commands for a cell job (see ``ALLOWED_KEYS``); paths relative to ``iwd``.

    Without ``image`` the job runs ``python`` (the notebook's interpreter, not transferred);
    with it, ``python3`` inside the container image. ``per_item``: one job per item of a sweep
    (:func:`queue_statement`), each in the folder ``iwd/$(ipyckpt_item)``, sharing one user log.
    ``transfer_on_evict``: the checkpoint written on SIGTERM is transferred too.
    """
    bootstrap = Path(input_files[0]).name
    desc = {
        "universe": "vanilla",
        "executable": python if image is None else "/usr/bin/env",
        "arguments": bootstrap if image is None else f"python3 {bootstrap}",
        "transfer_executable": "false",
        "initialdir": f"{iwd}/$({ITEM})" if per_item else str(iwd),
        "transfer_input_files": ", ".join(input_files),
        "transfer_output_files": ", ".join(output_files),
        "should_transfer_files": "YES",
        "when_to_transfer_output": "ON_EXIT_OR_EVICT" if transfer_on_evict else "ON_EXIT",
        "checkpoint_exit_code": str(EXIT_CHECKPOINT),
        "transfer_checkpoint_files": ", ".join(checkpoint_files),
        "max_retries": str(max_retries),
        # exit codes that retrying cannot fix: max_retries does not re-run them
        "retry_until": " || ".join(f"ExitCode =?= {c}" for c in NO_RETRY_EXIT_CODES),
        "request_cpus": str(resources.cpus),
        "request_memory": check_size(resources.memory, "request_memory"),
        "request_disk": check_size(resources.disk, "request_disk"),
        "job_max_vacate_time": str(vacate_time),
        "log": str(iwd / LOG) if per_item else LOG,
        "output": "job.out",
        "error": "job.err",
        "submit_event_notes": f"{name} $({LABEL})" if per_item else name,
        "batch_name": name,
    }
    if resources.gpus:
        desc["request_gpus"] = str(resources.gpus)
    if image is not None:
        desc["container_image"] = image
    unknown = set(desc) - ALLOWED_KEYS
    assert not unknown, unknown  # a programming error, caught by the unit tests
    return desc


def item_label(text: str) -> str:
    """A parameter label safe in a ``queue ... from`` line (no newline, parenthesis, macro)."""
    return _UNSAFE.sub("_", text)[:200] or "_"


def queue_statement(items: list[dict[str, str]]) -> str:
    """The arguments of ``queue`` for a sweep: ``ipyckpt_item, ipyckpt_params from (...)``."""
    lines = "".join(f"{item[ITEM]} {item[LABEL]}\n" for item in items)
    return f"{ITEM}, {LABEL} from (\n{lines})"


def expand(desc: dict[str, str], item: dict[str, str]) -> dict[str, str]:
    """``desc`` for one item of a sweep: its ``$(var)`` macros replaced, as HTCondor does."""

    def one(value: str) -> str:
        for var, text in item.items():
            value = value.replace(f"$({var})", text)
        return value

    return {key: one(value) for key, value in desc.items()}


def as_text(desc: dict[str, str], items: list[dict[str, str]] | None = None) -> str:
    """The description as a submit file (``key = value`` lines and ``queue``)."""
    queue = f"queue {queue_statement(items)}\n" if items else "queue\n"
    return "".join(f"{k} = {v}\n" for k, v in desc.items()) + queue
