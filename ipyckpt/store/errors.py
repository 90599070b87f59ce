"""Exceptions raised by ipyckpt. Every message says what happened and what to do next."""

from __future__ import annotations


class IpyckptError(Exception):
    """Base class of every ipyckpt error."""


class StoreFormatError(IpyckptError):
    """The directory is not an ipyckpt store, or was written by an incompatible version."""


class StoreUnsafe(StoreFormatError):
    """A store directory is a symlink, belongs to another user or is writable by others."""


class SigningKeyError(IpyckptError):
    """This user's signing key cannot be used (damaged, unreadable, readable by others)."""


class StoreBusy(IpyckptError):
    """Another process holds the store's lock for longer than we were willing to wait."""


class CheckpointWriteError(IpyckptError):
    """A save failed (disk full, read-only directory, ...); the previous generation is intact."""


class SnapshotTooSlow(IpyckptError):
    """Pickling a variable took longer than the snapshot deadline; the snapshot was abandoned."""


class NoCheckpoint(IpyckptError):
    """The store holds no generation (or not the one asked for)."""


class CheckpointCorrupt(IpyckptError):
    """A generation's files are damaged: missing, truncated or altered blobs, unreadable manifest."""


class CheckpointUntrusted(IpyckptError):
    """A generation is unsigned, signed by another key, or its manifest was altered.

    Loading a checkpoint runs code (it is a pickle), so ipyckpt refuses it unless the caller
    passes ``trust=True`` after checking where it came from.
    """
