"""The jupyter_server extension: read a notebook's state checkpoints over REST, kernel or not.

Enabled by ``etc/jupyter/jupyter_server_config.d/ipyckpt.json``, which the wheel installs. The
JupyterLab panel lists, verifies and deletes generations through it, so it works while the
kernel is dead or busy. Restoring needs the kernel and goes through :mod:`ipyckpt.kernel.comm`.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "ipyckpt.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from ipyckpt.server.handlers import setup_handlers

    setup_handlers(serverapp.web_app)
    serverapp.log.info("ipyckpt: state checkpoint REST handlers at /ipyckpt/")
