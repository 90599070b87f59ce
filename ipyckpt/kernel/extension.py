"""``%load_ext ipyckpt``: register the magics, restore the notebook's state, arm shutdown hooks.

``%unload_ext ipyckpt`` undoes everything. Loading in a fresh kernel restores the newest good,
signed state checkpoint of this notebook (``c.Checkpointer.autorestore``), never overwriting a
variable already set in this kernel. What a load sets up is one
:class:`~ipyckpt.kernel.state.KernelState`, kept on the shell.
"""

from __future__ import annotations

import sys
from typing import Any

from ipyckpt.session import StateSession, one_line
from ipyckpt.store.errors import CheckpointUntrusted, NoCheckpoint


def load_ipython_extension(ip: Any) -> None:
    """Entry point of ``%load_ext ipyckpt``."""
    from ipyckpt.kernel.state import KernelState, attach_state, state_of

    if state_of(ip) is not None:
        return
    from ipyckpt.condor.magics import CondorMagics
    from ipyckpt.kernel import comm  # the JupyterLab extension's channel (no-op without a kernel)
    from ipyckpt.kernel.magics import Checkpointer
    from ipyckpt.kernel.shutdown import ShutdownHooks

    checkpointer = Checkpointer(shell=ip)
    session = checkpointer.session
    state = KernelState(
        checkpointer=checkpointer,
        condor=CondorMagics(shell=ip, session=session),
        hooks=ShutdownHooks(session, grace=lambda: float(checkpointer.shutdown_grace)),
    )
    ip.register_magics(state.checkpointer)
    ip.register_magics(state.condor)
    state.hooks.install()
    ip.events.register("post_run_cell", session.note_cell_run)
    from ipyckpt.kernel.autosave import CellWatcher

    checkpointer.cell_watcher = CellWatcher(checkpointer)
    checkpointer.cell_watcher.install()
    attach_state(ip, state)
    message = autorestore(session) if checkpointer.autorestore else None
    if message:
        print(message)
    state.channel = comm.attach(
        ip, session, lambda: bool(checkpointer.autorestore), autorestore_message=message
    )


def unload_ipython_extension(ip: Any) -> None:
    """Entry point of ``%unload_ext ipyckpt``: remove the magics and the hooks."""
    from ipyckpt.kernel.state import detach_state

    state = detach_state(ip)
    if state is None:
        return
    if state.channel is not None:
        state.channel.unregister()
    state.hooks.uninstall()
    ip.events.unregister("post_run_cell", state.session.note_cell_run)
    if state.checkpointer.cell_watcher is not None:
        state.checkpointer.cell_watcher.uninstall()
    for kind in ("line", "cell"):
        registered = ip.magics_manager.magics[kind]
        for name, owner in (("checkpoint", state.checkpointer), ("condor", state.condor)):
            if getattr(registered.get(name), "__self__", None) is owner:
                del registered[name]


def autorestore(session: StateSession) -> str | None:
    """Restore this notebook's newest good state checkpoint; return the message to show."""
    refused = session.check_own_store()  # may switch to the store of this notebook's old name
    if refused is not None:
        return refused
    if session.location is None or not (session.location / "generations").is_dir():
        return None
    try:
        outcome = session.restore(keep_existing=session.tracked_names())
    except CheckpointUntrusted as exc:
        return (
            f"ipyckpt: not restoring the state checkpoint: {exc}\n"
            "  to load it anyway: %checkpoint restore --trust"
        )
    except NoCheckpoint:
        return None
    except Exception as exc:  # never more than one line, whatever is in the store
        print(f"ipyckpt: could not restore the state checkpoint: {one_line(exc)}", file=sys.stderr)
        return None
    return str(outcome.summary())
