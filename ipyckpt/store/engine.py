"""The on-disk checkpoint store: generations, manifests, blobs, atomic publish, verify, gc.

Layout of a store directory (0700; every file 0600)::

    ipyckpt-store.json        marker: format name and version
    lock                      flock: saves/gc exclusive, loads shared
    generations/00000012.json the signed manifest of generation 12 (published last)
    blobs/ab/ab12…            content-addressed data: pickle segments and raw buffers
    tmp/                      temporary files; anything here is garbage once the lock is free

A save writes every new blob to ``tmp/``, fsyncs it, renames it into ``blobs/``, fsyncs the blob
directories, and only then publishes the manifest the same way. A kill at any instant therefore
leaves the previous generation intact and never exposes a half-written one. Unchanged buffers
keep their hash, so they are not written again.
"""

from __future__ import annotations

import contextlib
import functools
import json
import mmap
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import blake3

from ipyckpt.store import fsio, knowngood, manifest, randomstate, signing
from ipyckpt.store.blobwriter import BUFFER_READERS, BlobWriter, submit
from ipyckpt.store.chunks import read_ahead
from ipyckpt.store.deadline import DeadlinePassed
from ipyckpt.store.deadline import deadline as deadline_for
from ipyckpt.store.errors import (
    CheckpointCorrupt,
    CheckpointUntrusted,
    CheckpointWriteError,
    NoCheckpoint,
    SnapshotTooSlow,
    StoreFormatError,
    StoreUnsafe,
)
from ipyckpt.store.locking import locked
from ipyckpt.store.manifest import Manifest, Segment
from ipyckpt.store.parts import PartCache, SaveParts
from ipyckpt.store.refs import BlobRef
from ipyckpt.store.reports import (
    GcReport,
    GenerationInfo,
    LoadReport,
    Problem,
    SaveReport,
    VerifyReport,
)
from ipyckpt.store.retention import Footprint, Policy
from ipyckpt.store.saveplan import assemble_manifest, check_names, plan_save
from ipyckpt.store.serialize import (
    BufferRef,
    PickledVariable,
    gc_paused,
    imports_first,
    needed_indices,
    pickle_variables,
    unpickle_variables,
)
from ipyckpt.store.summary import attach_summaries

MARKER = "ipyckpt-store.json"
_GEN_DIR, _BLOB_DIR, _TMP_DIR, _LOCK = "generations", "blobs", "tmp", "lock"
_GEN_FILE = re.compile(r"^(\d{8,12})\.json$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_SHARD = re.compile(r"^[0-9a-f]{2}$")
_TEMP = re.compile(r"^[A-Za-z0-9_.-]+\.[0-9a-f]{16}\.tmp$")  # fsio.create_temp's names
_MARKER_TEMP = re.compile(r"^ipyckpt-store\.json\.[0-9a-f]{16}\.tmp$")


class Store:
    """A directory of checkpoint generations of a namespace.

    ``keep`` is how many generations survive a save (older ones are collected). ``key`` is the
    signing key (default: this user's key in the Jupyter data directory). ``lock_timeout`` is
    how long a save waits for another process's save before raising :class:`StoreBusy`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        keep: int = 3,
        key: bytes | None = None,
        lock_timeout: float = 60.0,
        retention: Policy | None = None,
    ) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1 (got {keep})")
        self.directory = Path(directory).expanduser().absolute()
        self.keep = keep
        self.retention = retention  # what survives a save; None: the newest ``keep``
        self.lock_timeout = lock_timeout
        self._key = key
        self._check_is_store()

    def __repr__(self) -> str:
        return f"Store({str(self.directory)!r}, keep={self.keep})"

    # ----------------------------------------------------------------------------- layout
    @property
    def key(self) -> bytes:
        """This store's signing key (this user's key unless one was given)."""
        if self._key is None:
            self._key = signing.load_or_create_key()
        return self._key

    def _path(self, *parts: str) -> Path:
        return self.directory.joinpath(*parts)

    def _gen_path(self, generation: int) -> Path:
        return self._path(_GEN_DIR, f"{generation:08d}.json")

    def _blob_path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise CheckpointCorrupt(f"invalid blob name {digest!r} in a manifest")
        return self._path(_BLOB_DIR, digest[:2], digest)

    def _check_is_store(self) -> None:
        """Refuse a directory that is not (or cannot safely be) a store; adopt only a directory
        that holds the marker, or is empty but for what a killed first save leaves."""
        problem = fsio.unsafe_dir_reason(self.directory)
        if problem is not None:
            raise StoreUnsafe(_unsafe_message(self.directory, problem))
        if not self.directory.exists():
            return
        marker = self._path(MARKER)
        if marker.is_symlink() or (marker.exists() and not marker.is_file()):
            raise StoreUnsafe(_unsafe_message(self.directory, f"{marker} is not a regular file"))
        if marker.is_file():
            self._check_marker(marker)
            self._check_layout()
        elif any(not _MARKER_TEMP.match(name) for name in os.listdir(self.directory)):
            raise StoreFormatError(
                f"{self.directory} is not an ipyckpt checkpoint store (it has no {MARKER} "
                "but is not empty); choose a new or empty directory"
            )

    def _check_layout(self) -> None:
        """Every directory of the store must be a real directory that only this user can change."""
        dirs = [self.directory, *(self._path(sub) for sub in (_GEN_DIR, _BLOB_DIR, _TMP_DIR))]
        blob_dir = self._path(_BLOB_DIR)
        if blob_dir.is_dir() and not blob_dir.is_symlink():
            dirs += [blob_dir / name for name in os.listdir(blob_dir) if _SHARD.match(name)]
        for path in dirs:
            problem = fsio.unsafe_dir_reason(path)
            if problem is not None:
                raise StoreUnsafe(_unsafe_message(self.directory, problem))

    def _check_marker(self, marker: Path) -> None:
        try:
            doc = json.loads(fsio.read_small(marker, 4096))
            if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
                raise TypeError("no format version")
            version = int(doc["version"])
            if doc.get("format") != "ipyckpt-store":
                raise ValueError(doc.get("format"))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise StoreFormatError(
                f"{marker} is not a valid ipyckpt store marker ({exc})"
            ) from None
        if version < manifest.OLDEST_READABLE:
            raise StoreFormatError(
                f"{self.directory} was written by a development version of ipyckpt (store format "
                f"{version}) that this version cannot read; move it away to start a new store"
            )
        if version > manifest.FORMAT_VERSION:
            raise StoreFormatError(
                f"{self.directory} was written by a newer ipyckpt (store format {version}); this "
                f"ipyckpt reads format {manifest.FORMAT_VERSION}: upgrade with `pip install -U ipyckpt`"
            )

    def _ensure_layout(self) -> None:
        """Create the store: the marker first (so a killed first save leaves an adoptable
        directory), then the sub-directories; check that every directory is safe to use."""
        fsio.make_private_dir(self.directory)
        self._check_is_store()
        marker = self._path(MARKER)
        if not marker.exists():
            doc = {"format": "ipyckpt-store", "version": manifest.FORMAT_VERSION}
            fsio.atomic_write_bytes(marker, json.dumps(doc).encode(), self.directory)
        for sub in (_GEN_DIR, _BLOB_DIR, _TMP_DIR):
            fsio.make_private_dir(self._path(sub))
        self._check_layout()

    @contextlib.contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[None]:
        if exclusive:
            self._ensure_layout()
        elif not self._path(MARKER).exists():
            yield  # nothing to protect yet: the store does not exist
            return
        else:
            self._check_layout()
        with locked(self._path(_LOCK), exclusive=exclusive, timeout=self.lock_timeout):
            yield

    # -------------------------------------------------------------------------- listing
    def generation_ids(self) -> list[int]:
        """Ids of the published generations, newest first."""
        gen_dir = self._path(_GEN_DIR)
        if not gen_dir.is_dir():
            return []
        ids = [int(m.group(1)) for p in gen_dir.iterdir() if (m := _GEN_FILE.match(p.name))]
        return sorted(ids, reverse=True)

    def _read_manifest(self, generation: int, *, trust: bool) -> tuple[Manifest, bool]:
        path = self._gen_path(generation)
        where = f"state checkpoint generation {generation} in {self.directory}"
        try:
            data = fsio.read_small(path, manifest.MAX_BYTES)
        except FileNotFoundError:
            raise NoCheckpoint(f"{where} does not exist") from None
        except OSError as exc:  # a link, a directory, too large, unreadable
            raise CheckpointCorrupt(f"{where}: the manifest cannot be read ({exc})") from None
        m, signed = manifest.decode(data, None if trust else self.key, where=where)
        if m.generation != generation:
            raise CheckpointCorrupt(f"{where}: the manifest says it is generation {m.generation}")
        return m, signed

    def generations(self) -> list[GenerationInfo]:
        """Every generation, newest first; a damaged or untrusted one carries a ``problem``."""
        out = []
        for gid in self.generation_ids():
            try:
                m, problem = self._read_manifest_noting_trust(gid)
            except (CheckpointCorrupt, StoreFormatError, NoCheckpoint) as exc:
                out.append(GenerationInfo(gid, 0.0, "?", {}, 0, 0.0, {}, problem=str(exc)))
                continue
            out.append(_info(m, problem))
        return out

    def _read_manifest_noting_trust(self, gid: int) -> tuple[Manifest, str | None]:
        """The manifest even if untrusted, with the reason it is untrusted (or None)."""
        try:
            return self._read_manifest(gid, trust=False)[0], None
        except CheckpointUntrusted as exc:
            return self._read_manifest(gid, trust=True)[0], str(exc)

    # ----------------------------------------------------------------------------- save
    def save(
        self,
        namespace: Mapping[str, object],
        *,
        names: Sequence[str] | None = None,
        trigger: str = "manual",
        info: Mapping[str, Any] | None = None,
        progress: Callable[[int], None] | None = None,
        deadline: float | None = None,
        parts: PartCache | None = None,
    ) -> SaveReport:
        """Save ``namespace`` (or only ``names`` of it) as a new generation.

        Unpicklable variables are skipped and reported, never fatal. With ``names``, the other
        variables of the previous generation are carried forward without being rewritten.
        Raises :class:`CheckpointWriteError` if the data cannot be written (disk full, read-only
        directory, ...); the previous generation is then untouched. With ``deadline`` (seconds,
        main thread only), pickling that takes longer abandons the save with
        :class:`SnapshotTooSlow` naming the variable being pickled. With ``parts`` (kept by
        the caller between saves), large containers of atoms that did not change since the
        last save are not pickled again (:mod:`ipyckpt.store.parts`).
        """
        started = time.perf_counter()
        wanted = check_names(names) if names is not None else None
        pickling: list[str | None] = [None]
        try:
            with gc_paused(), self._lock(exclusive=True):
                report, written = self._save_locked(
                    namespace,
                    wanted,
                    trigger,
                    dict(info or {}),
                    started,
                    progress,
                    (deadline, pickling),
                    parts,
                )
                report.notes.extend(self._collect_after_save(written))
        except OSError as exc:
            raise CheckpointWriteError(self._write_error_message(exc)) from None
        except DeadlinePassed:
            what = f"variable {pickling[0]!r}" if pickling[0] else "the variables"
            raise SnapshotTooSlow(
                f"snapshot abandoned: pickling {what} took longer than the {deadline:g} s "
                "snapshot deadline (exclude it from snapshots, or allow more time); the "
                "previous generation is intact"
            ) from None
        return report

    def _collect_after_save(self, written: Manifest) -> list[str]:
        """Prune to ``keep`` generations (or what ``retention`` keeps); a failure here never
        fails the (published) save. ``written`` is the manifest just published (signed with
        this store's key), used as is instead of re-reading and re-parsing it."""
        try:
            self._collect(keep=self.keep, policy=self.retention, written=written)
        except OSError as exc:
            return [
                f"could not remove old generations ({exc.strerror or exc}); the next save retries"
            ]
        return []

    def _write_error_message(self, exc: OSError) -> str:
        ids = self.generation_ids()
        kept = f"generation {ids[0]} is intact" if ids else "no earlier generation existed"
        return (
            f"could not write a state checkpoint to {self.directory}: {exc.strerror or exc}; {kept}"
        )

    def _save_locked(
        self,
        namespace: Mapping[str, object],
        wanted: list[str] | None,
        trigger: str,
        info: dict[str, Any],
        started: float,
        progress: Callable[[int], None] | None,
        limit: tuple[float | None, list[str | None]] = (None, [None]),
        parts: PartCache | None = None,
    ) -> tuple[SaveReport, Manifest]:
        previous = self._newest_trusted_manifest()
        generation = max(self.generation_ids(), default=0) + 1
        items, skipped, deleted = plan_save(namespace, wanted, previous)
        random_states = randomstate.capture()
        blob_dir = self._path(_BLOB_DIR)
        seconds, pickling = limit
        with BlobWriter(self._path(_TMP_DIR), blob_dir, self._blob_path, progress) as writer:
            save_parts = None if parts is None else SaveParts(parts, writer)
            with deadline_for(seconds):
                named = _naming(imports_first(items), pickling)
                records, failed = pickle_variables(named, writer, save_parts)
            skipped.update(failed)
            segment = writer.finish_segment(records)
            m = assemble_manifest(
                generation, trigger, info, previous, wanted, segment, skipped, deleted
            )
            attach_summaries(m.variables, items)
            m.bytes_written = writer.bytes_written
            m.duration = time.perf_counter() - started
            m.versions = manifest.runtime_versions()
            m.random = random_states
            self._publish(m, new=True)
        if save_parts is not None:
            save_parts.commit()
        saved = [r.name for r in records]
        report = SaveReport(
            generation=generation,
            trigger=trigger,
            saved=saved,
            skipped=dict(m.skipped),
            carried=sorted(set(m.variables) - set(saved)),
            deleted=deleted,
            bytes_written=m.bytes_written,
            bytes_total=m.total_bytes(),
            seconds=time.perf_counter() - started,
            parts_pickled=writer.parts,
            parts_reused=save_parts.reused if save_parts is not None else 0,
        )
        return report, m

    def _newest_trusted_manifest(self) -> Manifest | None:
        for gid in self.generation_ids():
            with contextlib.suppress(CheckpointCorrupt, CheckpointUntrusted, NoCheckpoint):
                return self._read_manifest(gid, trust=False)[0]
        return None

    def _publish(self, m: Manifest, *, new: bool) -> None:
        """Write ``m``'s manifest atomically. Only a ``new`` generation's manifest is removed
        when this fails (its blobs are rolled back); a published one is never touched."""
        data = manifest.encode_signed(m, self.key)
        path = self._gen_path(m.generation)
        try:
            fsio.atomic_write_bytes(path, data, self._path(_TMP_DIR))
        except BaseException:
            if new:
                path.unlink(missing_ok=True)  # never leave a generation whose blobs we roll back
            raise

    def annotate(self, generation: int, **fields: Any) -> None:
        """Re-sign generation ``generation`` with ``error`` and/or ``info`` entries updated.

        Raises :class:`CheckpointWriteError` if it cannot be written; the generation is then
        exactly as it was (the manifest is replaced atomically or not at all).
        """
        try:
            with self._lock(exclusive=True):
                m, _ = self._read_manifest(generation, trust=False)
                if "error" in fields:
                    m.error = fields.pop("error")
                m.info.update(fields)
                self._publish(m, new=False)
        except OSError as exc:
            raise CheckpointWriteError(
                f"could not mark state checkpoint generation {generation} in {self.directory}: "
                f"{exc.strerror or exc}; it is unchanged"
            ) from None

    # ----------------------------------------------------------------------------- load
    def load(
        self,
        generation: int | None = None,
        names: Sequence[str] | None = None,
        *,
        trust: bool = False,
    ) -> LoadReport:
        """Restore a generation (default: the newest good one) or only ``names`` of it.

        Every blob is checked against the signed manifest before anything is unpickled. A
        damaged or missing blob loses only the variables that use it: they are taken from the
        newest older generation that has a good copy, and the report says which came from
        where. If no variable of the newest generation can be restored, or it is untrusted,
        older ones are tried and the report says so. An explicitly requested ``generation`` is
        never substituted, not even per variable.
        """
        wanted = check_names(names) if names is not None else None
        with gc_paused(), self._lock(exclusive=False):
            candidates = [generation] if generation is not None else self.generation_ids()
            if not candidates:
                raise NoCheckpoint(f"there is no state checkpoint in {self.directory}")
            notes: list[str] = []
            refusals: list[Exception] = []
            for n, gid in enumerate(candidates):
                try:
                    report, damaged = self._load_generation(gid, wanted, trust=trust)
                    if damaged and (generation is not None or not report.values):
                        raise CheckpointCorrupt(f"{self._where(gid)}: {_first(damaged)}")
                except (CheckpointCorrupt, CheckpointUntrusted, StoreFormatError) as exc:
                    if generation is not None:
                        raise
                    refusals.append(exc)
                    notes.append(f"skipped {exc}")
                    continue
                report.notes = notes
                if damaged:
                    self._fill_from_older(report, damaged, candidates[n + 1 :], trust=trust)
                return report
        raise _no_usable_generation(self.directory, refusals)

    def _where(self, gid: int) -> str:
        return f"state checkpoint generation {gid} in {self.directory}"

    def _fill_from_older(
        self, report: LoadReport, damaged: dict[str, str], older: list[int], *, trust: bool
    ) -> None:
        """Restore the ``damaged`` variables of ``report`` from the newest older generation
        that has a good copy of each; note where each came from, or why it is lost."""
        remaining = dict(damaged)
        for gid in older:
            if not remaining:
                break
            try:
                got, _ = self._load_generation(gid, list(remaining), trust=trust)
            except (CheckpointCorrupt, CheckpointUntrusted, StoreFormatError):
                continue
            for name, value in got.values.items():
                report.values[name] = value
                report.sources[name] = gid
                report.notes.append(
                    f"{name} restored from generation {gid}: generation {report.generation}'s "
                    f"copy is unusable ({remaining.pop(name)})"
                )
        for name, reason in remaining.items():
            report.failed[name] = f"{reason}; no older generation has a good copy"
        if report.sources and report.info.pop("position", None) is not None:
            report.info.pop("cell", None)  # a mix of generations is not a point to resume from
            report.notes.append("not resuming inside the cell: some variables are older")

    def _load_generation(
        self, gid: int, wanted: list[str] | None, *, trust: bool
    ) -> tuple[LoadReport, dict[str, str]]:
        """Load one generation; also return the variables lost to damaged or missing blobs."""
        m, signed = self._read_manifest(gid, trust=trust)
        names = list(m.variables) if wanted is None else wanted
        failed = {n: f"not in generation {gid}" for n in names if n not in m.variables}
        damaged: dict[str, str] = {}
        by_segment: dict[str, dict[int, str]] = {}  # segment -> record index -> variable name
        for name in names:
            if name in m.variables:
                entry = m.variables[name]
                by_segment.setdefault(entry.segment, {})[entry.index] = name
        values: dict[str, Any] = {}
        for sid, wanted_here in by_segment.items():
            got, bad, lost = self._load_segment(m.segments[sid], list(wanted_here))
            values.update({wanted_here[i]: v for i, v in got.items() if i in wanted_here})
            failed.update({wanted_here[i]: r for i, r in bad.items() if i in wanted_here})
            damaged.update({wanted_here[i]: r for i, r in lost.items() if i in wanted_here})
        for name in damaged:
            failed.pop(name, None)
        report = LoadReport(
            generation=gid,
            created=m.created,
            trigger=m.trigger,
            values=values,
            failed=failed,
            skipped_at_save=dict(m.skipped),
            trusted=signed,
            info=dict(m.info, error=m.error) if m.error else dict(m.info),
            random_state=m.random,
        )
        return report, damaged

    def _load_segment(
        self, segment: Segment, indices: list[int]
    ) -> tuple[dict[int, object], dict[int, str], dict[int, str]]:
        """Unpickle ``indices`` of ``segment``: (values, failures, lost to damaged blobs)."""
        order = needed_indices(segment.records, indices)
        try:
            pickled = self._read_blob(segment.pickle)
        except CheckpointCorrupt as exc:
            return {}, {}, {i: str(exc) for i in indices}
        lost: dict[int, str] = {}
        with ThreadPoolExecutor(BUFFER_READERS, thread_name_prefix="ipyckpt-read") as pool:
            # read (and verify) every needed buffer's chunks ahead, in the order needed
            start = functools.partial(submit, pool)
            reads = {
                i: read_ahead(_with_parts(segment.records[i]), start, self._read_into)
                for i in order
            }

            def all_of(i: int) -> list[object]:
                try:
                    return [read.result() for read in reads[i]]
                except CheckpointCorrupt as exc:
                    lost[i] = str(exc)
                    raise _BlobLost(str(exc)) from None

            def buffers_of(i: int) -> list[object]:
                return all_of(i)[: len(segment.records[i].buffers)]

            def parts_of(i: int) -> dict[str, object]:
                record = segment.records[i]
                data = all_of(i)[len(record.buffers) :]
                return {ref.hash: blob for ref, blob in zip(record.parts, data, strict=True)}

            try:
                values, failed = unpickle_variables(
                    pickled, segment.records, indices, buffers_of, parts_of
                )
            finally:
                for buffer_reads in reads.values():
                    for read in buffer_reads:
                        read.cancel()
        records = segment.records
        for i in list(failed):  # the later members of a damaged variable's group go with it
            group_lost = [j for j in lost if records[j].group == records[i].group and j <= i]
            if group_lost:
                lost[i] = lost[group_lost[0]]
                del failed[i]
        return values, failed, lost

    def _read_blob(self, ref: BlobRef) -> bytearray | mmap.mmap:
        """Read and check one blob; a damaged one is moved aside so the next save rewrites it."""
        data = fsio.new_buffer(ref.size)
        with memoryview(data) as view:
            self._read_into(ref, view)
        return data

    def _read_into(self, ref: BlobRef, view: memoryview) -> None:
        """Fill ``view`` with blob ``ref``, checking its size and hash (a damaged one is moved
        aside so the next save rewrites it)."""
        path = self._blob_path(ref.hash)
        hasher = blake3.blake3()
        try:
            fsio.read_into(path, view, on_chunk=hasher.update)
        except FileNotFoundError:
            raise CheckpointCorrupt(f"blob {ref.hash[:12]}… is missing") from None
        except OSError as exc:
            if _wrong_size(path, ref.size):
                knowngood.move_aside(path, self._path(_TMP_DIR))
            raise CheckpointCorrupt(f"blob {ref.hash[:12]}… is damaged: {exc.strerror}") from None
        if hasher.hexdigest() != ref.hash:
            knowngood.move_aside(path, self._path(_TMP_DIR))
            raise CheckpointCorrupt(f"blob {ref.hash[:12]}… is damaged: its content changed")
        knowngood.remember(path)

    # --------------------------------------------------------------------- verify and gc
    def verify(self) -> VerifyReport:
        """Check every generation: manifest, signature, and every blob's presence, size and hash."""
        problems: list[Problem] = []
        checked: dict[str, str | None] = {}
        ids = self.generation_ids()
        with self._lock(exclusive=False):
            for gid in ids:
                try:
                    m, untrusted = self._read_manifest_noting_trust(gid)
                except (CheckpointCorrupt, StoreFormatError, NoCheckpoint) as exc:
                    problems.append(Problem(gid, str(exc)))
                    continue
                if untrusted:
                    problems.append(Problem(gid, untrusted))
                for digest, size in m.blobs().items():
                    if digest not in checked:
                        checked[digest] = self._blob_problem(BlobRef(digest, size))
                    if checked[digest]:
                        problems.append(Problem(gid, str(checked[digest])))
        return VerifyReport(generations=len(ids), blobs=len(checked), problems=problems)

    def _blob_problem(self, ref: BlobRef) -> str | None:
        try:
            self._read_blob(ref)
        except CheckpointCorrupt as exc:
            return str(exc)
        return None

    def delete(self, generation: int) -> GcReport:
        """Delete one generation and every blob that no remaining generation uses."""
        try:
            with self._lock(exclusive=True):
                if generation not in self.generation_ids():
                    raise NoCheckpoint(
                        f"state checkpoint generation {generation} does not exist in "
                        f"{self.directory}"
                    )
                self._gen_path(generation).unlink()
                return self._collect(keep=len(self.generation_ids()))
        except OSError as exc:
            raise CheckpointWriteError(
                f"could not delete state checkpoint generation {generation} in "
                f"{self.directory}: {exc.strerror or exc}; the other generations are intact"
            ) from None

    def destroy(self) -> None:
        """Delete the store: every file ipyckpt created in it, then its directories if empty.

        Anything else (a file the user put there) stays, and with it the directory holding it
        and the marker (the directory is still an empty store).
        """
        if not self.directory.exists():
            return
        with self._lock(exclusive=True):
            for gid in self.generation_ids():
                self._gen_path(gid).unlink(missing_ok=True)
            self._remove_blobs_except(set())
            fsio.remove_matching(self._path(_TMP_DIR), _TEMP, keep=lambda name: False)
            fsio.remove_matching(self.directory, _MARKER_TEMP, keep=lambda name: False)
            blob_dir = self._path(_BLOB_DIR)
            shards = [blob_dir / n for n in os.listdir(blob_dir) if _SHARD.match(n)]
            for path in [*shards, *(self._path(sub) for sub in (_TMP_DIR, _BLOB_DIR, _GEN_DIR))]:
                with contextlib.suppress(OSError):  # not empty: the user's files stay
                    path.rmdir()
            if set(os.listdir(self.directory)) - {MARKER, _LOCK}:
                return  # the user's files stay, in a store that is still a (now empty) store
            self._path(MARKER).unlink()
        self._path(_LOCK).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()

    def gc(self, keep: int | None = None) -> GcReport:
        """Remove generations beyond the newest ``keep`` and every blob none of the rest uses.

        Raises :class:`CheckpointWriteError` if a file cannot be removed; every generation that
        is left is whole (manifests go before the blobs only they used).
        """
        try:
            with self._lock(exclusive=True):
                return self._collect(keep=self.keep if keep is None else keep)
        except OSError as exc:
            raise CheckpointWriteError(
                f"could not collect old state checkpoints in {self.directory}: "
                f"{exc.strerror or exc}; every generation left is intact"
            ) from None

    def _collect(
        self, *, keep: int, policy: Policy | None = None, written: Manifest | None = None
    ) -> GcReport:
        """Keep the newest ``keep`` good generations (and any damaged or untrusted one newer
        than them, so such a file can never push a good generation out), plus what ``policy``
        keeps; remove the rest and every blob no kept generation uses. ``written``, the
        manifest this process has just published and signed, is used without re-reading it."""
        known = {} if written is None else {written.generation: written}
        ids = self.generation_ids()
        referenced: set[str] = set()
        good = kept = 0
        for gid in ids:
            if good >= keep:
                break
            kept += 1
            with contextlib.suppress(CheckpointCorrupt, StoreFormatError, NoCheckpoint):
                m, problem = self._known_or_read(gid, known)
                referenced.update(m.blobs())
                good += problem is None
        removed = ids[kept:]
        if policy is not None:
            chosen = self._kept_by(policy, ids, kept, known)
            removed = [gid for gid in ids if gid not in chosen]
            referenced = self._blobs_of(chosen, known)
        for gid in removed:
            self._gen_path(gid).unlink(missing_ok=True)
        count, freed = self._remove_blobs_except(referenced)
        fsio.remove_matching(self._path(_TMP_DIR), _TEMP, keep=lambda name: False)
        fsio.remove_matching(self.directory, _MARKER_TEMP, keep=lambda name: False)
        if removed or count:
            fsio.fsync_dir(self._path(_GEN_DIR))
        return GcReport(removed, count, freed)

    def _remove_blobs_except(self, referenced: set[str]) -> tuple[int, int]:
        """Remove every blob file not in ``referenced``: only names ipyckpt gives blobs, in
        shard directories that are real directories (never through a link)."""
        count = freed = 0
        blob_dir = self._path(_BLOB_DIR)
        for name in sorted(os.listdir(blob_dir)) if blob_dir.is_dir() else []:
            shard = blob_dir / name
            if _SHARD.match(name) and fsio.unsafe_dir_reason(shard) is None:
                n, size = fsio.remove_matching(shard, _HASH, keep=referenced.__contains__)
                count, freed = count + n, freed + size
        return count, freed

    def _known_or_read(self, gid: int, known: dict[int, Manifest]) -> tuple[Manifest, str | None]:
        """Generation ``gid``'s manifest from ``known`` (written and signed by this process, so
        trusted) or else read from disk, with the reason it is untrusted (or None)."""
        return (known[gid], None) if gid in known else self._read_manifest_noting_trust(gid)

    def _kept_by(
        self, policy: Policy, ids: list[int], newest: int, known: dict[int, Manifest]
    ) -> list[int]:
        """The generations ``policy`` keeps, and always the ``newest`` ones."""
        footprints = []
        for gid in ids:
            with contextlib.suppress(CheckpointCorrupt, StoreFormatError, NoCheckpoint):
                m = self._known_or_read(gid, known)[0]
                footprints.append(Footprint(gid, m.created, m.blobs()))
        chosen = policy(footprints, time.time()) | set(ids[:newest])
        return [gid for gid in ids if gid in chosen]

    def _blobs_of(self, generations: list[int], known: dict[int, Manifest]) -> set[str]:
        """Every blob the (readable) ``generations`` use."""
        referenced: set[str] = set()
        for gid in generations:
            with contextlib.suppress(CheckpointCorrupt, StoreFormatError, NoCheckpoint):
                referenced.update(self._known_or_read(gid, known)[0].blobs())
        return referenced


def _naming(
    items: list[tuple[str, object]], current: list[str | None]
) -> Iterator[tuple[str, object]]:
    """``items``, noting in ``current[0]`` the name being pickled (for the deadline's message)."""
    for name, value in items:
        current[0] = name
        yield name, value
    current[0] = None


def _with_parts(record: PickledVariable) -> list[BufferRef]:
    """What to read ahead for ``record``: its buffers, then each part as a one-chunk buffer."""
    return record.buffers + [BufferRef(p.size, [p]) for p in record.parts]


class _BlobLost(Exception):
    """A variable's buffer blob is damaged or missing (raised into the unpickler)."""


def _first(damaged: dict[str, str]) -> str:
    name, reason = next(iter(damaged.items()))
    return f"{name}: {reason}"


def _wrong_size(path: Path, size: int) -> bool:
    try:
        return os.lstat(path).st_size != size
    except OSError:
        return False


def _unsafe_message(directory: Path, problem: str) -> str:
    return (
        f"refusing to use the checkpoint store {directory}: {problem}; "
        "use a directory of your own that only you can write to"
    )


def _no_usable_generation(directory: Path, refusals: list[Exception]) -> Exception:
    detail = "\n  ".join(str(e) for e in refusals)
    kinds = {type(e) for e in refusals}
    cls = kinds.pop() if len(kinds) == 1 else CheckpointCorrupt
    return cls(f"no usable state checkpoint in {directory}:\n  {detail}")


def _info(m: Manifest, problem: str | None) -> GenerationInfo:
    variables = {name: m.record(name).type_name for name in m.variables}
    sizes = {name: m.record(name).nbytes for name in m.variables}
    return GenerationInfo(
        id=m.generation,
        time=m.created,
        trigger=m.trigger,
        variables=variables,
        bytes=m.total_bytes(),
        duration=m.duration,
        skipped=dict(m.skipped),
        error=m.error,
        problem=problem,
        sizes=sizes,
        info=dict(m.info),
        summaries={name: e.summary for name, e in m.variables.items() if e.summary},
    )
