"""The ``ipyckpt`` command, run as a real subprocess from the installed entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipyckpt import Store


def ipyckpt(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ipyckpt", path=str(Path(sys.executable).parent))
    assert exe, "the ipyckpt console script is installed next to the interpreter"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    store = Store(tmp_path / "s")
    gen = (i for i in range(3))
    store.save({"arr": np.arange(1000.0), "name": "run-1", "gen": gen}, trigger="periodic")
    store.save({"arr": np.arange(1000.0), "name": "run-2"}, trigger="end")
    return tmp_path / "s"


def test_help_and_usage_errors() -> None:
    out = ipyckpt("--help")
    assert out.returncode == 0
    for command in ("list", "show", "verify", "gc"):
        assert command in out.stdout
    assert ipyckpt().returncode == 2
    assert ipyckpt("frobnicate").returncode == 2
    assert ipyckpt("gc", "somewhere", "--keep", "0").returncode == 2


def test_list_show_verify_gc(store_dir: Path) -> None:
    listed = ipyckpt("list", str(store_dir))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == f"state checkpoints in {store_dir}"
    # the same table as %checkpoint list: headers and relative ages
    assert lines[1].split()[:4] == ["generation", "cell", "taken", "trigger"]
    assert lines[2].split()[0] == "2" and "end" in lines[2] and " s ago" in lines[2]
    assert (
        lines[3].split()[0] == "1"
        and "periodic" in lines[3]
        and lines[3].split()[-2:] == ["gen", "ok"]
    )

    shown = ipyckpt("show", str(store_dir), "1")
    assert shown.returncode == 0
    assert "numpy.ndarray" in shown.stdout
    assert "skipped gen: cannot pickle 'generator'" in shown.stdout

    assert ipyckpt("show", str(store_dir), "9").returncode == 1
    verified = ipyckpt("verify", str(store_dir))
    assert verified.returncode == 0
    assert verified.stdout.strip() == "checked 2 generations, 3 blobs: all good"

    collected = ipyckpt("gc", str(store_dir), "--keep", "1")
    assert collected.returncode == 0
    assert collected.stdout.startswith("removed 1 generation and ")
    assert [g.id for g in Store(store_dir).generations()] == [2]


def test_not_a_store_is_a_clear_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    out = ipyckpt("list", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"ipyckpt: error: {tmp_path} is not a state checkpoint store (it has no "
        "ipyckpt-store.json); give a store directory such as .ipyckpt/NOTEBOOK.ipynb beside the "
        "notebook, or the notebook itself"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"], "nothing was created"


def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    for command in ("list", "show", "verify", "gc"):
        out = ipyckpt(command, str(tmp_path / "typo"))
        assert out.returncode == 2, command
        assert out.stderr.splitlines() == [
            f"ipyckpt: error: {tmp_path / 'typo'} does not exist (give a store directory or a "
            "notebook)"
        ]
    assert not (tmp_path / "typo").exists()


def test_an_empty_store_lists_nothing_and_succeeds(tmp_path: Path) -> None:
    out = ipyckpt("list", str(tmp_path))
    assert out.returncode == 0
    assert out.stdout.strip() == f"no state checkpoints in {tmp_path}"


def test_verify_reports_tampering(store_dir: Path) -> None:
    manifest = store_dir / "generations" / "00000002.json"
    manifest.write_text(manifest.read_text().replace('"end"', '"manual"'))
    out = ipyckpt("verify", str(store_dir))
    assert out.returncode == 1
    assert "generation 2" in out.stdout and "modified since it was signed" in out.stdout
    listed = ipyckpt("list", str(store_dir))
    assert listed.returncode == 1


def test_a_store_named_like_a_notebook_is_a_store(store_dir: Path, tmp_path: Path) -> None:
    store = store_dir.rename(tmp_path / "x.ipynb")  # what is on disk decides, not the suffix
    manifest = store / "generations" / "00000002.json"
    manifest.write_text(manifest.read_text().replace('"end"', '"manual"'))
    out = ipyckpt("verify", str(store))
    assert out.returncode == 1, out
    assert "generation 2" in out.stdout and "modified since it was signed" in out.stdout
    listed = ipyckpt("list", str(store))
    assert listed.stdout.splitlines()[0] == f"state checkpoints in {store}"


def test_a_notebook_without_a_store_is_a_usage_error(tmp_path: Path) -> None:
    notebook = tmp_path / "fresh.ipynb"
    notebook.write_text("{}")
    for command in ("list", "show", "verify", "gc"):
        out = ipyckpt(command, str(notebook))
        assert out.returncode == 2, command
        assert out.stderr.splitlines() == [
            f"ipyckpt: error: {notebook} has no state checkpoints yet (no store at "
            f"{tmp_path / '.ipyckpt' / 'fresh.ipynb'}); run a %%checkpoint cell in it first, or "
            "give a store directory"
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.ipynb"], "nothing was created"


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "{}", "--backend", "local"),
        ("jobs", "{}"),
        ("fetch", "job-1", "--notebook", "{}"),
    ],
)
def test_job_commands_want_a_notebook_file(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "folder.ipynb").mkdir()
    for given, what in (
        ("missing.ipynb", "does not exist"),
        ("folder.ipynb", "is not a notebook file"),
    ):
        path = str(tmp_path / given)
        out = ipyckpt(*(path if a == "{}" else a for a in args))
        assert out.returncode == 2, out
        assert out.stderr.splitlines() == [
            f"ipyckpt {args[0]}: {path} {what} (give a NAME.ipynb notebook file)"
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.ipynb"], "nothing was created"
