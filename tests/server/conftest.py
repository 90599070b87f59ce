"""pytest-jupyter's server fixtures (jp_fetch, jp_serverapp, ...), for this folder only."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """A server with the ipyckpt extension enabled, as the wheel's config file enables it."""
    return {"ServerApp": {"jpserver_extensions": {"ipyckpt": True}}}
