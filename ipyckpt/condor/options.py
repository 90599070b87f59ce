"""Parsing of the ``%%condor`` line (pure functions; exact error texts are unit-tested).

``name=NAME vars=a,b returns=x,y every=30m request_cpus=N request_memory=4GB request_disk=2GB
request_gpus=N image=CONTAINER max_retries=N backend=schedd|local``; ``--key value`` works too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipyckpt.condor.jobs import check_job_name
from ipyckpt.condor.submit import check_size
from ipyckpt.durations import parse_duration
from ipyckpt.namespace import parse_name_list
from ipyckpt.options import key_value_pairs

USAGE = (
    "%%condor [name=NAME] [vars=a,b] [returns=x,y] [every=30m] [request_cpus=N] "
    "[request_memory=4GB] [request_disk=2GB] [request_gpus=N] [image=CONTAINER] "
    "[max_retries=N] [backend=schedd|local]"
)
_KEYS = (
    "name",
    "vars",
    "returns",
    "every",
    "request_cpus",
    "request_memory",
    "request_disk",
    "request_gpus",
    "image",
    "max_retries",
    "backend",
)
_INTS = {"request_cpus": 1, "request_gpus": 0, "max_retries": 0}  # minimum values


class CondorOptionError(ValueError):
    """A bad ``%%condor`` argument (the magic raises it as ``UsageError``)."""


@dataclass(frozen=True)
class CondorOptions:
    """What a ``%%condor`` line asked for; None means "use the default"."""

    name: str | None = None
    vars: tuple[str, ...] | None = None
    returns: tuple[str, ...] | None = None
    every: float | None = None
    request_cpus: int | None = None
    request_memory: str | None = None
    request_disk: str | None = None
    request_gpus: int | None = None
    image: str | None = None
    max_retries: int | None = None
    backend: str | None = None


def _convert(key: str, value: str) -> object:
    if key in ("vars", "returns"):
        return parse_name_list(value)
    if key == "every":
        return parse_duration(value)
    if key == "name":
        return check_job_name(value)
    if key in ("request_memory", "request_disk"):
        return check_size(value, key)
    if key in _INTS:
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < _INTS[key]:
            raise ValueError(f"use a whole number >= {_INTS[key]} (got {value!r})")
        return number
    if key == "backend" and value not in ("schedd", "local"):
        raise ValueError("use backend=schedd (your pool) or backend=local (emulation)")
    if not value:
        raise ValueError("give a value")
    return value


def parse_condor_options(line: str) -> CondorOptions:
    """Parse the arguments of ``%%condor``; raise CondorOptionError saying what to write."""
    values: dict[str, object] = {}
    for key, value in key_value_pairs(line, _KEYS, USAGE, CondorOptionError):
        try:
            values[key] = _convert(key, value)
        except ValueError as exc:
            raise CondorOptionError(f"{key}={value}: {exc}") from None
    return CondorOptions(**values)  # type: ignore[arg-type]
