"""Notebook cells as self-checkpointing HTCondor jobs (``%%condor``, :func:`submit_cell`).

Importing this package is cheap: the bindings (``htcondor2``, the ``condor`` extra) are imported
only by :mod:`ipyckpt.condor.schedd`, and only when the ``schedd`` backend or the event-log
reader needs them. ``backend="local"`` is an emulation of an execute slot on this machine.

Modules, one concept each:

- ``api``: submitting a cell or a sweep (plan, write, start), finding jobs;
- ``record``: what the notebook knows of a job (its record, its status folded from its user
  log); ``job``: the handle ``CondorJob`` (status, wait, fetch, hold, vacate, remove);
- ``sweep``: parameter grids and collections, the ``Sweep`` handle, results by parameters;
- ``description``: submit commands, resources, a sweep's ``queue ... from``;
- ``schedd``: the only calls into ``htcondor2`` (submit, act, read a user log);
- ``payload``: what travels with a job (file names, per-job key, signed documents, versions);
- ``bootstrap``: the job's stdlib-only executable; ``runner``: the job side of a cell;
  ``restart``: which checkpoint a restarted job starts from (never a livelock);
- ``local``: the emulation of execute slots; ``eventlog``: HTCondor user logs;
- ``magics``, ``options`` and ``table``: ``%%condor``, ``%condor`` and its status table.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["CondorJob", "get_job", "list_jobs", "submit_cell"]
_WHERE = {
    "CondorJob": "ipyckpt.condor.job",
    "get_job": "ipyckpt.condor.api",
    "list_jobs": "ipyckpt.condor.api",
    "submit_cell": "ipyckpt.condor.api",
}

if TYPE_CHECKING:
    from ipyckpt.condor.api import get_job, list_jobs, submit_cell
    from ipyckpt.condor.job import CondorJob


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ipyckpt.condor' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
