"""The wheel carries the prebuilt JupyterLab extension: installed where there is no Node, both
the labextension and the server extension are enabled."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(cmd: list[str], env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    out = ANSI.sub("", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{out}")
    return out


def path_without_node() -> str:
    """PATH minus every directory holding node (and minus the development venv)."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d) / "node").exists() and Path(d) != Path(sys.executable).parent
    ]
    return os.pathsep.join(keep)


@pytest.mark.slow
def test_wheel_installs_both_extensions_without_node(tmp_path: Path) -> None:
    if not (REPO / "ipyckpt" / "labextension" / "static" / "style.js").exists():
        pytest.fail("build the JupyterLab extension first (bash dev/test.sh does)")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    dist = tmp_path / "dist"
    # the development venv has the build requirements; the prebuilt extension is reused
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(dist), str(REPO)],
        env,
    )  # fmt: skip
    (wheel,) = dist.glob("ipyckpt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = f"ipyckpt-{wheel.name.split('-')[1]}.data/data"
    assert f"{data}/share/jupyter/labextensions/ipyckpt/package.json" in names
    assert f"{data}/share/jupyter/labextensions/ipyckpt/install.json" in names
    assert f"{data}/etc/jupyter/jupyter_server_config.d/ipyckpt.json" in names
    assert any(n.startswith(f"{data}/share/jupyter/labextensions/ipyckpt/static/") for n in names)

    env["PATH"] = path_without_node()
    assert shutil.which("node", path=env["PATH"]) is None
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[lab]"], env)
    assert shutil.which("node", path=env["PATH"]) is None, "still no Node after the install"

    labext = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env)
    assert re.search(r"ipyckpt v[\d.]+ enabled\s+OK \(python, ipyckpt\)", labext), labext
    serverext = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env)
    assert re.search(r"ipyckpt enabled", serverext), serverext
    assert re.search(r"ipyckpt [\d.]+ OK", serverext), serverext
