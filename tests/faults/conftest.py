"""Fault tests drive real kernels too: the kernel fixtures are shared with tests/kernel."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.conftest import kernel_env, open_kernel

__all__ = ["kernel_env", "open_kernel", "problem_lines", "tiny_fs"]

IN_PROCESS_NOTE = "ipyckpt: saving in-process: "  # said once per kernel by the background saver


def problem_lines(stderr: str) -> list[str]:
    """The non-empty stderr lines, without the background saver's once-per-kernel note."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(IN_PROCESS_NOTE)
    ]


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 24 MB tmpfs (root can mount one; elsewhere the test is skipped with the reason)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
