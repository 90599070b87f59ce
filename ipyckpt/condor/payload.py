"""What travels with a cell job: file names, version stamps, per-job key and signed documents.

Variables travel as :class:`ipyckpt.Store` directories signed with the job's own key (inputs,
checkpoints, outputs). Small JSON documents (the job spec with the cell's code, the result with
a traceback) are signed with the same key by :func:`seal`. The key is generated at submit time,
kept 0600 in the job's record and transferred with the job, so results are accepted only from
that job. Every document carries the Python, dill and ipyckpt versions of its writer; a mismatch
is reported in words before anything is unpickled.

The JSON format is kept simple on purpose: the stdlib-only bootstrap script (which must work
where ipyckpt is not installed) writes and signs results the same way.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

from ipyckpt.store import fsio, signing
from ipyckpt.store.errors import CheckpointUntrusted, IpyckptError

BOOTSTRAP = "ipyckpt-job.py"
SPEC = "ipyckpt-job.json"
KEY = "ipyckpt-job.key"
INPUTS = "ipyckpt-inputs"
PARAMS = "ipyckpt-params"  # a sweep job's own parameters, loaded over the inputs
CHECKPOINT = "ipyckpt-ckpt"
OUTPUTS = "ipyckpt-outputs"
RESULT = "ipyckpt-result.json"
EXECUTED = "ipyckpt-notebook.ipynb"  # a notebook job's executed notebook


class VersionMismatch(IpyckptError):
    """The two sides of a job run different Python/dill/ipyckpt versions."""


class MissingOnExecuteNode(IpyckptError):
    """A variable could not be unpickled on the execute node (e.g. its module is missing)."""


class JobFailed(IpyckptError):
    """The cell raised on the execute node (the message holds its traceback)."""


def versions() -> dict[str, str]:
    """This process's Python, dill and ipyckpt versions."""
    import dill

    from ipyckpt._version import __version__

    return {
        "python": ".".join(map(str, sys.version_info[:3])),
        "dill": str(dill.__version__),
        "ipyckpt": __version__,
    }


def version_problem(theirs: dict[str, str], where: str) -> str | None:
    """Why data written with ``theirs`` versions cannot be trusted to unpickle here, or None."""
    mine = versions()
    problems = []
    if theirs.get("python", "").split(".")[:2] != mine["python"].split(".")[:2]:
        problems.append(f"Python {theirs.get('python')} there, {mine['python']} here")
    for pkg in ("dill", "ipyckpt"):
        if theirs.get(pkg) != mine[pkg]:
            problems.append(f"{pkg} {theirs.get(pkg)} there, {mine[pkg]} here")
    if not problems:
        return None
    return (
        f"version mismatch between the notebook and {where}: {'; '.join(problems)}. "
        "Pickled variables only load reliably with the same versions: install the same ones on "
        "both sides (or use image= with a matching container)"
    )


def new_key() -> bytes:
    """A fresh per-job signing key."""
    return secrets.token_bytes(signing.KEY_BYTES)


def write_key(path: Path, key: bytes) -> None:
    """Write ``key`` (hex) to ``path`` with mode 0600, atomically."""
    fsio.atomic_write_bytes(path, key.hex().encode(), path.parent)


def read_key(path: Path) -> bytes:
    """Read a key written by :func:`write_key`."""
    return bytes.fromhex(path.read_text().strip())


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal(key: bytes, body: dict[str, Any]) -> bytes:
    """``body`` as signed JSON: ``{"body": ..., "signature": HMAC-SHA256}`` (store.signing)."""
    signature = signing.sign(key, _canonical(body))
    return json.dumps({"body": body, "signature": signature}, indent=1).encode()


def unseal(key: bytes, data: bytes, what: str) -> dict[str, Any]:
    """The body of a sealed document; :class:`CheckpointUntrusted` if not signed by ``key``."""
    try:
        doc = json.loads(data)
        body, signature = doc["body"], doc["signature"]
        if not isinstance(body, dict) or not isinstance(signature, str):
            raise TypeError("bad document")
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointUntrusted(f"{what} is not a valid signed document ({exc})") from None
    if not signing.is_valid(key, _canonical(body), signature):
        raise CheckpointUntrusted(
            f"{what} is not signed by this job's key (modified, or from another job): refused"
        )
    return body


def write_sealed(path: Path, key: bytes, body: dict[str, Any]) -> None:
    """Atomically write a sealed document."""
    fsio.atomic_write_bytes(path, seal(key, body), path.parent)


def store(directory: Path, key: bytes, keep: int = 2) -> Any:
    """An :class:`ipyckpt.Store` at ``directory`` signed with the job's ``key``."""
    from ipyckpt.store import Store

    return Store(directory, keep=keep, key=key)


def check_store_versions(st: Any, where: str) -> None:
    """Raise :class:`VersionMismatch` if the newest generation of ``st`` has other versions."""
    gens = st.generations()
    if gens:
        problem = version_problem(gens[0].info.get("versions", {}), where)
        if problem:
            raise VersionMismatch(problem)
