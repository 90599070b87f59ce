"""Running a ``%%checkpoint`` cell: instrument, resume, snapshot at consistent points, report.

The cell is transformed like IPython would (magics, ``!cmd``), parsed, instrumented with
consistent points (:mod:`ipyckpt.safepoints`), and run by the one executor
(:func:`ipyckpt.cells.run_cell`) in the user namespace; its last expression's value is returned
so IPython displays it. Exceptions propagate unchanged; the newest snapshot taken during the run
is marked with the error. Snapshots go through :meth:`ipyckpt.session.StateSession.save`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ipyckpt.cells import ResumeInfo, run_cell
from ipyckpt.durations import format_duration, parse_duration, young_daly_interval
from ipyckpt.magicargs import CellOptions
from ipyckpt.namespace import select_names
from ipyckpt.safepoints import InstrumentedCell, ResumePoint, SafepointRuntime, instrument
from ipyckpt.session import SnapshotSkipped, StateSession, one_line
from ipyckpt.store import randomstate
from ipyckpt.store.reports import SaveReport, format_bytes

PROGRESS_AFTER_S = 1.0
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class CellSettings:
    """The ``Checkpointer`` settings a ``%%checkpoint`` run reads (as set when it starts)."""

    default_every: str  # snapshot interval when the cell gives no every=
    mtbf: str  # assumed mean time between failures, for every=auto


class SnapshotReporter:
    """One status line per cell run, updated in place (progress, then a summary per snapshot)."""

    def __init__(self, estimate: int | None) -> None:
        self.estimate = estimate
        self.handle: Any = None
        self.started = 0.0
        self.last_update = 0.0

    def _show(self, text: str) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display({"text/plain": text}, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self.handle.update({"text/plain": text}, raw=True)

    def begin(self) -> None:
        """A snapshot starts."""
        self.started = time.monotonic()
        self.last_update = self.started

    def progress(self, done: int) -> None:
        """Bytes written so far by the running snapshot (shown after the first second)."""
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER_S or now - self.last_update < PROGRESS_EVERY_S:
            return
        self.last_update = now
        if self.estimate:
            pct = min(99, int(100 * done / self.estimate))
            self._show(
                f"saving state checkpoint… {pct} % ({format_bytes(done)} of ~{format_bytes(self.estimate)})"
            )
        else:
            self._show(f"saving state checkpoint… {format_bytes(done)}")

    def saved(self, report: SaveReport, where: str) -> None:
        """The snapshot finished."""
        self.estimate = report.bytes_total
        self._show(f"{report} at {where}")


def _selection(session: StateSession, options: CellOptions) -> list[str]:
    return list(
        select_names(
            session.user_ns,
            hidden=session.hidden,
            include=options.names,
            exclude=options.exclude,
        ).names
    )


def _interval(session: StateSession, options: CellOptions, settings: CellSettings) -> float:
    if options.every is not None:
        return options.every
    if not options.auto:
        return parse_duration(settings.default_every)
    previous = session.last_save
    cost = previous.seconds if previous is not None else _measure_cost(session, options)
    mtbf = parse_duration(settings.mtbf)
    interval = young_daly_interval(cost, mtbf)
    print(
        f"ipyckpt: every=auto: a snapshot costs {cost:.2f} s and failures are assumed every "
        f"{format_duration(mtbf)}: snapshotting every {format_duration(interval)} (Young/Daly)"
    )
    return interval


def _measure_cost(session: StateSession, options: CellOptions) -> float:
    report = session.save(
        _selection(session, options), trigger="start", partial=options.names is not None
    )
    return report.seconds


def _resume_point(
    session: StateSession, source_hash: str, options: CellOptions
) -> ResumePoint | None:
    if not options.resume:
        session.pending_resume = None
        return None
    pending, message = session.take_resume(source_hash)  # used at most once
    if message:
        print(message)
    if pending is None:
        return None
    changed = pending.rebound(session.user_ns)
    if changed:  # e.g. an earlier cell re-run (`total = 0`): resuming would mix two states
        print(
            f"ipyckpt: {_names(changed)} changed since state checkpoint {pending.generation} was "
            "restored: running this cell from the top"
        )
        return None
    randomstate.restore(pending.random_state)  # draws made since the restore are undone
    return pending.resume.position


def _names(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _prepare(
    session: StateSession, source: str, options: CellOptions
) -> tuple[InstrumentedCell, ResumePoint | None]:
    plain = instrument(source)
    resume = _resume_point(session, plain.source_hash, options)
    if resume is None:
        return plain, None
    try:
        cell = instrument(source, resume=resume)
    except ValueError:
        print("ipyckpt: the saved resume point does not fit this cell: running it from the top")
        return plain, None
    print(f"ipyckpt: resumed at {resume.describe(cell.statements)}")
    return cell, resume


@dataclass
class PreparedCell:
    """A ``%%checkpoint`` cell ready to run: store checked, resume point and interval chosen."""

    shell: Any
    session: StateSession
    options: CellOptions
    source: str
    instrumented: InstrumentedCell
    resume: ResumePoint | None
    interval: float
    warned: set[str] = field(default_factory=set)

    def snapshot_names(self) -> list[str] | None:
        """What a snapshot saves now; None (and one line, once) when ``vars=`` names nothing."""
        selection = select_names(
            self.session.user_ns,
            hidden=self.session.hidden,
            include=self.options.names,
            exclude=self.options.exclude,
        )
        undefined = sorted(set(selection.excluded) - self.warned)
        if undefined:
            self.warned.update(undefined)
            print(
                f"ipyckpt: vars=: {', '.join(undefined)} {'is' if len(undefined) == 1 else 'are'} "
                "not defined (a typo?), so not saved",
                file=sys.stderr,
            )
        if self.options.names is not None and not selection.names:
            if "" not in self.warned:
                self.warned.add("")
                print("ipyckpt: nothing saved: no variable of vars= is defined", file=sys.stderr)
            return None
        return list(selection.names)

    def run(self) -> Any:
        """Run the cell (its exceptions propagate unchanged); return its last expression."""
        shell, session, options = self.shell, self.session, self.options
        previous = session.last_save
        reporter = SnapshotReporter(previous.bytes_total if previous else None)
        taken: list[int] = []
        attempts: list[int] = []
        skipped_while: set[int] = set()

        def on_snapshot(position: ResumePoint, trigger: str) -> None:
            names = self.snapshot_names()
            if names is None:
                return
            info = ResumeInfo.at(self.instrumented, position)
            # a finished cell is no resume point: re-running it (even after a restart) starts over
            details = {"where": info.where} if trigger == "end" else info.to_info()
            reporter.begin()
            attempts.append(1)
            try:
                report = session.save(
                    names,
                    trigger=trigger,
                    partial=options.names is not None,
                    info=details,
                    keep=options.keep,
                    progress=reporter.progress,
                )
            except SnapshotSkipped as exc:  # the previous one is still written in the background
                if exc.generation not in skipped_while:  # once per background snapshot
                    skipped_while.add(exc.generation)
                    print(f"ipyckpt: {exc}", file=sys.stderr)
                return
            except Exception as exc:  # nothing in a snapshot may abort hours of computation
                print(f"ipyckpt: snapshot {len(attempts)} failed: {one_line(exc)}", file=sys.stderr)
                return
            taken.append(report.generation)
            reporter.saved(report, info.where)

        runtime = SafepointRuntime(
            interval=self.interval, on_snapshot=on_snapshot, resume=self.resume
        )
        filename = shell.compile.cache(self.source, shell.execution_count)
        try:
            value = run_cell(
                self.instrumented,
                shell.user_ns,
                runtime,
                filename=filename,
                flags=shell.compile.flags,
            )
        except BaseException as exc:
            _mark_error(session, taken, exc)
            raise
        on_snapshot(runtime.position, "end")
        return value


def prepare_cell(
    shell: Any, session: StateSession, cell: str, options: CellOptions, settings: CellSettings
) -> PreparedCell:
    """Everything before the cell's code runs; ipyckpt's errors here are the magic's to report."""
    session.store(options.keep)  # fail early, before running anything, if there is no store
    session.settle()  # show how a background snapshot of an earlier cell ended
    source = shell.transform_cell(cell)
    instrumented, resume = _prepare(session, source, options)
    interval = _interval(session, options, settings)
    return PreparedCell(shell, session, options, source, instrumented, resume, interval)


def run_checkpointed_cell(
    shell: Any, session: StateSession, cell: str, options: CellOptions, settings: CellSettings
) -> Any:
    """Run ``cell`` under ``%%checkpoint`` and return its last expression's value."""
    return prepare_cell(shell, session, cell, options, settings).run()


def _mark_error(session: StateSession, taken: list[int], exc: BaseException) -> None:
    if not taken:
        return
    error = f"{type(exc).__name__}: {exc}".strip()
    try:
        session.settle(block=True)  # the snapshot to mark may still be written by a child
        session.store().annotate(taken[-1], error=error)
    except Exception as problem:  # the user's own error matters more: one line, never chained
        print(f"ipyckpt: could not mark the snapshot with the error: {problem}", file=sys.stderr)
