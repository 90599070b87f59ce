"""``ipyckpt install`` / ``uninstall``: load the extension in every new IPython kernel.

A marked block is added to (or removed from) the default profile's ``ipython_kernel_config.py``;
both operations are idempotent and leave the rest of the file untouched.
"""

from __future__ import annotations

from pathlib import Path

BEGIN = "# >>> ipyckpt >>> (added by `ipyckpt install`; remove with `ipyckpt uninstall`)"
END = "# <<< ipyckpt <<<"
BLOCK = f"{BEGIN}\nc.InteractiveShellApp.extensions.append('ipyckpt')\n{END}\n"


def kernel_config_path(profile: str = "default") -> Path:
    """The IPython kernel configuration file of ``profile`` (honours ``IPYTHONDIR``)."""
    from IPython.paths import get_ipython_dir

    return Path(get_ipython_dir()) / f"profile_{profile}" / "ipython_kernel_config.py"


def _without_block(text: str) -> str:
    start = text.find(BEGIN)
    if start < 0:
        return text
    end = text.find(END, start)
    end = len(text) if end < 0 else end + len(END)
    return (text[:start] + text[end:].lstrip("\n")).rstrip("\n") + (
        "\n" if text[:start].strip() else ""
    )


def install(profile: str = "default") -> tuple[Path, bool]:
    """Add the block; return (config path, whether the file changed)."""
    path = kernel_config_path(profile)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = text if not text or text.endswith("\n") else text + "\n"
    path.write_text(prefix + BLOCK)
    return path, True


def uninstall(profile: str = "default") -> tuple[Path, bool]:
    """Remove the block; return (config path, whether the file changed)."""
    path = kernel_config_path(profile)
    if not path.exists():
        return path, False
    text = path.read_text()
    new = _without_block(text)
    if new == text:
        return path, False
    path.write_text(new)
    return path, True
