"""Notebook cells as self-checkpointing HTCondor jobs (``%%condor``, :func:`submit_cell`).

Importing this package is cheap: the bindings (``htcondor2``, the ``condor`` extra) are imported
only by :mod:`ipyckpt.condor.submit`, and only when the ``schedd`` backend or the event-log
reader needs them. ``backend="local"`` is an emulation of an execute slot on this machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["CondorJob", "get_job", "list_jobs", "submit_cell"]

if TYPE_CHECKING:
    from ipyckpt.condor.api import CondorJob, get_job, list_jobs, submit_cell


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'ipyckpt.condor' has no attribute {name!r}")
    from ipyckpt.condor import api

    return getattr(api, name)
