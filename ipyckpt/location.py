"""Where a notebook's state checkpoint store lives: the one :func:`store_location`.

Used by the kernel (:mod:`ipyckpt.session`), the ``ipyckpt`` command and the jupyter_server
extension (:mod:`ipyckpt.server`). First match wins:

1. ``IPYCKPT_STORE`` in the environment: exactly that directory (batch jobs, HTCondor runner).
2. ``%checkpoint name NAME``: ``<folder>/NAME``.
3. The notebook's path, from ``JPY_SESSION_NAME`` (set by jupyter_server) or
   ``__vsc_ipynb_file__`` (set by VS Code): ``<folder>/<notebook file name>``.

``<folder>`` is ``c.Checkpointer.directory`` if set, else ``.ipyckpt`` beside the notebook (or in
the working directory). A kernel that knows none of these (e.g. run by nbclient) has no store
until it is named: it never guesses, so two notebooks never restore each other's state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STORE_ENV = "IPYCKPT_STORE"
STORE_FOLDER = ".ipyckpt"


def notebook_path(user_ns: Mapping[str, object]) -> Path | None:
    """The notebook this kernel runs, if the frontend told us."""
    for candidate in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__vsc_ipynb_file__")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return Path(candidate)
    return None


#: Longest store name, in UTF-8 bytes: a file name may have 255, and ``NAME.condor`` must fit.
MAX_NAME_BYTES = 200


def check_store_name(name: str) -> str:
    """A store name must be a plain file name: no separators or control characters, not
    ``.``/``..``, not empty, at most :data:`MAX_NAME_BYTES` bytes. ValueError says what to use."""
    example = "use a plain name such as 'training-run'"
    if not name or name in (".", ".."):
        raise ValueError(f"invalid checkpoint name {name!r}: {example}")
    bad = sorted({c for c in name if c in "/\\" or not c.isprintable()})
    if bad:
        raise ValueError(
            f"invalid checkpoint name {name[:40]!r}: it contains {' '.join(map(repr, bad))}; {example}"
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ValueError(
            f"checkpoint name too long ({len(name)} characters, at most {MAX_NAME_BYTES} bytes "
            f"fit in a file name with room to spare): {example}"
        )
    return name


def store_location(
    notebook: Path | None, *, folder: str = "", name: str | None = None
) -> Path | None:
    """Where the store of ``notebook`` (or of the store ``name``) lives, or None if unknown."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser().absolute()
    store_name = name or (notebook.name if notebook else None)
    if store_name is None:
        return None
    if folder:
        root = Path(folder).expanduser()
    elif notebook is not None and notebook.is_absolute():
        root = notebook.parent / STORE_FOLDER
    else:
        root = Path.cwd() / STORE_FOLDER
    return (root / check_store_name(store_name)).absolute()


_CONFIG_NAMES = ("ipython_config", "ipython_kernel_config")
#: Per profile: the config files' identities (path, mtime, ctime, size, inode) and the folder
#: read from them. Reading the files costs about a millisecond; stat-ing them a few microseconds.
_folder_cache: dict[str, tuple[tuple[object, ...], str]] = {}


def _config_dirs(profile: str) -> list[str]:
    """The directories an IPython kernel of ``profile`` reads its config files from."""
    from IPython.core.application import ENV_CONFIG_DIRS, SYSTEM_CONFIG_DIRS
    from IPython.paths import get_ipython_dir

    return [str(Path(get_ipython_dir()) / f"profile_{profile}"), *ENV_CONFIG_DIRS,
            *SYSTEM_CONFIG_DIRS]  # fmt: skip


def _config_stamp(dirs: list[str]) -> tuple[object, ...]:
    """What changes when any config file in ``dirs`` is created, edited, replaced or removed."""
    stamp: list[object] = list(dirs)
    for directory in dirs:
        if not os.path.isdir(directory):  # most system directories do not exist
            continue
        for name in _CONFIG_NAMES:
            for ext in (".py", ".json"):
                path = os.path.join(directory, name + ext)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                stamp.append((path, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return tuple(stamp)


def configured_folder(profile: str = "default") -> str:
    """``c.Checkpointer.directory`` as this user's IPython kernels read it ('' when unset).

    For processes that are not the kernel (the jupyter_server extension, the ``ipyckpt``
    command): it loads the same files an IPython kernel of ``profile`` loads
    (``ipython_config`` and ``ipython_kernel_config``, ``.py`` and ``.json``, from the profile
    directory, then ``sys.prefix/etc/ipython`` and the system directories, first match wins).
    A ``%config`` run inside one kernel, or a kernel started with another profile, is not seen.
    The answer is kept until one of those files changes (its mtime, ctime, size or inode), is
    created or removed; a file that a ``.py`` config loads in turn is not watched.
    """
    dirs = _config_dirs(profile)
    stamp = _config_stamp(dirs)
    cached = _folder_cache.get(profile)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    folder = _read_configured_folder(dirs)
    _folder_cache[profile] = (stamp, folder)
    return folder


def _read_configured_folder(dirs: list[str]) -> str:
    """``c.Checkpointer.directory`` from the config files in ``dirs`` (first match wins)."""
    from traitlets.config import Application

    reader = Application()
    for name in _CONFIG_NAMES:
        try:
            reader.load_config_file(name + ".py", path=dirs)
        except Exception:  # a broken config file breaks the kernels, not the server
            continue
    section = reader.config.get("Checkpointer", {})
    folder = section.get("directory", "") if isinstance(section, dict) else ""
    return folder if isinstance(folder, str) else ""
