"""Which blob files this process knows to be good, and moving damaged ones aside.

A content-addressed blob is reused by the next save instead of being written again. That is
only safe if its bytes are right: a blob is reused when this process wrote or verified it and
the file has not changed since (same inode, size, mtime and ctime), or after it is re-hashed.
A damaged blob is moved into ``tmp/`` (collected by the next gc), so the next save writes it
again instead of trusting it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

import blake3

_CHUNK = 4 << 20
_known: dict[str, tuple[int, ...]] = {}  # path -> identity of the file when it was known good
_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def remember(path: Path) -> None:
    """``path`` was just written or verified by this process."""
    identity = _identity(path)
    if identity is not None:
        with _lock:
            _known[str(path)] = identity


def known_paths() -> set[str]:
    """Every path this process currently knows to be good (a forked saver hands the ones it
    learnt back to its parent, which :func:`remember` s them)."""
    with _lock:
        return set(_known)


def is_known_good(path: Path, size: int) -> bool:
    """True if this process wrote or verified ``path`` and it has not changed since."""
    with _lock:
        known = _known.get(str(path))
    return known is not None and known[2] == size and known == _identity(path)


def hashes_to(path: Path, digest: str, size: int) -> bool:
    """Re-hash ``path`` (never through a link); True if it has ``size`` bytes hashing to ``digest``."""
    hasher = blake3.blake3()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    with open(fd, "rb", buffering=0) as fh:
        if os.fstat(fh.fileno()).st_size != size:
            return False
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
    return str(hasher.hexdigest()) == digest


def reusable(path: Path, digest: str, size: int, tmp: Path) -> bool:
    """May a save reuse the existing blob ``path`` instead of writing it? A damaged one is
    moved aside (so the caller writes it again); a good one is remembered."""
    if is_known_good(path, size):
        return True
    if not os.path.lexists(path):
        return False
    if hashes_to(path, digest, size):
        remember(path)
        return True
    move_aside(path, tmp)
    return False


def move_aside(path: Path, tmp: Path) -> None:
    """Move the damaged blob ``path`` into ``tmp`` (removed by the next gc); best effort:
    a read-only store keeps it."""
    with _lock:
        _known.pop(str(path), None)
    with contextlib.suppress(OSError):
        os.rename(path, tmp / f"damaged-{path.name[:16]}.{secrets.token_hex(8)}.tmp")
