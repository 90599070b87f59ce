"""Which notebook a store belongs to: a notebook restores only its own state.

Every snapshot records, in its signed manifest's ``info``, the notebook it was taken for and the
directory it was written to:

- ``id``: the notebook's id, when the frontend gives one (``IPYCKPT_NOTEBOOK_ID`` in the kernel's
  environment; the JupyterLab extension keeps it in the notebook's metadata, see
  ``docs/notebook-identity.md``);
- ``file``: the notebook file's identity on disk (device and inode). Jupyter saves a notebook in
  place and renames it with ``rename(2)``, so the file keeps it; a new notebook, or a copy, gets
  another one. This is the fallback when there is no id;
- ``path`` (for people) and ``store`` (the store directory at save time).

Automatic restore then loads a store only if it is this notebook's: a notebook renamed after its
store was written finds it among its siblings (same id, else same file), a new notebook that takes
an old name does not restore the old one's store, and a store moved or copied elsewhere is not
restored silently (``%checkpoint restore`` adopts it explicitly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ID_ENV = "IPYCKPT_NOTEBOOK_ID"


def current(notebook: Path | None) -> dict[str, str]:
    """The identity of the notebook this kernel runs (empty when the kernel does not know it)."""
    out: dict[str, str] = {}
    notebook_id = os.environ.get(ID_ENV, "").strip()
    if notebook_id:
        out["id"] = notebook_id
    if notebook is not None:
        out["path"] = str(notebook)
        try:
            st = notebook.stat()
        except OSError:
            return out
        out["file"] = f"{st.st_dev}:{st.st_ino}"
    return out


def same_notebook(recorded: Mapping[str, Any], mine: Mapping[str, str]) -> bool | None:
    """True/False when the two identities can be compared (by id, else by file); else None."""
    for key in ("id", "file"):
        if recorded.get(key) and mine.get(key):
            return bool(recorded[key] == mine[key])
    return None


def refusal(info: Mapping[str, Any], directory: Path, mine: Mapping[str, str]) -> str | None:
    """Why the store in ``directory`` (newest generation's ``info``) is not this notebook's."""
    written_at = info.get("store")
    adopt = "to restore it anyway (and adopt the store): %checkpoint restore"
    if isinstance(written_at, str) and Path(written_at) != directory:
        return (
            f"ipyckpt: not restoring {directory}: it was written at {written_at} (moved or "
            f"copied); {adopt}"
        )
    recorded = info.get("notebook")
    if isinstance(recorded, Mapping) and same_notebook(recorded, mine) is False:
        return (
            f"ipyckpt: not restoring {directory}: it belongs to another notebook that had this "
            f"name ({recorded.get('path', '?')}); {adopt}"
        )
    return None


def find_renamed(
    folder: Path, skip: Path, mine: Mapping[str, str], newest_info: Any
) -> Path | None:
    """A store in ``folder`` (other than ``skip``) written for this notebook under another name.

    ``newest_info(directory)`` returns the ``info`` of a store's newest generation (or None).
    """
    if not (mine.get("id") or mine.get("file")) or not folder.is_dir():
        return None
    for candidate in sorted(folder.iterdir()):
        if candidate == skip or candidate.is_symlink() or not candidate.is_dir():
            continue
        info = newest_info(candidate)
        recorded = info.get("notebook") if isinstance(info, Mapping) else None
        if (
            isinstance(recorded, Mapping)
            and same_notebook(recorded, mine)
            and refusal(info, candidate, mine) is None
        ):
            return candidate
    return None
