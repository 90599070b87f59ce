"""The ``%%condor`` options, as one :class:`ipyckpt.magicargs.OptionTable`.

``name=NAME vars=a,b returns=x,y every=30m request_cpus=N request_memory=4GB request_disk=2GB
request_gpus=N image=CONTAINER max_retries=N backend=schedd|local transfer_on_evict=yes|no
map=NAME``; ``--key value`` works too. A grid, ``map a=1,2 b=x,y``, is split off the line first
(:func:`ipyckpt.condor.sweep.split_map_line`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ipyckpt.condor.description import check_size
from ipyckpt.condor.record import check_job_name
from ipyckpt.durations import parse_duration
from ipyckpt.magicargs import Option, OptionError, OptionTable, one_of, whole_number
from ipyckpt.namespace import parse_name_list

BACKENDS = ("schedd", "local")


class CondorOptionError(OptionError):
    """A bad ``%%condor`` argument (the magic raises it as ``UsageError``)."""


def check_backend(value: str) -> str:
    """The one check of a backend name (option, ``CondorMagics.backend``, ``submit_cell``)."""
    if value not in BACKENDS:
        raise ValueError("use backend=schedd (your pool) or backend=local (emulation)")
    return value


def _size(key: str) -> Option:
    example = "4GB" if key == "request_memory" else "2GB"
    return Option(
        key, f"{key}={example}", f"{key} of the job", lambda value: check_size(value, key)
    )


def _variable(value: str) -> str:
    if not value.isidentifier():
        raise ValueError("name a list, dict or DataFrame of this notebook, e.g. map=grid")
    return value


def _nonempty(value: str) -> str:
    if not value:
        raise ValueError("give a value")
    return value


CONDOR_OPTIONS = OptionTable(
    "%%condor",
    (
        Option("name", "name=NAME", "the job's name (default: job-1, job-2, ...)", check_job_name),
        Option(
            "vars", "vars=a,b", "inputs (default: the variables the cell reads)", parse_name_list
        ),
        Option(
            "returns",
            "returns=x,y",
            "what %condor fetch brings back (default: the variables the cell assigns)",
            parse_name_list,
        ),
        Option(
            "every",
            "every=30m",
            "the job checkpoints and exits 85 this often, then HTCondor restarts it from the "
            "checkpoint (default: CondorMagics.default_every)",
            parse_duration,
        ),
        Option("request_cpus", "request_cpus=N", "CPUs of the slot", whole_number(1)),
        _size("request_memory"),
        _size("request_disk"),
        Option("request_gpus", "request_gpus=N", "GPUs of the slot", whole_number(0)),
        Option("image", "image=CONTAINER", "container image (backend=schedd only)", _nonempty),
        Option(
            "max_retries",
            "max_retries=N",
            "restarts after a failure (default: CondorMagics.max_retries)",
            whole_number(0),
        ),
        Option(
            "backend",
            "backend=schedd|local",
            "your pool, or an emulation on this machine (default: CondorMagics.backend)",
            check_backend,
        ),
        Option(
            "transfer_on_evict",
            "transfer_on_evict=yes|no",
            "also transfer the checkpoint written when the job is evicted "
            "(default: CondorMagics.transfer_on_evict)",
            one_of({"yes": True, "no": False, "true": True, "false": False}, "use yes or no"),
        ),
        Option(
            "map",
            "map=NAME | map a=1,2 b=x,y",
            "a sweep: one job per element of the list, dict or DataFrame NAME, or per "
            "combination of the values given (one cluster; %condor fetch gathers the results)",
            _variable,
        ),
    ),
    CondorOptionError,
)
USAGE = CONDOR_OPTIONS.usage


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
    transfer_on_evict: bool | None = None
    map: str | None = None


def parse_condor_options(line: str) -> CondorOptions:
    """Parse the arguments of ``%%condor``; raise CondorOptionError saying what to write."""
    return CondorOptions(**CONDOR_OPTIONS.parse(line))  # type: ignore[arg-type]
