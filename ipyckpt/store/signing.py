"""Per-user signing key and HMAC-SHA256 signatures of manifests.

A checkpoint is a pickle, and loading a pickle runs code. ipyckpt therefore signs every manifest
with a secret that only this user can read; the manifest lists the hash of every blob, so the
signature covers all the data. The key lives in Jupyter's data directory (``JUPYTER_DATA_DIR``
moves it), is created on first use with mode 0600, and is never written into a store.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from ipyckpt.store import fsio
from ipyckpt.store.errors import SigningKeyError

KEY_BYTES = 32


def default_key_path() -> Path:
    """Where this user's signing key lives: ``<jupyter data dir>/ipyckpt/signing.key``."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ipyckpt" / "signing.key"


def load_or_create_key(path: Path | None = None) -> bytes:
    """Return the signing key at ``path``, creating it (0600, atomically) if it does not exist.

    Two processes creating it at once agree on one key: the file is published with ``link``,
    which fails if the other process won.
    """
    path = path or default_key_path()
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    fsio.make_private_dir(path.parent)
    fd, temp = fsio.create_temp(path.parent, path.name)
    try:
        fsio.write_all(fd, secrets.token_hex(KEY_BYTES).encode())
        os.fsync(fd)
        os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    fsio.fsync_dir(path.parent)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    """The key at ``path``; FileNotFoundError if there is none, SigningKeyError if unusable."""
    try:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError("it is not a regular file")
        if mode & 0o077:
            raise SigningKeyError(
                f"the signing key {path} is readable by other users (mode {oct(mode & 0o777)}); "
                f"run `chmod 600 {path}` so nobody else can forge your checkpoints"
            )
        key = bytes.fromhex(fsio.read_small(path, 4096).decode("ascii").strip())
        if len(key) < 16:
            raise ValueError("it is too short")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise SigningKeyError(
            f"the signing key {path} is damaged ({exc}): move it away and ipyckpt makes a new "
            "one (checkpoints signed with the old key then load only with --trust)"
        ) from None
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of ``key``, stored in manifests to tell "other key" from "tampered"."""
    return hashlib.sha256(b"ipyckpt-key-id" + key).hexdigest()[:16]


def sign(key: bytes, payload: bytes) -> str:
    """HMAC-SHA256 of ``payload`` under ``key``, hex encoded."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def is_valid(key: bytes, payload: bytes, signature: str) -> bool:
    """Constant-time check that ``signature`` is ``payload``'s signature under ``key``."""
    return hmac.compare_digest(sign(key, payload), signature)
