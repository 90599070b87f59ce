"""Notebook cells as self-checkpointing HTCondor jobs (``%%condor``, :func:`submit_cell`).

Importing this package is cheap: the bindings (``htcondor2``, the ``condor`` extra) are imported
only by :mod:`ipyckpt.condor.submit`, and only when the ``schedd`` backend or the event-log
reader needs them. ``backend="local"`` is an emulation of an execute slot on this machine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["CondorJob", "get_job", "list_jobs", "submit_cell"]
_WHERE = {
    "CondorJob": "ipyckpt.condor.handle",
    "get_job": "ipyckpt.condor.api",
    "list_jobs": "ipyckpt.condor.api",
    "submit_cell": "ipyckpt.condor.api",
}

if TYPE_CHECKING:
    from ipyckpt.condor.api import get_job, list_jobs, submit_cell
    from ipyckpt.condor.handle import CondorJob


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ipyckpt.condor' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
