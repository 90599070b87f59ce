"""Low-level file operations with the crash-safety discipline every ipyckpt write follows.

Temporary file in the target's filesystem, ``fsync``, ``os.replace`` into place, ``fsync`` of the
directory. Files are created 0600 and directories 0700; symlinks are never followed when writing.
All writes go through :func:`write_all`, the single OS-call boundary fault tests hook into.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 64 << 20
_READ_CHUNK = 4 << 20  # hashed while still in the CPU cache
_MMAP_MIN = 1 << 20

#: The OS write call; fault-injection tests replace it to simulate a full disk.
os_write = os.write


def write_all(fd: int, data: memoryview | bytes) -> int:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data).cast("B")
    total = len(view)
    done = 0
    while done < total:
        done += os_write(fd, view[done : done + _CHUNK])
    return total


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700; an existing directory is left as it is."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def fsync_dir(path: Path) -> None:
    """Make the directory entries of ``path`` durable (a rename is not durable until then)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_temp(directory: Path, prefix: str) -> tuple[int, Path]:
    """Create a new, exclusive, private temporary file in ``directory``; return (fd, path)."""
    while True:
        path = directory / f"{prefix}.{secrets.token_hex(8)}.tmp"
        try:
            return os.open(path, _WRITE_FLAGS, FILE_MODE), path
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


def publish(fd: int, temp: Path, final: Path) -> None:
    """fsync ``fd``, close it and atomically rename ``temp`` to ``final``.

    The caller fsyncs ``final``'s directory (once, after a batch of publishes).
    """
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)


def atomic_write_bytes(final: Path, data: bytes, temp_dir: Path) -> None:
    """Durably replace ``final`` with ``data``: a crash leaves the old or the new file, never a mix."""
    fd, temp = create_temp(temp_dir, final.name)
    try:
        write_all(fd, data)
        publish(fd, temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(final.parent)


def new_buffer(size: int) -> bytearray | mmap.mmap:
    """A writable buffer of ``size`` bytes to read into.

    Large buffers are anonymous memory maps: unlike ``bytearray(size)`` they are not zero-filled
    first, so the data is touched once.
    """
    return mmap.mmap(-1, size) if size >= _MMAP_MIN else bytearray(size)


def read_into(
    path: Path, view: memoryview, on_chunk: Callable[[memoryview], object] | None = None
) -> None:
    """Fill ``view`` with the whole content of ``path``, which must be exactly that long.

    ``on_chunk`` sees each chunk right after it is read (while it is still in the CPU cache),
    e.g. to hash it. Raises :class:`OSError` (``EIO``) when the file is shorter or longer.
    """
    size = len(view)
    with open(os.open(path, _READ_FLAGS), "rb", buffering=0) as fh:
        done = 0
        while done < size:
            n = fh.readinto(view[done : done + _READ_CHUNK])
            if not n:
                raise OSError(5, f"file is truncated: {done} of {size} bytes", str(path))
            if on_chunk is not None:
                on_chunk(view[done : done + n])
            done += n
        if fh.read(1):
            raise OSError(5, f"file is longer than the {size} bytes recorded", str(path))


def read_exact(
    path: Path, size: int, on_chunk: Callable[[memoryview], object] | None = None
) -> bytearray | mmap.mmap:
    """Read exactly ``size`` bytes of ``path`` into a new writable buffer (:func:`read_into`)."""
    buf = new_buffer(size)
    with memoryview(buf) as view:
        read_into(path, view, on_chunk)
    return buf


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` (never through a symlink); OSError ``EFBIG`` if over ``limit``."""
    with open(os.open(path, _READ_FLAGS), "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def open_dir(path: str | Path, dir_fd: int | None = None) -> int:
    """A file descriptor of the directory ``path``; ``OSError`` (ELOOP) if it is a symlink."""
    return os.open(path, _DIR_FLAGS, dir_fd=dir_fd)


def unsafe_dir_reason(path: Path) -> str | None:
    """Why ``path`` is not a directory ipyckpt may write into and delete from, or None.

    It must be a real directory (not a symlink), owned by this user and not writable by the
    group or others: then nobody else can put links or files into it.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link (ipyckpt never follows links inside a store)"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.geteuid():
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"{path} is writable by other users (mode {oct(stat.S_IMODE(st.st_mode))})"
    return None


def remove_matching(
    directory: Path, pattern: re.Pattern[str], keep: Callable[[str], bool]
) -> tuple[int, int]:
    """Unlink the regular files of ``directory`` whose names match ``pattern`` and that
    ``keep`` rejects; never follows a link. Return (files removed, bytes freed)."""
    try:
        fd = open_dir(directory)
    except FileNotFoundError:
        return 0, 0
    count = freed = 0
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if not pattern.match(entry.name) or keep(entry.name):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                size = entry.stat(follow_symlinks=False).st_size
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.name, dir_fd=fd)
                    count, freed = count + 1, freed + size
    finally:
        os.close(fd)
    return count, freed
