"""Time travel and recompute for ``%checkpoint``: the state after a cell, re-running the cells
that made what a checkpoint could not store, and how well the session is protected right now."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ipyckpt.history import analyze, snapshot_cell
from ipyckpt.recompute import plan_recompute
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


def _missing(session: StateSession, outcome: RestoreOutcome) -> dict[str, str]:
    user_ns = session.user_ns
    return {n: r for n, r in outcome.missing.items() if n not in user_ns}


def recompute_hint(session: StateSession, outcome: RestoreOutcome) -> str | None:
    """What ``--recompute`` would re-run for the variables that were not restored (or None)."""
    missing = _missing(session, outcome)
    if not missing:
        return None
    plan = plan_recompute(missing, session.history, session.user_ns)
    if plan.refusals:
        return "  cannot re-create them by re-running cells: " + "; ".join(plan.refusals)
    if not plan.steps:
        return None
    cells = ", ".join(f"[{s.cell.count}]" for s in plan.steps)
    return (
        f"  to re-create {', '.join(n for s in plan.steps for n in s.makes)} by re-running "
        f"cells {cells}: %checkpoint restore --recompute"
    )


def recompute_missing(session: StateSession, outcome: RestoreOutcome) -> None:
    """Re-run, in order, the cells that made the variables the restore could not bring back.

    Raises ValueError (shown as one line) and runs nothing if a cell needs a variable that is
    missing too. Stops at the first cell that fails again.
    """
    missing = _missing(session, outcome)
    if not missing:
        print("ipyckpt: nothing to recompute: every variable of the checkpoint is defined")
        return
    plan = plan_recompute(missing, session.history, session.user_ns)
    if plan.refusals:
        raise ValueError("not re-running any cell: " + "; ".join(plan.refusals))
    ns: Any = session.user_ns
    for step in plan.steps:
        label = step.cell.label()
        try:
            for statement in step.imports:
                exec(statement, ns)
            exec(
                compile(step.cell.code or step.cell.source, f"<ipyckpt recompute {label}>", "exec"),
                ns,
            )
        except Exception as exc:
            print(
                f"ipyckpt: re-running cell {label} failed: {type(exc).__name__}: {exc}; "
                "the cells after it were not re-run",
                file=sys.stderr,
            )
            return
        finally:  # what the re-run cell assigns keeps that cell as its maker
            session.history.pinned |= set(analyze(step.cell.code or step.cell.source).writes) | set(
                step.makes
            )
        made = [n for n in step.makes if n in session.user_ns]
        imported = f" (after {'; '.join(step.imports)})" if step.imports else ""
        print(f"ipyckpt: re-ran cell {label}{imported}: re-created {', '.join(made) or 'nothing'}")
    for name in plan.unknown:
        print(f"ipyckpt: no recorded cell made {name}: re-create it yourself")


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
