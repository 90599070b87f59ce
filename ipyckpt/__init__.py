"""Crash-safe state checkpoints for Jupyter notebooks.

Importing this package is cheap and has no side effects: the storage engine (and dill) load on
first use of :class:`Store`; everything IPython-related is registered by ``%load_ext ipyckpt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipyckpt._version import __version__

__all__ = [
    "CheckpointCorrupt",
    "CheckpointUntrusted",
    "CheckpointWriteError",
    "IpyckptError",
    "LoadReport",
    "NoCheckpoint",
    "SaveReport",
    "Store",
    "StoreBusy",
    "StoreFormatError",
    "StoreUnsafe",
    "__version__",
]

_LAZY = {
    "Store": "ipyckpt.store.engine",
    "SaveReport": "ipyckpt.store.reports",
    "LoadReport": "ipyckpt.store.reports",
    "IpyckptError": "ipyckpt.store.errors",
    "CheckpointCorrupt": "ipyckpt.store.errors",
    "CheckpointUntrusted": "ipyckpt.store.errors",
    "CheckpointWriteError": "ipyckpt.store.errors",
    "NoCheckpoint": "ipyckpt.store.errors",
    "StoreBusy": "ipyckpt.store.errors",
    "StoreFormatError": "ipyckpt.store.errors",
    "StoreUnsafe": "ipyckpt.store.errors",
}

if TYPE_CHECKING:
    from ipyckpt.store.engine import Store
    from ipyckpt.store.errors import (
        CheckpointCorrupt,
        CheckpointUntrusted,
        CheckpointWriteError,
        IpyckptError,
        NoCheckpoint,
        StoreBusy,
        StoreFormatError,
        StoreUnsafe,
    )
    from ipyckpt.store.reports import LoadReport, SaveReport


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ipyckpt' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext ipyckpt`` (see :mod:`ipyckpt.kernel.extension`)."""
    from ipyckpt.kernel.extension import load_ipython_extension as load

    load(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext ipyckpt``."""
    from ipyckpt.kernel.extension import unload_ipython_extension as unload

    unload(ip)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """jupyter_server: the REST handlers of the JupyterLab extension (:mod:`ipyckpt.server`)."""
    return [{"module": "ipyckpt.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """JupyterLab: where the prebuilt extension lives in a development checkout."""
    return [{"src": "labextension", "dest": "ipyckpt"}]


def safepoint() -> None:
    """Take a state snapshot here if one is due (no-op outside ``%%checkpoint``)."""
    from ipyckpt.safepoints import safepoint as take

    take()
