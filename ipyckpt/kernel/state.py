"""The one per-shell object: everything ``%load_ext ipyckpt`` set up for one IPython shell.

It is stored on the shell itself (attribute ``_ipyckpt``) by :mod:`ipyckpt.kernel.extension`
and removed by ``%unload_ext``; no module keeps a registry of shells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ipyckpt.condor.magics import CondorMagics
    from ipyckpt.kernel.comm import KernelChannel
    from ipyckpt.kernel.magics import Checkpointer
    from ipyckpt.kernel.shutdown import ShutdownHooks
    from ipyckpt.session import StateSession

ATTRIBUTE = "_ipyckpt"


@dataclass
class KernelState:
    """What ipyckpt keeps for one shell: its magics (the settings), session, hooks, channel."""

    checkpointer: Checkpointer  # %%checkpoint / %checkpoint; its traitlets are the settings
    condor: CondorMagics  # %%condor / %condor
    hooks: ShutdownHooks  # SIGTERM and atexit snapshots
    channel: KernelChannel | None = None  # the JupyterLab comm (None without a kernel)

    @property
    def session(self) -> StateSession:
        """The notebook's state checkpoints."""
        return self.checkpointer.session


def state_of(shell: Any) -> KernelState | None:
    """The state of ``shell`` (None when the extension is not loaded)."""
    state = getattr(shell, ATTRIBUTE, None)
    return state if isinstance(state, KernelState) else None


def attach_state(shell: Any, state: KernelState) -> None:
    """Keep ``state`` on ``shell``."""
    setattr(shell, ATTRIBUTE, state)


def detach_state(shell: Any) -> KernelState | None:
    """Take the state off ``shell`` and return it."""
    state = state_of(shell)
    if state is not None:
        delattr(shell, ATTRIBUTE)
    return state
