"""One kernel's view of its notebook's state checkpoints: what to save, save, restore, resume.

Usable without IPython (it works on a plain namespace dict); the magics, the extension and the
JupyterLab channel are thin layers over it. Where the store lives is :mod:`ipyckpt.location`.

THE SEAM where a snapshot is taken: :meth:`StateSession.save` is the only code that writes a
snapshot of the notebook's variables. It picks the values, tells the listeners, and hands a
:class:`SaveRequest` to ``StateSession.saver``, a :class:`Saver`. Two savers implement it:
:class:`InProcessSaver` (the default: pickles and writes in this process while the cell waits)
and :class:`ipyckpt.background.ForkedSaver` (``background.attach`` assigns it to
``session.saver``; a forked child writes, and the generation is reported through
:meth:`StateSession.saved` when the child is reaped). Nothing above this module knows which one
runs. (The HTCondor runner saves with its own job-signed Store and exits 85 right after, so it
has no use for a background saver.)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Container, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ipyckpt import identity
from ipyckpt.autosave import AutosaveClock
from ipyckpt.cells import ResumeInfo
from ipyckpt.history import INFO_KEY, CellHistory, carried_missing
from ipyckpt.location import STORE_ENV, notebook_path, store_location
from ipyckpt.namespace import select_names
from ipyckpt.store import randomstate
from ipyckpt.store.errors import IpyckptError, StoreFormatError
from ipyckpt.store.parts import PartCache
from ipyckpt.store.reports import LoadReport, SaveReport, plural
from ipyckpt.store.retention import Policy

if TYPE_CHECKING:
    from ipyckpt.store.engine import Store


DEFAULT_DEADLINE_S = 600.0


def one_line(exc: BaseException) -> str:
    """``exc`` as one line for the notebook: ipyckpt's own message, else ``Type: message``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, IpyckptError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NoStoreError(IpyckptError):
    """The kernel does not know which notebook it runs, so it has no store yet."""


def tracked_names(
    user_ns: Mapping[str, object], hidden: Mapping[str, object] | Container[str] = ()
) -> list[str]:
    """The user's variables, as ``%%checkpoint`` without ``vars=`` would save them."""
    return list(select_names(user_ns, hidden=hidden).names)


@dataclass(frozen=True)
class SaveRequest:
    """One snapshot to write: these values into that store."""

    store: Store
    namespace: dict[str, Any]
    names: list[str] | None  # a partial save (vars=...): only these are in the generation
    trigger: str
    info: Mapping[str, Any] | None = None
    progress: Callable[[int], None] | None = None
    deadline: float | None = None  # seconds pickling may take before the snapshot is abandoned


@dataclass
class PendingReport(SaveReport):
    """What a saver returns for a snapshot still being written (e.g. by a forked child): the
    generation it will be. The saver reports the outcome itself when it is known."""


class SnapshotSkipped(IpyckptError):
    """A snapshot that may be skipped came due while the previous one is still being written
    (by a forked child). ``generation`` is the one still written: say so once per generation.
    """

    def __init__(self, message: str, generation: int) -> None:
        super().__init__(message)
        self.generation = generation


class Saver(Protocol):
    """How a snapshot is written (the seam; see the module docstring)."""

    def check_ready(self, trigger: str) -> None:
        """Raise :class:`SnapshotSkipped` if a snapshot with ``trigger`` would be skipped now
        (before anyone is told that a snapshot starts)."""
        ...

    def save(self, request: SaveRequest) -> SaveReport:
        """Write ``request`` as a new generation and report it; raise IpyckptError on failure."""
        ...

    def settle(self, *, block: bool) -> None:
        """Report snapshots still being written elsewhere that ended (``block``: wait for them)."""
        ...


class InProcessSaver:
    """Pickle and write in this process, while the caller waits (the default saver).

    ``parts`` remembers the large containers of atoms of the last save, so an unchanged one is
    not pickled again (:mod:`ipyckpt.store.parts`); a forked child saves with its copy.
    """

    def __init__(self) -> None:
        self.parts = PartCache()

    def check_ready(self, trigger: str) -> None:
        """Never skips: the caller waits for the save."""

    def save(self, request: SaveRequest) -> SaveReport:
        """See :class:`Saver`."""
        report: SaveReport = request.store.save(
            request.namespace,
            names=request.names,
            trigger=request.trigger,
            info=request.info,
            progress=request.progress,
            deadline=request.deadline,
            parts=self.parts,
        )
        return report

    def settle(self, *, block: bool) -> None:
        """Nothing is ever pending: every save is complete when it returns."""


@dataclass
class RestoreOutcome:
    """What a restore did to the namespace."""

    report: LoadReport
    restored: list[str]
    conflicts: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # did not exist yet at that point
    made_by: dict[str, str] = field(default_factory=dict)  # not restored name -> its cell

    @property
    def missing(self) -> dict[str, str]:
        """Variables of the snapshot that could not be brought back (name -> why)."""
        carried = carried_missing(self.report.info)
        missing = {**carried, **self.report.skipped_at_save, **self.report.failed}
        return {n: r for n, r in missing.items() if n not in self.report.values}

    def summary(self) -> str:
        """One short paragraph for the notebook."""
        names = ", ".join(self.restored[:12]) + (" …" if len(self.restored) > 12 else "")
        from ipyckpt.store.reports import format_age

        text = (
            f"ipyckpt: restored {plural(len(self.restored), 'variable')} "
            f"from state checkpoint {self.report.generation} ({self.report.trigger}, "
            f"{format_age(self.report.created)}){': ' + names if names else ''}"
        )
        if self.conflicts:
            text += f"\n  kept your current values of: {', '.join(self.conflicts)}"
        if self.removed:
            text += f"\n  removed (made after that point): {', '.join(self.removed)}"
        for name, reason in sorted(self.missing.items()):
            cell = self.made_by.get(name)
            text += f"\n  not restored {name}: {reason}" + (
                f" — made by cell {cell}" if cell else ""
            )
        for note in self.report.notes:
            text += f"\n  note: {note}"
        return text


@dataclass(frozen=True)
class PendingResume:
    """A restored snapshot taken inside a cell: re-running that cell resumes from it, once.

    ``restored`` holds the objects the restore bound (strong references: an id alone could be
    reused by a new object), so a resume can check that nothing rebound them in between;
    ``random_state`` is put back right before resuming.
    """

    resume: ResumeInfo
    generation: int
    restored: dict[str, object] = field(default_factory=dict)
    random_state: dict[str, Any] = field(default_factory=dict)

    def rebound(self, user_ns: Mapping[str, object]) -> list[str]:
        """Restored variables no longer bound to the restored object (rebound or deleted)."""
        missing = object()
        return sorted(n for n, v in self.restored.items() if user_ns.get(n, missing) is not v)


class StateSession:
    """The notebook's store plus what this kernel did with it (last save, restore, resume)."""

    def __init__(
        self,
        user_ns: MutableMapping[str, Any],
        *,
        hidden: Mapping[str, object] | Container[str] = (),
        folder: str = "",
        keep: int = 3,
    ) -> None:
        self.user_ns = user_ns
        self.hidden = hidden  # IPython's user_ns_hidden: names the shell itself defined
        self.saver: Saver = InProcessSaver()
        self.folder = folder
        self.keep = keep
        self.name: str | None = None
        self.last_save: SaveReport | None = None
        self.last_restore: RestoreOutcome | None = None
        self.pending_resume: PendingResume | None = None
        self.cells_run_since_restore = 0
        self.snapshot_deadline: float | None = None  # None: max(10 min, 10x the last snapshot)
        self.history = CellHistory()  # the cells run, and which cell made each variable
        self.retention: Policy | None = None  # what survives a save unless keep= is given
        self.last_saved_at: float | None = None  # wall time of the last snapshot of everything
        self.last_saved_cell: str = ""  # "after cell [12] fit(X)" of the last snapshot
        self.saving_cell: str = ""  # the same, of the snapshot being taken
        self.unrestored: dict[str, str] = {}  # what the last restore could not bring back
        self.restored_names: set[str] = set()  # every name a restore set in this kernel
        self.autosave = AutosaveClock(None)  # when to snapshot after cells (kernel.autosave)
        # (event, data) observers, e.g. the JupyterLab channel (ipyckpt.kernel.comm): "saving",
        # "progress", "saved", "save_failed", "restored", "cleared". They must never break a save.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def emit(self, event: str, **data: Any) -> None:
        """Tell the listeners; their errors are swallowed (a UI must not break a checkpoint)."""
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):
                listener(event, data)

    def tracked_names(self) -> list[str]:
        """The user's variables (what a save without a name list saves), including what a
        restore put back: IPython hides every name set while extensions load (autorestore),
        and a hidden variable would silently drop out of the next snapshot."""
        names = set(tracked_names(self.user_ns, self.hidden))
        names |= {n for n in self.restored_names if n in self.user_ns}
        return sorted(names)

    @property
    def location(self) -> Path | None:
        """This kernel's store directory, or None if the notebook is unknown."""
        return store_location(notebook_path(self.user_ns), folder=self.folder, name=self.name)

    def store(self, keep: int | None = None) -> Store:
        """The :class:`ipyckpt.Store` of this notebook; NoStoreError if it has none."""
        from ipyckpt.store import Store

        location = self.location
        if location is None:
            raise NoStoreError(
                "this kernel does not know which notebook it runs (no JPY_SESSION_NAME), so it "
                "has no state checkpoint store: run the notebook with `ipyckpt run "
                f"NOTEBOOK.ipynb`, or set {STORE_ENV}=/path/to/store, or name one with "
                "`%checkpoint name NAME`"
            )
        try:
            return Store(
                location, keep=keep or self.keep, retention=None if keep else self.retention
            )
        except StoreFormatError as exc:
            if os.environ.get(STORE_ENV):  # say where the directory came from
                raise StoreFormatError(f"{STORE_ENV}={location}: {exc}") from None
            raise

    def save(
        self,
        names: Sequence[str],
        *,
        trigger: str,
        partial: bool = False,
        info: Mapping[str, Any] | None = None,
        keep: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> SaveReport:
        """Snapshot ``names`` of the namespace (all tracked names unless ``partial``).

        The one place a snapshot is taken (see the module docstring): through ``self.saver``.
        """
        store = self.store(keep)
        # before anything of this snapshot is noted: a skipped one tells nobody it starts, and
        # an ended background one is reported with its own cell
        self.saver.check_ready(trigger)
        namespace = {n: self.user_ns[n] for n in names if n in self.user_ns}
        history = self.history.snapshot_info(trigger)
        history["missing"] = {n: r for n, r in self.unrestored.items() if n not in self.user_ns}
        info = {**(info or {}), INFO_KEY: history}
        where = self.history.current(trigger)
        self.saving_cell = "" if where is None else where.describe()
        mine = identity.current(notebook_path(self.user_ns))
        info = {**(info or {}), "notebook": mine, "store": str(store.directory)}
        if self.listeners:
            previous = self.last_save
            self.emit("saving", trigger=trigger, estimate=previous.bytes_total if previous else 0)
            progress = _observed(progress, self.emit)
        request = SaveRequest(
            store,
            namespace,
            list(names) if partial else None,
            trigger,
            info,
            progress,
            self.deadline(),
        )
        try:
            report = self.saver.save(request)
        except Exception as exc:
            self.emit("save_failed", trigger=trigger, error=one_line(exc))
            raise
        if not isinstance(report, PendingReport):  # else the saver calls saved() later
            self.saved(report)
        return report

    def saved(self, report: SaveReport) -> None:
        """A snapshot is published: remember it and tell the listeners.

        :meth:`save` calls it when the saver returns; a saver that finishes later (a forked
        child reaped afterwards) calls it when the generation is really published.
        """
        self.last_save = report
        if not report.carried:  # everything was saved, not only some names
            self.last_saved_at = time.time()
        self.last_saved_cell = self.saving_cell
        self.emit("saved", report=report)

    def deadline(self) -> float:
        """Seconds a snapshot's pickling may take: the configured ``snapshot_deadline``, else
        generous: the larger of 10 minutes and 10 times the last snapshot."""
        if self.snapshot_deadline:
            return self.snapshot_deadline
        last = self.last_save.seconds if self.last_save is not None else 0.0
        return max(DEFAULT_DEADLINE_S, 10 * last)

    def settle(self, *, block: bool = False) -> None:
        """Report background snapshots that ended; with ``block``, wait for a running one."""
        self.saver.settle(block=block)

    def restore(
        self,
        *,
        generation: int | None = None,
        names: Sequence[str] | None = None,
        trust: bool = False,
        keep_existing: Sequence[str] = (),
        drop_others: Sequence[str] = (),
    ) -> RestoreOutcome:
        """Load a generation into the namespace, never overwriting ``keep_existing`` names.

        ``drop_others``: current names to delete if that generation did not have them yet (the
        exact state after a cell, for time travel).
        """
        report: LoadReport = self.store().load(generation, names, trust=trust)
        conflicts = sorted(n for n in report.values if n in keep_existing)
        restored = sorted(n for n in report.values if n not in keep_existing)
        self.user_ns.update({n: report.values[n] for n in restored})
        self.restored_names.update(restored)
        known = {*report.values, *report.failed, *report.skipped_at_save}
        removed = sorted(n for n in drop_others if n not in known and n in self.user_ns)
        for name in removed:
            del self.user_ns[name]
        self.history.adopt(report.info, restored)
        self.history.forget(removed)
        if names is None:  # the whole snapshot: its random states too
            randomstate.restore(report.random_state)
        outcome = RestoreOutcome(report, restored, conflicts, removed)
        self.unrestored = {n: r for n, r in outcome.missing.items() if n not in self.user_ns}
        for name in outcome.missing:
            cell = self.history.made_by(name)
            if cell is not None:
                outcome.made_by[name] = cell.label()
        self.last_restore = outcome
        self.cells_run_since_restore = 0
        self.pending_resume = _pending_resume(report, {n: report.values[n] for n in restored})
        self.emit("restored", outcome=outcome)
        return outcome

    def check_own_store(self) -> str | None:
        """Before an automatic restore: make sure the store is this notebook's (see
        :mod:`ipyckpt.identity`); return the one line to show when it is not.

        A notebook renamed since its store was written continues in that store; a notebook that
        took another one's name gets a store of its own (``self.name``) instead.
        """
        location = self.location
        if location is None or os.environ.get(STORE_ENV) or self.name is not None:
            return None  # an explicit store: nothing to guess
        notebook = notebook_path(self.user_ns)
        mine = identity.current(notebook)
        info = _newest_info(location)
        if info is None:
            renamed = identity.find_renamed(location.parent, location, mine, _newest_info)
            if renamed is not None:
                self.name = renamed.name
            return None
        problem = identity.refusal(info, location, mine)
        recorded, moved = info.get("notebook"), info.get("store") not in (None, str(location))
        other = isinstance(recorded, Mapping) and identity.same_notebook(recorded, mine) is False
        if problem and other and not moved:
            key = (mine.get("id") or mine.get("file", "")).replace(":", "-")
            self.name = f"{location.name}.{key}"  # never write into the other notebook's store
        return problem

    def note_cell_run(self, *args: object) -> None:
        """IPython ``post_run_cell`` hook: cells that ran since the restore may have changed state."""
        self.cells_run_since_restore += 1

    def take_resume(self, cell_hash: str) -> tuple[PendingResume | None, str | None]:
        """The resume point for a cell about to run (consumed), and a message if it changed."""
        pending, self.pending_resume = self.pending_resume, None
        if pending is None:
            return None, None
        if pending.resume.cell != cell_hash:
            return None, (
                "ipyckpt: this cell changed since state checkpoint "
                f"{pending.generation} was taken inside it: running it from the top"
            )
        return pending, None


def _observed(
    progress: Callable[[int], None] | None, emit: Callable[..., None]
) -> Callable[[int], None]:
    def observed(done: int) -> None:
        if progress is not None:
            progress(done)
        emit("progress", done=done)

    return observed


def _newest_info(directory: Path) -> dict[str, Any] | None:
    """The ``info`` of the newest readable generation of the store in ``directory``, if any."""
    from ipyckpt.store import Store

    if not (directory / "generations").is_dir():
        return None
    try:
        for generation in Store(directory).generations():
            if generation.problem is None:
                return dict(generation.info)
    except (IpyckptError, OSError):
        return None
    return None


def _pending_resume(report: LoadReport, restored: dict[str, object]) -> PendingResume | None:
    resume = ResumeInfo.from_info(report.info)
    if resume is None:
        return None
    return PendingResume(resume, report.generation, restored, report.random_state)
