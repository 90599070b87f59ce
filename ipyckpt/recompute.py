"""Recompute what a checkpoint could not store, by re-running the cells that made it.

:func:`plan_recompute` is pure: from the missing variables (name -> why) and the cell history it
orders the defining cells as they first ran, adds the imports they need, and refuses (listing
why) when a cell reads a variable that is missing and that no earlier re-run cell makes. Nothing
is ever re-run without the user asking (``%checkpoint restore --recompute``): cells have side
effects.
"""

from __future__ import annotations

import builtins
from collections.abc import Container, Mapping
from dataclasses import dataclass, field

from ipyckpt.history import CellHistory, CellRecord

_BUILTINS = frozenset(dir(builtins))


@dataclass
class RecomputeStep:
    """One cell to re-run, the imports to run before it, and the missing names it makes."""

    cell: CellRecord
    makes: list[str]
    imports: list[str] = field(default_factory=list)


@dataclass
class RecomputePlan:
    """The steps, in order, or why recomputing is refused (then nothing may run)."""

    steps: list[RecomputeStep] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # missing names no recorded cell made

    @property
    def runnable(self) -> bool:
        """True if there is something to run and nothing blocks it."""
        return bool(self.steps) and not self.refusals


def describe_missing(name: str, reason: str, history: CellHistory) -> str:
    """``conn: cannot pickle 'sqlite3.Connection' — made by cell [3] conn = sqlite3.connect(path)``."""
    cell = history.made_by(name)
    where = f" — made by cell {cell.label()}" if cell is not None else ""
    return f"{name}: {reason}{where}"


def plan_recompute(
    missing: Mapping[str, str], history: CellHistory, available: Container[str]
) -> RecomputePlan:
    """Order the cells that made ``missing`` names; ``available``: names defined right now."""
    plan = RecomputePlan()
    by_cell: dict[str, RecomputeStep] = {}
    for name in sorted(missing):
        cell = history.made_by(name)
        if cell is None:
            plan.unknown.append(name)
            continue
        by_cell.setdefault(cell.key, RecomputeStep(cell, [])).makes.append(name)
    made: set[str] = set()
    known_imports = _imports(history)
    for step in sorted(by_cell.values(), key=lambda s: (s.cell.started, s.cell.count)):
        for read in step.cell.reads:
            if read in available or read in made or read in _BUILTINS:
                continue
            if read in known_imports:
                step.imports.append(known_imports[read])
                made.add(read)
            elif read in missing:
                plan.refusals.append(
                    f"cell {step.cell.label()} reads {read}, which is also missing "
                    f"({missing[read]}) and no earlier cell re-creates it"
                )
            else:
                plan.refusals.append(
                    f"cell {step.cell.label()} reads {read}, which is not defined: define it first"
                )
        made.update(step.makes)
        made.update(step.cell.imports)
        plan.steps.append(step)
    return plan


def _imports(history: CellHistory) -> dict[str, str]:
    out: dict[str, str] = {}
    for cell in sorted(history.cells.values(), key=lambda c: c.started):
        out.update(cell.imports)
    return out
