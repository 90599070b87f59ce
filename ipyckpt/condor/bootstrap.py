"""The job's executable script (transferred as ``ipyckpt-job.py``): standard library only.

It runs first on the execute node, before anything that might not be installed there:

1. creates every file listed for transfer, so a failure at any later point never holds the job
   for a missing file (HTCondor holds jobs whose listed files are absent), and makes the job's
   transferred stores private again (HTCondor may create them group-writable, umask 002;
   :func:`make_private` is also the submit side's rule for the files a job brings back);
2. checks that ipyckpt and its dependencies are importable, and if not ends the job with a
   signed result naming what is missing and which interpreter looked for it;
3. hands over to :func:`ipyckpt.condor.runner.main`.

The names, exit codes and the signature format duplicate :mod:`ipyckpt.condor.payload` and
:mod:`ipyckpt.condor.description` on purpose (this file must work where ipyckpt is missing); a
unit test keeps them equal.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import socket
import stat
import sys
from typing import Any

KEY = "ipyckpt-job.key"
INPUTS = "ipyckpt-inputs"
PARAMS = "ipyckpt-params"
CHECKPOINT = "ipyckpt-ckpt"
OUTPUTS = "ipyckpt-outputs"
RESULT = "ipyckpt-result.json"
EXECUTED = "ipyckpt-notebook.ipynb"
EXIT_MISSING_DEPENDENCY = 3
EXIT_INTERNAL_ERROR = 4  # may be transient (e.g. a full disk): max_retries applies
NEEDED = ("ipyckpt", "dill", "blake3")


def seal(key: bytes, body: dict[str, Any]) -> bytes:
    """Same format as ``ipyckpt.condor.payload.seal``."""
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(key, data, hashlib.sha256).hexdigest()
    return json.dumps({"body": body, "signature": signature}, indent=1).encode()


def write_result(body: dict[str, Any]) -> None:
    """Write the result document atomically (temp file, fsync, rename)."""
    with open(KEY) as fh:
        key = bytes.fromhex(fh.read().strip())
    temp = f"{RESULT}.{os.getpid()}.tmp"
    with open(temp, "wb") as fh:
        fh.write(seal(key, body))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, RESULT)


_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def make_private(name: str, dir_fd: int | None = None, depth: int = 8) -> None:
    """Take group and other permissions off ``name`` and, for a directory, everything in it.

    Only what this user owns, only real files and directories (a store is at most a few levels
    deep): a symlink is never followed (checked with lstat, opened with O_NOFOLLOW, changed
    through its descriptor); anything else is left for the store's own checks to refuse.
    HTCondor may create transferred entries with umask 002 (into the sandbox, and on the way
    back, where the shadow uses the user's umask); the store refuses group-writable directories.
    """
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            return
        fd = os.open(name, _NOFOLLOW, dir_fd=dir_fd)
    except OSError:  # missing, a symlink (ELOOP), unreadable: not ours to change
        return
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return
        if st.st_mode & 0o077:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o700)
        if stat.S_ISDIR(st.st_mode) and depth > 0:
            for entry in os.listdir(fd):
                make_private(entry, fd, depth - 1)
    finally:
        os.close(fd)


def ensure_transfer_files() -> None:
    """Create the checkpoint and output entries if this is the first run; make the job's
    transferred stores and key private (see :func:`make_private`)."""
    for name in (KEY, INPUTS, PARAMS, CHECKPOINT):
        make_private(name)
    for name in (CHECKPOINT, OUTPUTS):
        os.makedirs(name, mode=0o700, exist_ok=True)
    if not os.path.exists(RESULT):
        write_result({"status": "running"})
    if not os.path.exists(EXECUTED):  # transferred back by notebook jobs
        with open(EXECUTED, "w") as fh:
            fh.write("{}")


def missing_modules() -> list[str]:
    """Which of ipyckpt's job-side dependencies cannot be imported here."""
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def main() -> int:
    """Entry point of the job."""
    ensure_transfer_files()
    missing = missing_modules()
    if missing:
        message = (
            f"missing on the execute node {socket.gethostname()}: {', '.join(missing)} "
            f"(not importable by {sys.executable}, Python {sys.version.split()[0]}). Install "
            "ipyckpt there (the job runs the notebook's interpreter path), or use image= with a "
            "container that has it"
        )
        write_result({"status": "missing-dependency", "message": message, "missing": missing})
        print(f"ipyckpt job: {message}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    try:
        from ipyckpt.condor.runner import main as run

        return run()
    except Exception:  # a bug or a broken installation, not the user's cell: say so
        import traceback

        text = traceback.format_exc()
        print(text, file=sys.stderr)
        write_result({"status": "internal-error", "message": f"ipyckpt failed:\n{text}"})
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
