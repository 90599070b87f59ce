"""One kernel's view of its notebook's state checkpoints: where they live, save, restore, resume.

Usable without IPython (it works on a plain namespace dict); the magics and the extension are
thin layers over it.

Where a notebook's store lives, first match wins:

1. ``IPYCKPT_STORE`` in the environment: exactly that directory (batch jobs, HTCondor runner).
2. ``%checkpoint name NAME``: ``<folder>/NAME``.
3. The notebook's path, from ``JPY_SESSION_NAME`` (set by jupyter_server) or
   ``__vsc_ipynb_file__`` (set by VS Code): ``<folder>/<notebook file name>``.

``<folder>`` is ``c.Checkpointer.directory`` if set, else ``.ipyckpt`` beside the notebook (or in
the working directory). A kernel that knows none of these (e.g. run by nbclient) has no store
until it is named: it never guesses, so two notebooks never restore each other's state.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.store.errors import IpyckptError
from ipyckpt.store.reports import LoadReport, SaveReport

STORE_ENV = "IPYCKPT_STORE"
STORE_FOLDER = ".ipyckpt"


class NoStoreError(IpyckptError):
    """The kernel does not know which notebook it runs, so it has no store yet."""


def notebook_path(user_ns: Mapping[str, object]) -> Path | None:
    """The notebook this kernel runs, if the frontend told us."""
    for candidate in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__vsc_ipynb_file__")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return Path(candidate)
    return None


def check_store_name(name: str) -> str:
    """A store name must be a plain file name: no separators, not ``.``/``..``, not empty."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(
            f"invalid checkpoint name {name!r}: use a plain name such as 'training-run'"
        )
    return name


def store_location(
    user_ns: Mapping[str, object], *, folder: str = "", name: str | None = None
) -> Path | None:
    """Where this kernel's store lives (see the module docstring), or None if unknown."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser().absolute()
    notebook = notebook_path(user_ns)
    store_name = name or (notebook.name if notebook else None)
    if store_name is None:
        return None
    if folder:
        root = Path(folder).expanduser()
    elif notebook is not None and notebook.is_absolute():
        root = notebook.parent / STORE_FOLDER
    else:
        root = Path.cwd() / STORE_FOLDER
    return (root / check_store_name(store_name)).absolute()


@dataclass
class RestoreOutcome:
    """What a restore did to the namespace."""

    report: LoadReport
    restored: list[str]
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One short paragraph for the notebook."""
        names = ", ".join(self.restored[:12]) + (" …" if len(self.restored) > 12 else "")
        from ipyckpt.store.reports import format_age

        text = (
            f"ipyckpt: restored {len(self.restored)} variable{'s' * (len(self.restored) != 1)} "
            f"from state checkpoint {self.report.generation} ({self.report.trigger}, "
            f"{format_age(self.report.created)}){': ' + names if names else ''}"
        )
        if self.conflicts:
            text += f"\n  kept your current values of: {', '.join(self.conflicts)}"
        for name, reason in sorted({**self.report.skipped_at_save, **self.report.failed}.items()):
            text += f"\n  not restored {name}: {reason}"
        for note in self.report.notes:
            text += f"\n  note: {note}"
        return text


@dataclass
class PendingResume:
    """A restored snapshot taken inside a cell: re-running that cell resumes from it."""

    cell: str
    position: dict[str, Any]
    generation: int
    description: str


class StateSession:
    """The notebook's store plus what this kernel did with it (last save, restore, resume)."""

    def __init__(
        self, user_ns: MutableMapping[str, Any], *, folder: str = "", keep: int = 3
    ) -> None:
        self.user_ns = user_ns
        self.folder = folder
        self.keep = keep
        self.name: str | None = None
        self.last_save: SaveReport | None = None
        self.last_restore: RestoreOutcome | None = None
        self.pending_resume: PendingResume | None = None
        self.cells_run_since_restore = 0
        # (event, data) observers, e.g. the JupyterLab channel (ipyckpt.kernel.comm): "saving",
        # "progress", "saved", "save_failed", "restored". They must never break a save.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def emit(self, event: str, **data: Any) -> None:
        """Tell the listeners; their errors are swallowed (a UI must not break a checkpoint)."""
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):
                listener(event, data)

    @property
    def location(self) -> Path | None:
        """This kernel's store directory, or None if the notebook is unknown."""
        return store_location(self.user_ns, folder=self.folder, name=self.name)

    def store(self, keep: int | None = None) -> Any:
        """The :class:`ipyckpt.Store` of this notebook; NoStoreError if it has none."""
        from ipyckpt.store import Store

        location = self.location
        if location is None:
            raise NoStoreError(
                "this kernel does not know which notebook it runs (no JPY_SESSION_NAME), so it "
                "has no state checkpoint store: name one with `%checkpoint name NAME`, or set "
                f"{STORE_ENV}=/path/to/store"
            )
        return Store(location, keep=keep or self.keep)

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
        """Save ``names`` of the namespace (all tracked names unless ``partial``)."""
        store = self.store(keep)
        namespace = {n: self.user_ns[n] for n in names if n in self.user_ns}
        if self.listeners:
            previous = self.last_save
            self.emit("saving", trigger=trigger, estimate=previous.bytes_total if previous else 0)
            progress = _observed(progress, self.emit)
        try:
            report: SaveReport = store.save(
                namespace,
                names=list(names) if partial else None,
                trigger=trigger,
                info=info,
                progress=progress,
            )
        except IpyckptError as exc:
            self.emit("save_failed", trigger=trigger, error=str(exc))
            raise
        self.last_save = report
        self.emit("saved", report=report)
        return report

    def restore(
        self,
        *,
        generation: int | None = None,
        names: Sequence[str] | None = None,
        trust: bool = False,
        keep_existing: Sequence[str] = (),
    ) -> RestoreOutcome:
        """Load a generation into the namespace, never overwriting ``keep_existing`` names."""
        report: LoadReport = self.store().load(generation, names, trust=trust)
        conflicts = sorted(n for n in report.values if n in keep_existing)
        restored = sorted(n for n in report.values if n not in keep_existing)
        self.user_ns.update({n: report.values[n] for n in restored})
        outcome = RestoreOutcome(report, restored, conflicts)
        self.last_restore = outcome
        self.cells_run_since_restore = 0
        self.pending_resume = _pending_resume(report)
        self.emit("restored", outcome=outcome)
        return outcome

    def note_cell_run(self, *args: object) -> None:
        """IPython ``post_run_cell`` hook: cells that ran since the restore may have changed state."""
        self.cells_run_since_restore += 1

    def take_resume(self, cell_hash: str) -> tuple[PendingResume | None, str | None]:
        """The resume point for a cell about to run (consumed), and a message if it changed."""
        pending, self.pending_resume = self.pending_resume, None
        if pending is None:
            return None, None
        if pending.cell != cell_hash:
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


def _pending_resume(report: LoadReport) -> PendingResume | None:
    cell, position = report.info.get("cell"), report.info.get("position")
    if not isinstance(cell, str) or not isinstance(position, dict):
        return None
    return PendingResume(cell, position, report.generation, str(report.info.get("where", "")))


def age_seconds(report: LoadReport) -> float:
    """How old the restored checkpoint is."""
    return max(0.0, time.time() - report.created)
