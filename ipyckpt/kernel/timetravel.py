"""Time travel and recompute for ``%checkpoint``: the state after a cell, re-running the cells
that made what a checkpoint could not store, and how well the session is protected right now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ipyckpt.history import analyze, snapshot_cell
from ipyckpt.recompute import RecomputePlan, plan_recompute
from ipyckpt.store.reports import format_age

if TYPE_CHECKING:
    from ipyckpt.session import RestoreOutcome, StateSession
    from ipyckpt.store.engine import Store


def after_cell(store: Store, count: int) -> int:
    """The newest good generation taken right after cell [count]; ValueError listing the cells
    that have one otherwise."""
    counts: list[int] = []
    for info in store.generations():  # newest first
        cell = snapshot_cell(info.info)
        if cell is None or cell.get("state") != "after" or info.problem:
            continue
        if cell["count"] == count:
            return info.id
        counts.append(cell["count"])
    known = ", ".join(f"[{c}]" for c in sorted(set(counts)))
    have = f"; there are state checkpoints after cells {known}" if known else ""
    raise ValueError(
        f"no state checkpoint after cell [{count}]{have} (see %checkpoint list, or restore "
        "--generation N)"
    )


def _is_after(store: Store, generation: int, count: int) -> bool:
    for info in store.generations():
        if info.id == generation:
            cell = snapshot_cell(info.info)
            return cell is not None and cell.get("state") == "after" and cell["count"] == count
    return False


def restore_to(
    session: StateSession,
    *,
    generation: int | None = None,
    cell: int | None = None,
    names: Sequence[str] | None = None,
    trust: bool = False,
) -> RestoreOutcome:
    """The one restore of ``%checkpoint restore`` and of the JupyterLab panel.

    ``cell``: the state right after cell [N] (the newest such snapshot, or ``generation`` if it
    is one): variables made later are removed unless ``names`` are given. Newer generations
    always stay in the store.
    """
    drop: list[str] = []
    if cell is not None:
        store = session.store()
        if generation is None:
            generation = after_cell(store, cell)
        elif not _is_after(store, generation, cell):
            raise ValueError(
                f"state checkpoint {generation} was not taken right after cell [{cell}] "
                "(see %checkpoint list)"
            )
        drop = [] if names else session.tracked_names()
    return session.restore(
        generation=generation, names=list(names) if names else None, trust=trust, drop_others=drop
    )


def _missing(session: StateSession, outcome: RestoreOutcome) -> dict[str, str]:
    user_ns = session.user_ns
    return {n: r for n, r in outcome.missing.items() if n not in user_ns}


def recompute_plan(session: StateSession, outcome: RestoreOutcome) -> RecomputePlan | None:
    """The cells ``--recompute`` would re-run for what the restore did not bring back (None
    when every variable of the checkpoint is defined)."""
    missing = _missing(session, outcome)
    if not missing:
        return None
    return plan_recompute(missing, session.history, session.user_ns)


def recompute_hint(session: StateSession, outcome: RestoreOutcome) -> str | None:
    """What ``--recompute`` would re-run for the variables that were not restored (or None)."""
    plan = recompute_plan(session, outcome)
    if plan is None:
        return None
    if plan.refusals:
        return "  cannot re-create them by re-running cells: " + "; ".join(plan.refusals)
    if not plan.steps:
        return None
    cells = ", ".join(f"[{s.cell.count}]" for s in plan.steps)
    return (
        f"  to re-create {', '.join(n for s in plan.steps for n in s.makes)} by re-running "
        f"cells {cells}: %checkpoint restore --recompute"
    )


@dataclass
class Rerun:
    """One re-run cell: what it re-created, or how it failed (then nothing after it ran)."""

    count: int
    cell: str  # the label, ``[3] conn = sqlite3.connect(path)``
    imports: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        """``ipyckpt: re-ran cell [3] conn = ...: re-created conn`` (or why it failed)."""
        if self.error is not None:
            return (
                f"ipyckpt: re-running cell {self.cell} failed: {self.error}; "
                "the cells after it were not re-run"
            )
        imported = f" (after {'; '.join(self.imports)})" if self.imports else ""
        made = ", ".join(self.made) or "nothing"
        return f"ipyckpt: re-ran cell {self.cell}{imported}: re-created {made}"


@dataclass
class RecomputeReport:
    """What :func:`recompute_missing` did, cell by cell."""

    reruns: list[Rerun] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # missing, and no recorded cell made them
    nothing_missing: bool = False

    def lines(self) -> list[tuple[str, bool]]:
        """The report as (line, is_error) pairs, in the order things happened."""
        if self.nothing_missing:
            return [
                (
                    "ipyckpt: nothing to recompute: every variable of the checkpoint is defined",
                    False,
                )
            ]
        out = [(r.line(), r.error is not None) for r in self.reruns]
        out += [
            (f"ipyckpt: no recorded cell made {n}: re-create it yourself", False)
            for n in self.unknown
        ]
        return out

    def to_json(self) -> dict[str, Any]:
        """For the JupyterLab extension (comm ``recompute`` reply)."""
        return {
            "reruns": [vars(r) for r in self.reruns],
            "unknown": list(self.unknown),
            "nothing_missing": self.nothing_missing,
            "lines": [line.removeprefix("ipyckpt: ") for line, _ in self.lines()],
        }


def recompute_missing(session: StateSession, outcome: RestoreOutcome) -> RecomputeReport:
    """Re-run, in order, the cells that made the variables the restore could not bring back
    (``%checkpoint restore --recompute`` and the JupyterLab notification's Recompute button).

    Raises ValueError (shown as one line) and runs nothing if a cell needs a variable that is
    missing too. Stops at the first cell that fails again.
    """
    plan = recompute_plan(session, outcome)
    if plan is None:
        return RecomputeReport(nothing_missing=True)
    if plan.refusals:
        raise ValueError("not re-running any cell: " + "; ".join(plan.refusals))
    report = RecomputeReport()
    ns: Any = session.user_ns
    history = session.history
    for step in plan.steps:
        rerun = Rerun(step.cell.count, step.cell.label(), list(step.imports))
        report.reruns.append(rerun)
        code = step.cell.code or step.cell.source
        try:
            for statement in step.imports:
                exec(statement, ns)
            exec(compile(code, f"<ipyckpt recompute {rerun.cell}>", "exec"), ns)
        except Exception as exc:
            rerun.error = f"{type(exc).__name__}: {exc}"
            return report
        finally:  # inside a cell, what the re-run cell assigns keeps that cell as its maker
            if history.running is not None:
                history.pinned |= set(analyze(code).writes) | set(step.makes)
        rerun.made = [n for n in step.makes if n in session.user_ns]
    report.unknown = list(plan.unknown)
    return report


def protection_line(session: StateSession) -> str:
    """``protected 2 min ago (generation 7, after cell [12] fit(X)); autosave: ...``."""
    autosave = session.autosave.describe()
    if session.last_saved_at is None or session.last_save is None:
        return f"protected: not yet by this kernel; autosave: {autosave}"
    after = f", {session.last_saved_cell}" if session.last_saved_cell else ""
    unsaved = "; cells changed the state since then" if session.autosave.dirty else ""
    return (
        f"protected: {format_age(session.last_saved_at)} (generation "
        f"{session.last_save.generation}{after}){unsaved}; autosave: {autosave}"
    )


def autosave_status(session: StateSession) -> dict[str, Any]:
    """The protection state for the JupyterLab status bar (comm ``status``)."""
    return {
        "autosave": session.autosave.describe(),
        "last_protected": session.last_saved_at,
        "unsaved_changes": session.autosave.dirty,
    }
