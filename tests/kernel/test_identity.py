"""A notebook restores only its own state (issue 11 item 6), in real kernels.

Notebook files are real files: a rename keeps the file (as Jupyter's rename does), a new notebook
or a copy is a new file. No notebook id is given (no JupyterLab extension): the fallback.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any


def saved_in(open_kernel: Any, name: str, code: str) -> Any:
    """A kernel for notebook ``name`` (created on disk) that saved ``code``'s variables."""
    k = open_kernel(name)
    k.notebook.write_text("{}")
    k.run("%load_ext ipyckpt")
    k.run(f"%%checkpoint\n{code}")
    k.kill(signal.SIGKILL)
    return k


def test_a_renamed_notebook_finds_its_store_and_a_new_one_with_the_old_name_does_not(
    open_kernel: Any,
) -> None:
    old = saved_in(open_kernel, "Untitled.ipynb", "api_key = 'for project x'")
    old.notebook.rename(old.notebook.with_name("project_x.ipynb"))
    renamed = open_kernel("project_x.ipynb")
    out = renamed.run("%load_ext ipyckpt")
    assert "restored 1 variable" in out.stdout, out.stdout
    assert renamed.value("api_key") == "for project x"
    renamed.run("%%checkpoint\nmodel = 'trained'")
    renamed.kill(signal.SIGKILL)

    newcomer = open_kernel("Untitled.ipynb")
    newcomer.notebook.write_text("{}")  # a new notebook, a new file, the old name
    out = newcomer.run("%load_ext ipyckpt")
    assert "belongs to another notebook" in out.stdout, out.stdout
    assert "restored" not in out.stdout
    assert newcomer.value("'api_key' in dir() or 'model' in dir()") is False
    newcomer.run("%%checkpoint\nmine = 1")  # saved into a store of its own, not the old one
    newcomer.kill(signal.SIGKILL)

    again = open_kernel("project_x.ipynb")
    again.run("%load_ext ipyckpt")
    assert again.value("(api_key, model, 'mine' in dir())") == ("for project x", "trained", False)


def test_a_copied_store_is_not_restored_silently_and_can_be_adopted(
    open_kernel: Any, tmp_path: Path
) -> None:
    original = saved_in(open_kernel, "analysis.ipynb", "x = 41")
    elsewhere = tmp_path / "notebooks" / "copy"
    elsewhere.mkdir()
    shutil.copytree(original.notebook.parent / ".ipyckpt", elsewhere / ".ipyckpt")
    shutil.copy(original.notebook, elsewhere / "analysis.ipynb")
    k = open_kernel("copy/analysis.ipynb")
    out = k.run("%load_ext ipyckpt")
    assert "(moved or copied)" in out.stdout and "%checkpoint restore" in out.stdout, out.stdout
    assert len(out.stdout.strip().splitlines()) == 1, "one line"
    assert k.value("'x' in dir()") is False
    adopted = k.run("%checkpoint restore")
    assert "restored 1 variable" in adopted.stdout
    assert k.value("x") == 41
