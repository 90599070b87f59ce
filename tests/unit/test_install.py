"""``ipyckpt install`` / ``uninstall`` edit the IPython kernel config idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipyckpt.cli import main as cli
from ipyckpt.install import BEGIN, kernel_config_path


def test_install_and_uninstall_are_idempotent_and_keep_other_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    config = kernel_config_path()
    config.parent.mkdir(parents=True)
    config.write_text("c.IPKernelApp.matplotlib = 'inline'\n")
    assert cli(["install"]) == 0
    assert cli(["install"]) == 0
    out = capsys.readouterr().out
    assert "now loads" in out and "already loads" in out
    text = config.read_text()
    assert text.count(BEGIN) == 1
    assert "c.InteractiveShellApp.extensions.append('ipyckpt')" in text
    assert text.startswith("c.IPKernelApp.matplotlib = 'inline'\n")
    assert cli(["uninstall"]) == 0
    assert cli(["uninstall"]) == 0
    assert config.read_text() == "c.IPKernelApp.matplotlib = 'inline'\n"
    assert "was not set up" in capsys.readouterr().out
