"""The one store_location(), and the configuration that processes other than the kernel read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipyckpt import Store
from ipyckpt.cli import main as cli
from ipyckpt.location import configured_folder, store_location


@pytest.fixture
def ipython_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ipython"
    (path / "profile_default").mkdir(parents=True)
    monkeypatch.setenv("IPYTHONDIR", str(path))
    monkeypatch.delenv("IPYCKPT_STORE", raising=False)
    return path


def test_store_location_first_match_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPYCKPT_STORE", raising=False)
    nb = tmp_path / "work" / "a.ipynb"
    assert store_location(nb) == tmp_path / "work" / ".ipyckpt" / "a.ipynb"
    assert store_location(nb, folder=str(tmp_path / "f")) == tmp_path / "f" / "a.ipynb"
    assert store_location(nb, name="run") == tmp_path / "work" / ".ipyckpt" / "run"
    assert store_location(None) is None
    monkeypatch.setenv("IPYCKPT_STORE", str(tmp_path / "exact"))
    assert store_location(None) == tmp_path / "exact"
    assert store_location(nb, folder="x", name="y") == tmp_path / "exact"


def test_configured_folder_reads_the_kernels_config_files(ipython_dir: Path) -> None:
    assert configured_folder() == ""
    profile = ipython_dir / "profile_default"
    (profile / "ipython_config.py").write_text("c.Checkpointer.directory = '/from/ipython'\n")
    assert configured_folder() == "/from/ipython"
    (profile / "ipython_kernel_config.py").write_text("c.Checkpointer.directory = '/kernel'\n")
    assert configured_folder() == "/kernel"  # the kernel's own file wins, as in IPKernelApp


def test_configured_folder_reads_the_files_again_only_when_they_change(
    ipython_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from traitlets.config import Application

    reads: list[str] = []
    real_load = Application.load_config_file

    def counted(self: Application, filename: str, *args: Any, **kwargs: Any) -> None:
        reads.append(filename)
        real_load(self, filename, *args, **kwargs)

    monkeypatch.setattr(Application, "load_config_file", counted)
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    config.write_text("c.Checkpointer.directory = '/first'\n")
    assert [configured_folder() for _ in range(5)] == ["/first"] * 5  # e.g. five requests
    assert reads == ["ipython_config.py", "ipython_kernel_config.py"], "read once"
    config.write_text("c.Checkpointer.directory = '/changed'\n")
    assert configured_folder() == "/changed"
    (ipython_dir / "profile_default" / "ipython_config.json").write_text(
        '{"Checkpointer": {"directory": "/json"}}'
    )
    config.unlink()
    assert configured_folder() == "/json"
    assert len(reads) == 6


def test_the_cli_finds_a_notebooks_store_as_its_kernel_does(
    ipython_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "all-checkpoints"
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    config.write_text(f"c.Checkpointer.directory = {str(folder)!r}\n")
    Store(folder / "analysis.ipynb").save({"x": 1}, trigger="manual")
    assert cli(["list", str(tmp_path / "work" / "analysis.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "manual" in out
    assert "no state checkpoints" not in out
