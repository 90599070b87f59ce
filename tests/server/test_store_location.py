"""The server finds a notebook's store where its kernel keeps it (IPYCKPT_STORE, directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_python

NOTEBOOK = "work/analysis.ipynb"

KERNEL_SAVES = """
import json, os, sys
from jupyter_client.manager import start_new_kernel

env = dict(os.environ, JPY_SESSION_NAME=sys.argv[1])
km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=os.path.dirname(sys.argv[1]))
try:
    for code in ("%load_ext ipyckpt", "x = 41", "%checkpoint save", "%checkpoint save"):
        reply = kc.execute_interactive(code, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    kc.execute_interactive(
        "print('STORE', __import__('ipyckpt.kernel.state').kernel.state.state_of("
        "get_ipython()).session.location)", timeout=60,
    )
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def kernel_saves_twice(root: Path) -> str:
    """A real kernel of ``root/NOTEBOOK`` saves two generations; return where (it prints it)."""
    notebook = root / NOTEBOOK
    notebook.parent.mkdir(parents=True, exist_ok=True)
    notebook.write_text("{}")
    out = run_python(KERNEL_SAVES, str(notebook)).stdout
    return next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("STORE "))


async def listed(jp_fetch: Any) -> dict[str, Any]:
    response = await jp_fetch("ipyckpt", "generations", params={"path": NOTEBOOK})
    body: dict[str, Any] = json.loads(response.body)
    return body


async def test_the_server_honours_ipyckpt_store(
    jp_fetch: Any, jp_root_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "batch-store"  # outside the server root: configured by the user
    monkeypatch.setenv("IPYCKPT_STORE", str(store))  # the server's and its kernels' environment
    assert kernel_saves_twice(jp_root_dir) == str(store)
    body = await listed(jp_fetch)
    assert body["store"] == str(store)
    assert [g["id"] for g in body["generations"]] == [2, 1]


async def test_the_server_honours_checkpointer_directory(
    jp_fetch: Any, jp_root_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IPYCKPT_STORE", raising=False)
    ipython_dir = tmp_path / "ipython"
    (ipython_dir / "profile_default").mkdir(parents=True)
    folder = tmp_path / "all-checkpoints"
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    config.write_text(f"c.Checkpointer.directory = {str(folder)!r}\n")
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    assert kernel_saves_twice(jp_root_dir) == str(folder / "analysis.ipynb")
    body = await listed(jp_fetch)
    assert body["store"] == str(folder / "analysis.ipynb")
    assert [g["id"] for g in body["generations"]] == [2, 1]
    assert not (jp_root_dir / "work" / ".ipyckpt").exists()
