"""Buffers as fixed-size chunks: how a buffer is cut, copied before hashing, and read back.

A large out-of-band buffer (a numpy array's memory) is stored as consecutive content-addressed
chunks of :data:`CHUNK_SIZE` bytes, so changing one element of a big array rewrites one chunk.
A chunk is hashed and written from a private copy (:func:`private_copy`), never from the live
buffer, so what is on disk always matches its hash (a forked snapshot child, whose memory nobody
else writes, skips the copy). A restore reads the chunks of every buffer
ahead, in parallel, straight into the buffer's final memory, each chunk verified as it arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from ipyckpt.store import fsio
from ipyckpt.store.refs import BlobRef
from ipyckpt.store.serialize import BufferRef

#: Size of a buffer chunk. Measured here (``python -m benchmarks.chunks``): 4-8 MB chunks write
#: a 320 MB array as fast as one file or faster (small fsyncs stream better on this disk), 16 MB
#: and more are slower, and copying plus hashing costs the same from 1 MB up. 8 MB keeps the
#: file count low (128 per GB) and a one-element change at one 8 MB write.
CHUNK_SIZE = 8 << 20

_private = threading.local()


class _Process:
    """Whether another thread of the user's program may write into a buffer while it is saved.

    A forked snapshot child (:func:`assume_frozen`) has no such thread: its memory is the
    copy-on-write image of one instant, so chunks are hashed and written straight from it.
    """

    frozen = False


def assume_frozen() -> None:
    """Declare this process a snapshot child: nothing else writes its memory from now on."""
    _Process.frozen = True


def chunk_spans(size: int, chunk: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk of a buffer of ``size`` bytes (none for an empty one).

    ``chunk`` defaults to :data:`CHUNK_SIZE` as it is at call time (the benchmark varies it).
    """
    chunk = chunk or CHUNK_SIZE
    return [(start, min(start + chunk, size)) for start in range(0, size, chunk)]


def private_copy(data: memoryview) -> memoryview:
    """``data`` copied into this thread's private chunk buffer (valid until its next call).

    In a frozen process (:func:`assume_frozen`) ``data`` itself: nothing can change it.
    """
    if _Process.frozen:
        return data
    buffer = getattr(_private, "buffer", None)
    if buffer is None or len(buffer) < len(data):
        buffer = _private.buffer = bytearray(max(len(data), CHUNK_SIZE))
    copy = memoryview(buffer)[: len(data)]
    copy[:] = data
    return copy


ReadChunk = Callable[[BlobRef, memoryview], None]
Start = Callable[[ReadChunk, BlobRef, memoryview], "Future[None]"]


class BufferRead:
    """One buffer being read in the background: its memory, and one read per chunk."""

    def __init__(
        self,
        ref: BufferRef,
        start: Start,
        read_chunk: ReadChunk,
    ) -> None:
        self.buffer = fsio.new_buffer(ref.size)
        view = memoryview(self.buffer)
        self.reads: list[Future[None]] = []
        offset = 0
        for chunk in ref.chunks:
            self.reads.append(start(read_chunk, chunk, view[offset : offset + chunk.size]))
            offset += chunk.size

    def result(self) -> object:
        """The buffer, once every chunk is read and verified (re-raises a chunk's error)."""
        for read in self.reads:
            read.result()
        return self.buffer

    def cancel(self) -> None:
        """Drop the reads that have not started (the restore failed or is over)."""
        for read in self.reads:
            read.cancel()


def read_ahead(refs: list[BufferRef], start: Start, read_chunk: ReadChunk) -> list[BufferRead]:
    """Start reading the buffers ``refs``, chunk by chunk, in order (``start`` submits one read)."""
    return [BufferRead(ref, start, read_chunk) for ref in refs]
