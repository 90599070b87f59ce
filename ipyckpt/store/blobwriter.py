"""Writing one save's blobs: the streamed pickle segment and the out-of-band buffers.

Every blob is written to ``tmp/``, fsynced and renamed to its content-addressed name. Buffers
are cut into fixed-size chunks (:data:`CHUNK_SIZE`), so changing one element of a big array
rewrites one chunk; background threads store the chunks while the next variable is pickled.

Each chunk is first copied into a private buffer, and that copy is both hashed and written: the
bytes on disk always match their hash, even if another thread of the user's program writes into
the array meanwhile (the chunk then holds the array as it was at the moment of the copy, which
may mix old and new values, but the generation is never damaged). On error, the temporary files
and the blobs this save created are removed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import blake3

from ipyckpt.store import fsio, knowngood
from ipyckpt.store.chunks import chunk_spans, private_copy
from ipyckpt.store.manifest import Segment
from ipyckpt.store.refs import BlobRef
from ipyckpt.store.serialize import BufferRef, PickledVariable

T = TypeVar("T")
PROGRESS_POLL_S = 0.2
_THREADED_HASH_MIN = 4 << 20
BUFFER_WRITERS = BUFFER_READERS = 2  # threads moving buffers while the main thread pickles


class _Hashing:
    """How many threads blake3 may use. ``AUTO`` uses its global thread pool, whose threads do
    not exist in a forked child (a hash there waits forever; measured): after a fork, an
    explicit count makes blake3 build a pool of its own."""

    threads: int = blake3.blake3.AUTO


def _after_fork_in_child() -> None:
    _Hashing.threads = os.cpu_count() or 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def content_hash(data: memoryview | bytes | bytearray) -> str:
    """blake3 hex digest; large inputs are hashed on several threads (the GIL is released)."""
    threads = _Hashing.threads if len(data) >= _THREADED_HASH_MIN else 1
    return str(blake3.blake3(data, max_threads=threads).hexdigest())


def submit(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> Future[T]:
    """``pool.submit(fn, *args)``, or run it here when the interpreter is shutting down.

    A snapshot taken at exit (the kernel's shutdown snapshot) runs after ``concurrent.futures``
    stopped accepting work; it must still be written.
    """
    try:
        return pool.submit(fn, *args)
    except RuntimeError:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:
            done.set_exception(exc)
        return done


def _write_to(fd: int, *, data: memoryview) -> None:
    fsio.write_all(fd, data)


class BlobWriter:
    """The :class:`SegmentSink` of one save: streams the segment, stores buffers as blobs.

    Everything goes to ``tmp/`` first; on error, the temporary files and the blobs this save
    created are removed, so a failed save leaves the store as it was.
    """

    def __init__(
        self,
        tmp: Path,
        blob_root: Path,
        blob_path: Callable[[str], Path],
        progress: Callable[[int], None] | None,
    ) -> None:
        self.tmp = tmp
        self.blob_root = blob_root
        self.blob_path = blob_path
        self.created: list[Path] = []
        self.dirs: set[Path] = set()
        self.bytes_written = 0
        self.progress = progress
        self.fd, self.segment_path = fsio.create_temp(self.tmp, "segment")
        self.offset = 0
        self.hasher = blake3.blake3()
        self.pool = ThreadPoolExecutor(max_workers=BUFFER_WRITERS, thread_name_prefix="ipyckpt")
        self.pending: list[Future[None]] = []
        self.report_lock = threading.Lock()
        self.claimed: set[str] = set()  # blobs this save writes (equal chunks are written once)
        self.owner = threading.current_thread()
        self.parts = 0  # part blobs pickled by this save (see ipyckpt.store.parts)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        with contextlib.suppress(BaseException):
            self._wait_for_buffers()  # no background write may outlive the save
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(OSError):
            self.segment_path.unlink()
        if exc_type is not None:
            for path in self.created:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _report(self, n: int) -> None:
        with self.report_lock:
            self.bytes_written += n
        if self.progress is not None and threading.current_thread() is self.owner:
            self.progress(self.bytes_written)  # progress display runs in the saving thread

    def write_pickle(self, data: memoryview) -> int:
        start = self.offset
        fsio.write_all(self.fd, data)
        self.hasher.update(data)
        self.offset += len(data)
        self._report(len(data))
        return start

    def write_buffers(self, buffers: list[memoryview], refs: list[BufferRef]) -> None:
        for data in buffers:
            view = data.cast("B") if data.format != "B" or data.ndim != 1 else data
            spans = chunk_spans(view.nbytes)
            ref = BufferRef(view.nbytes, [BlobRef("", end - start) for start, end in spans])
            refs.append(ref)
            for index, (start, end) in enumerate(spans):
                chunk = view[start:end]
                self.pending.append(submit(self.pool, self._write_chunk, chunk, ref, index))

    def write_part(self, data: bytes) -> BlobRef:
        """Store a part's pickle (private bytes: no copy needed) in the background."""
        ref = BlobRef(content_hash(data), len(data))
        self.parts += 1
        write = functools.partial(_write_to, data=memoryview(data))
        self.pending.append(submit(self.pool, self._store, ref, write))
        return ref

    def has_blob(self, ref: BlobRef) -> bool:
        """True if blob ``ref`` is stored and known good (re-hashed if this process did not
        write or verify it; a damaged one is moved aside)."""
        return knowngood.reusable(self.blob_path(ref.hash), ref.hash, ref.size, self.tmp)

    def _write_chunk(self, data: memoryview, ref: BufferRef, index: int) -> None:
        """Worker thread: copy one chunk, hash the copy and store the copy (GIL released)."""
        copy = private_copy(data)
        chunk = BlobRef(content_hash(copy), len(copy))
        self._store(chunk, functools.partial(_write_to, data=copy))
        ref.chunks[index] = chunk

    def _wait_for_buffers(self) -> None:
        """Wait for every background buffer write; re-raise the first failure."""
        pending, self.pending = self.pending, []
        not_done = set(pending)
        while not_done:  # keep the progress display moving while the big buffers are written
            not_done = wait(not_done, timeout=PROGRESS_POLL_S).not_done
            if self.progress is not None and threading.current_thread() is self.owner:
                self.progress(self.bytes_written)
        errors = [f.exception() for f in pending]
        self.pool.shutdown(wait=True)
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def _claim(self, digest: str) -> bool:
        """True for the first writer of ``digest`` in this save (chunks may repeat)."""
        with self.report_lock:
            first = digest not in self.claimed
            self.claimed.add(digest)
        return first

    def _store(self, ref: BlobRef, write: Callable[[int], object]) -> None:
        if not self._claim(ref.hash):
            return  # another thread of this save stores the same bytes
        final = self.blob_path(ref.hash)
        if knowngood.reusable(final, ref.hash, ref.size, self.tmp):
            return  # content-addressed: already stored (and known good) by an earlier save
        fsio.make_private_dir(final.parent)
        fd, temp = fsio.create_temp(self.tmp, "blob")
        try:
            write(fd)
            fsio.publish(fd, temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        knowngood.remember(final)
        self.created.append(final)
        self.dirs.add(final.parent)
        self._report(ref.size)

    def finish_segment(self, records: list[PickledVariable]) -> tuple[str, Segment] | None:
        """Publish the segment pickle as a blob and make every new blob durable."""
        self._wait_for_buffers()
        segment = None
        if records:
            ref = BlobRef(str(self.hasher.hexdigest()), self.offset)
            final = self.blob_path(ref.hash)
            if knowngood.reusable(final, ref.hash, ref.size, self.tmp):
                os.close(self.fd)
            else:
                fsio.make_private_dir(final.parent)
                fsio.publish(self.fd, self.segment_path, final)
                knowngood.remember(final)
                self.created.append(final)
                self.dirs.add(final.parent)
            self.fd = -1
            segment = (ref.hash, Segment(ref, records))
        for directory in self.dirs:
            fsio.fsync_dir(directory)
        fsio.fsync_dir(self.blob_root)
        return segment
