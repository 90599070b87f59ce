"""A reference to a content-addressed blob (shared by the pickling, parts and manifest code)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlobRef:
    """A content-addressed blob: its hash (blake3, hex) and size in bytes."""

    hash: str
    size: int
