"""``%load_ext ipyckpt``: register the magics, restore the notebook's state, arm shutdown hooks.

``%unload_ext ipyckpt`` undoes everything. Loading in a fresh kernel restores the newest good,
signed state checkpoint of this notebook (``c.Checkpointer.autorestore``), never overwriting a
variable already set in this kernel.
"""

from __future__ import annotations

import sys
from typing import Any

from ipyckpt.store.errors import CheckpointUntrusted, IpyckptError, NoCheckpoint

_STATE: dict[int, Any] = {}  # id(shell) -> (magics, shutdown hooks)
_CONDOR: dict[int, Any] = {}  # id(shell) -> CondorMagics (%%condor, %condor)


def load_ipython_extension(ip: Any) -> None:
    """Entry point of ``%load_ext ipyckpt``."""
    if id(ip) in _STATE:
        return
    from ipyckpt.kernel.magics import Checkpointer
    from ipyckpt.kernel.shutdown import ShutdownHooks

    magics = Checkpointer(shell=ip)
    ip.register_magics(magics)
    from ipyckpt.condor.magics import CondorMagics

    _CONDOR[id(ip)] = CondorMagics(shell=ip, checkpointer=magics)
    ip.register_magics(_CONDOR[id(ip)])
    hooks = ShutdownHooks(magics)
    hooks.install()
    ip.events.register("post_run_cell", magics.session.note_cell_run)
    _STATE[id(ip)] = (magics, hooks)
    message = autorestore(magics) if magics.autorestore else None
    if message:
        print(message)

    from ipyckpt.kernel import comm  # the JupyterLab extension's channel (no-op without a kernel)

    comm.attach(ip, magics, autorestore_message=message)


def unload_ipython_extension(ip: Any) -> None:
    """Entry point of ``%unload_ext ipyckpt``: remove the magics and the hooks."""
    state = _STATE.pop(id(ip), None)
    if state is None:
        return
    magics, hooks = state

    from ipyckpt.kernel import comm

    comm.detach(ip)
    hooks.uninstall()
    ip.events.unregister("post_run_cell", magics.session.note_cell_run)
    condor = _CONDOR.pop(id(ip), None)
    for kind in ("line", "cell"):
        registered = ip.magics_manager.magics[kind]
        for name, owner in (("checkpoint", magics), ("condor", condor)):
            if owner is not None and getattr(registered.get(name), "__self__", None) is owner:
                del registered[name]


def current_magics(ip: Any) -> Any:
    """The loaded :class:`Checkpointer` of ``ip`` (None if the extension is not loaded)."""
    state = _STATE.get(id(ip))
    return state[0] if state else None


def autorestore(magics: Any) -> str | None:
    """Restore this notebook's newest good state checkpoint; return the message to show."""
    session = magics.session
    if session.location is None or not (session.location / "generations").is_dir():
        return None
    from ipyckpt.kernel.commands import tracked_names

    existing = tracked_names(magics)
    try:
        outcome = session.restore(keep_existing=existing)
    except CheckpointUntrusted as exc:
        return (
            f"ipyckpt: not restoring the state checkpoint: {exc}\n"
            "  to load it anyway: %checkpoint restore --trust"
        )
    except NoCheckpoint:
        return None
    except IpyckptError as exc:
        print(f"ipyckpt: could not restore the state checkpoint: {exc}", file=sys.stderr)
        return None
    return str(outcome.summary())
