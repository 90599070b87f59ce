"""An advisory ``flock`` on the store's lock file: writers exclusive, readers shared.

The kernel releases a flock when its holder dies (even by SIGKILL), so a crashed saver never
leaves the store locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ipyckpt.store import fsio
from ipyckpt.store.errors import StoreBusy

_POLL_S = 0.05


@contextlib.contextmanager
def locked(path: Path, *, exclusive: bool, timeout: float) -> Iterator[None]:
    """Hold the lock at ``path`` for the block; wait up to ``timeout`` s, then raise StoreBusy.

    Readers open the lock file read-only (so a read-only store can still be loaded) and need no
    lock when it does not exist: no writer has ever run, since writers create it.
    """
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if exclusive:
            fd = os.open(path, flags | os.O_RDWR | os.O_CREAT, fsio.FILE_MODE)
        else:
            fd = os.open(path, flags | os.O_RDONLY)
    except FileNotFoundError:
        if exclusive:
            raise
        yield
        return
    try:
        _acquire(fd, path, exclusive=exclusive, timeout=timeout)
        if exclusive:
            os.ftruncate(fd, 0)
            fsio.write_all(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _acquire(fd: int, path: Path, *, exclusive: bool, timeout: float) -> None:
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreBusy(_busy_message(path, timeout)) from None
            time.sleep(_POLL_S)


def _busy_message(path: Path, timeout: float) -> str:
    holder = ""
    with contextlib.suppress(OSError, ValueError):
        holder = f" (process {int(path.read_text().strip())})"
    return (
        f"the checkpoint store {path.parent} is busy: another save{holder} still holds it after "
        f"{timeout:g} s; try again when it has finished, or raise the store's lock_timeout"
    )
