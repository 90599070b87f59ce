"""The storage engine: generations of signed manifests over content-addressed blobs.

This layer imports nothing above it (no IPython, no kernel, no condor). Importing the package is
cheap: :class:`Store` (and with it dill and blake3) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipyckpt.store.engine import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from ipyckpt.store.engine import Store

        return Store
    raise AttributeError(f"module 'ipyckpt.store' has no attribute {name!r}")
