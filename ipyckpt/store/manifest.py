"""The manifest: the signed JSON document that *is* a generation.

A generation exists exactly when its manifest file exists. It names every blob it needs (with
hash and size), so its signature covers all the data. Variables point into segments: a segment
is one pickle blob holding several variables; a partial save writes a new segment for the saved
names and carries the other names' segment references forward unchanged.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ipyckpt.store import signing
from ipyckpt.store.errors import CheckpointCorrupt, CheckpointUntrusted, StoreFormatError
from ipyckpt.store.serialize import BlobRef, PickledVariable, records_from_json, records_to_json

FORMAT_VERSION = 2


@dataclass
class Segment:
    """One pickle blob and the records of the variables inside it."""

    pickle: BlobRef
    records: list[PickledVariable]

    def blobs(self) -> Iterator[BlobRef]:
        """Every blob this segment needs: the pickle and all out-of-band buffers."""
        yield self.pickle
        for rec in self.records:
            yield from rec.buffers


@dataclass
class VariableEntry:
    """Where a variable of a generation lives: segment id, index in it, generation that wrote it."""

    segment: str
    index: int
    written_by: int


@dataclass
class Manifest:
    """A generation: which variables, where their bytes are, and how the save went."""

    generation: int
    created: float
    trigger: str
    duration: float = 0.0
    segments: dict[str, Segment] = field(default_factory=dict)
    variables: dict[str, VariableEntry] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    bytes_written: int = 0
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def record(self, name: str) -> PickledVariable:
        """The pickle record of variable ``name``."""
        entry = self.variables[name]
        return self.segments[entry.segment].records[entry.index]

    def blobs(self) -> dict[str, int]:
        """Every blob hash this generation references, with its size."""
        return {b.hash: b.size for seg in self.segments.values() for b in seg.blobs()}

    def total_bytes(self) -> int:
        """Bytes on disk this generation needs (shared blobs counted once)."""
        return sum(self.blobs().values())


def runtime_versions() -> dict[str, str]:
    """Versions stamped into every manifest, to explain a failed load on another machine."""
    import dill

    from ipyckpt._version import __version__

    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "dill": str(dill.__version__),
        "ipyckpt": __version__,
    }


def to_document(m: Manifest) -> dict[str, Any]:
    """The manifest as a JSON-able dict (without signature)."""
    return {
        "format": FORMAT_VERSION,
        "generation": m.generation,
        "created": m.created,
        "trigger": m.trigger,
        "duration": m.duration,
        "segments": {
            sid: {"pickle": [s.pickle.hash, s.pickle.size], "variables": records_to_json(s.records)}
            for sid, s in m.segments.items()
        },
        "variables": {
            name: {"segment": e.segment, "index": e.index, "written_by": e.written_by}
            for name, e in m.variables.items()
        },
        "skipped": m.skipped,
        "deleted": m.deleted,
        "bytes_written": m.bytes_written,
        "error": m.error,
        "info": m.info,
        "versions": m.versions,
    }


def canonical(doc: dict[str, Any]) -> bytes:
    """The exact bytes a signature covers."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def encode_signed(m: Manifest, key: bytes) -> bytes:
    """Manifest file contents: the document plus its key id and HMAC signature."""
    doc = to_document(m)
    doc["key_id"] = signing.key_id(key)
    doc["signature"] = signing.sign(key, canonical(doc))
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def decode(data: bytes, key: bytes | None, *, where: str) -> tuple[Manifest, bool]:
    """Parse manifest bytes and check the signature; return (manifest, signed_by_this_key).

    With ``key=None`` the signature is not checked (``trust=True``) and the flag is False.
    Raises CheckpointCorrupt (unreadable), CheckpointUntrusted (bad signature), StoreFormatError.
    """
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise TypeError("not a JSON object")
    except (ValueError, TypeError) as exc:
        raise CheckpointCorrupt(f"{where}: the manifest is unreadable ({exc})") from None
    _check_format(doc, where)
    signed = False
    if key is not None:
        _check_signature(doc, key, where)
        signed = True
    try:
        return _from_document(doc), signed
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointCorrupt(f"{where}: the manifest is malformed ({exc!r})") from None


def _check_format(doc: dict[str, Any], where: str) -> None:
    version = doc.get("format")
    if not isinstance(version, int):
        raise CheckpointCorrupt(f"{where}: the manifest has no format version")
    if version > FORMAT_VERSION:
        raise StoreFormatError(
            f"{where} was written by a newer ipyckpt (checkpoint format {version}); this ipyckpt "
            f"reads format {FORMAT_VERSION}: upgrade with `pip install -U ipyckpt`"
        )


def _check_signature(doc: dict[str, Any], key: bytes, where: str) -> None:
    signature = doc.pop("signature", None)
    how = "pass trust=True (or --trust) only if you know where it came from"
    if not isinstance(signature, str):
        raise CheckpointUntrusted(f"{where} is not signed; loading it would run its code: {how}")
    if doc.get("key_id") != signing.key_id(key):
        raise CheckpointUntrusted(
            f"{where} was signed by another key (another user or machine), not yours; {how}"
        )
    if not signing.is_valid(key, canonical(doc), signature):
        raise CheckpointUntrusted(
            f"{where} has been modified since it was signed (signature mismatch); {how}"
        )


def _from_document(doc: dict[str, Any]) -> Manifest:
    segments = {
        sid: Segment(
            BlobRef(str(s["pickle"][0]), int(s["pickle"][1])), records_from_json(s["variables"])
        )
        for sid, s in doc["segments"].items()
    }
    variables = {
        str(name): VariableEntry(str(e["segment"]), int(e["index"]), int(e["written_by"]))
        for name, e in doc["variables"].items()
    }
    for name, entry in variables.items():
        if entry.segment not in segments or not 0 <= entry.index < len(
            segments[entry.segment].records
        ):
            raise ValueError(f"variable {name!r} points outside its segment")
    return Manifest(
        generation=int(doc["generation"]),
        created=float(doc["created"]),
        trigger=str(doc["trigger"]),
        duration=float(doc["duration"]),
        segments=segments,
        variables=variables,
        skipped={str(k): str(v) for k, v in doc["skipped"].items()},
        deleted=[str(x) for x in doc["deleted"]],
        bytes_written=int(doc["bytes_written"]),
        error=None if doc["error"] is None else str(doc["error"]),
        info=dict(doc.get("info") or {}),
        versions={str(k): str(v) for k, v in (doc.get("versions") or {}).items()},
    )
