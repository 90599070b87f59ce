"""The manifest: the signed JSON document that *is* a generation.

A generation exists exactly when its manifest file exists. It names every blob it needs (with
hash and size), so its signature covers all the data. Variables point into segments: a segment
is one pickle blob holding several variables; a partial save writes a new segment for the saved
names and carries the other names' segment references forward unchanged.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ipyckpt.store import signing
from ipyckpt.store.errors import CheckpointCorrupt, CheckpointUntrusted, StoreFormatError
from ipyckpt.store.refs import BlobRef
from ipyckpt.store.serialize import PickledVariable, records_from_json, records_to_json

FORMAT_VERSION = 4  # 3: buffers are lists of fixed-size chunks; 4: records may list parts
OLDEST_READABLE = 3  # format 3 stores are read (their records have no parts) and written to


@dataclass
class Segment:
    """One pickle blob and the records of the variables inside it."""

    pickle: BlobRef
    records: list[PickledVariable]

    def blobs(self) -> Iterator[BlobRef]:
        """Every blob this segment needs: the pickle and all out-of-band buffers."""
        yield self.pickle
        for rec in self.records:
            for buffer in rec.buffers:
                yield from buffer.chunks
            yield from rec.parts


@dataclass
class VariableEntry:
    """Where a variable of a generation lives: segment id, index in it, generation that wrote it.

    ``summary`` is what a variable inspector shows (``list[100000]``, a DataFrame's shape),
    taken at save time (:mod:`ipyckpt.store.summary`); empty in older manifests.
    """

    segment: str
    index: int
    written_by: int
    summary: str = ""


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
    random: dict[str, Any] = field(default_factory=dict)  # see ipyckpt.store.randomstate

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
            name: [e.segment, e.index, e.written_by] + ([e.summary] if e.summary else [])
            for name, e in m.variables.items()
        },
        "skipped": m.skipped,
        "deleted": m.deleted,
        "bytes_written": m.bytes_written,
        "error": m.error,
        "info": m.info,
        "versions": m.versions,
        "random": m.random,
    }


def canonical(doc: dict[str, Any]) -> bytes:
    """The exact bytes a signature covers."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def encode_signed(m: Manifest, key: bytes) -> bytes:
    """Manifest file contents: the document plus its key id and HMAC signature."""
    doc = to_document(m)
    doc["key_id"] = signing.key_id(key)
    doc["signature"] = signing.sign(key, canonical(doc))
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


#: Limits a manifest must stay within; anything beyond is treated as corrupt, never parsed.
MAX_BYTES = 64 << 20
MAX_DEPTH = 32
_MAX_INT_DIGITS = 20
# A JSON string: the unrolled form of "(?:[^"\\]|\\.)*" (same matches, about twice as fast).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def decode(data: bytes, key: bytes | None, *, where: str) -> tuple[Manifest, bool]:
    """Parse manifest bytes and check the signature; return (manifest, signed_by_this_key).

    With ``key=None`` the signature is not checked (``trust=True``) and the flag is False.
    Raises CheckpointCorrupt (unreadable, too large, too deep, wrong types or values),
    CheckpointUntrusted (bad signature), StoreFormatError (newer format); never anything else,
    whatever the bytes are.
    """
    doc = _parse(data, where)
    _check_format(doc, where)
    signed = False
    if key is not None:
        _check_signature(doc, key, where)
        signed = True
    try:
        return _from_document(doc), signed
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError) as exc:
        raise CheckpointCorrupt(f"{where}: the manifest is malformed ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _parse(data: bytes, where: str) -> dict[str, Any]:
    """The manifest's JSON object: bounded size and depth, finite numbers, bounded integers."""
    try:
        if len(data) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        _check_depth(data)
        doc = json.loads(
            data, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant
        )
        if not isinstance(doc, dict):
            raise TypeError("not a JSON object")
    except (ValueError, TypeError, RecursionError) as exc:
        raise CheckpointCorrupt(f"{where}: the manifest is unreadable ({_reason(exc)})") from None
    return doc


def _check_depth(data: bytes) -> None:
    """ValueError if JSON ``data`` nests deeper than MAX_DEPTH levels (or, for alternating
    ``[{`` nesting, twice that). Strings and all but the brackets are dropped, then each pass
    removes the innermost pairs: all at C speed, so a large manifest costs milliseconds."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    if brackets:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels, or unbalanced")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS and len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text)} digits")
    return int(text)


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not allowed")


def _check_format(doc: dict[str, Any], where: str) -> None:
    version = doc.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
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
    """Build the manifest, checking every field's type and range on the way."""
    segments = {
        _str(sid, "segment id"): _segment(s)
        for sid, s in _dict(doc["segments"], "segments").items()
    }
    variables = {
        _str(name, "variable name"): _entry(e)
        for name, e in _dict(doc["variables"], "variables").items()
    }
    for name, entry in variables.items():
        if entry.segment not in segments or not 0 <= entry.index < len(
            segments[entry.segment].records
        ):
            raise ValueError(f"variable {name!r} points outside its segment")
    error = doc["error"]
    return Manifest(
        generation=_int(doc["generation"], "generation"),
        created=_float(doc["created"], "created"),
        trigger=_str(doc["trigger"], "trigger"),
        duration=_float(doc["duration"], "duration"),
        segments=segments,
        variables=variables,
        skipped={
            _str(k, "name"): _str(v, "reason") for k, v in _dict(doc["skipped"], "skipped").items()
        },
        deleted=[_str(x, "name") for x in _list(doc["deleted"], "deleted")],
        bytes_written=_int(doc["bytes_written"], "bytes_written"),
        error=None if error is None else _str(error, "error"),
        info=_dict(doc.get("info") or {}, "info"),
        versions={
            _str(k, "name"): _str(v, "version")
            for k, v in _dict(doc.get("versions") or {}, "versions").items()
        },
        random=_dict(doc.get("random") or {}, "random"),
    )


def _segment(doc: object) -> Segment:
    seg = _dict(doc, "segment")
    pickle = _blob(seg["pickle"])
    records = [_record_doc(r) for r in _list(seg["variables"], "segment variables")]
    if any(r[3] > pickle.size for r in records):
        raise ValueError("a variable's span lies beyond its segment's pickle")
    return Segment(pickle, records_from_json(records))


def _record_doc(doc: object) -> list[Any]:
    """A variable record's JSON, ``[name, type, start, end, buffers, group(, parts)]``,
    type-checked (``records_from_json`` then builds it)."""
    rec = _list(doc, "variable record")
    if len(rec) not in (6, 7):
        raise ValueError(f"a variable record has 6 or 7 fields, not {str(rec)[:80]}")
    name, kind, start, end, buffers, group, *parts = rec
    start, end = _int(start, "span"), _int(end, "span")
    if end < start:
        raise ValueError(f"invalid span {[start, end]!r}")
    return [
        _str(name, "name"),
        _str(kind, "type"),
        start,
        end,
        [
            [size, [[c.hash, c.size] for c in chunks]]
            for size, chunks in map(_buffer, _list(buffers, "buffers"))
        ],
        _int(group, "group"),
        *([[[b.hash, b.size] for b in map(_blob, _list(parts[0], "parts"))]] if parts else []),
    ]


def _entry(doc: object) -> VariableEntry:
    """``[segment, index, written_by(, summary)]`` (compact), or the earlier object form."""
    if isinstance(doc, list):
        if len(doc) not in (3, 4):
            raise ValueError(f"a variable entry has 3 or 4 fields, not {str(doc)[:80]}")
        doc = dict(zip(("segment", "index", "written_by", "summary"), doc, strict=False))
    e = _dict(doc, "variable")
    return VariableEntry(
        _str(e["segment"], "segment"),
        _int(e["index"], "index"),
        _int(e["written_by"], "written_by"),
        _str(e.get("summary", ""), "summary"),  # absent in manifests before summaries
    )


def _buffer(doc: object) -> tuple[int, list[BlobRef]]:
    """An out-of-band buffer: ``[size, [chunk blob, ...]]`` whose chunk sizes add up to size."""
    pair = _list(doc, "buffer")
    if len(pair) != 2:
        raise ValueError(f"a buffer is [size, chunks], not {str(pair)[:80]}")
    size = _int(pair[0], "buffer size")
    chunks = [_blob(c) for c in _list(pair[1], "chunks")]
    if size < 0 or sum(c.size for c in chunks) != size:
        raise ValueError(f"a buffer of {size} bytes has chunks of another total size")
    return size, chunks


def _blob(doc: object) -> BlobRef:
    pair = _list(doc, "blob")
    if len(pair) != 2:
        raise ValueError(f"a blob is [hash, size], not {str(pair)[:80]}")
    return BlobRef(_str(pair[0], "blob hash"), _int(pair[1], "blob size"))


def _dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is a {type(value).__name__}, not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is a {type(value).__name__}, not a list")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is a {type(value).__name__}, not a string")
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 63:
        raise ValueError(f"{what} must be a whole number from 0 to 2**63 (got {str(value)[:40]})")
    return value


def _float(value: object, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a number of at least 0 (got {str(value)[:40]})")
    return float(value)
