"""Where a (re)started job begins: its newest usable checkpoint, else an older one or its inputs.

A checkpoint that cannot be loaded (a damaged or missing blob, a torn or hostile manifest, a
forged signature) is passed over for the previous good one, or for the job's inputs. Such a
fallback is counted in every checkpoint written afterwards (``info["fallbacks"]``) and a
checkpoint that loads resets the count. A job falls back at most :data:`FALLBACK_LIMIT` times in
a row: past that it ends with :class:`NoProgress`, instead of running again and again from the
same point while each run writes a checkpoint the next run cannot load (a livelock).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.condor import payload as p
from ipyckpt.store.errors import IpyckptError

FALLBACK_LIMIT = 1


class NoProgress(IpyckptError):
    """The job's checkpoints keep coming back unusable: running it again cannot help."""


@dataclass
class StartingPoint:
    """The values a run starts from, where they came from and the fallback count to carry."""

    values: dict[str, Any]
    generation: int | None = None  # None: the job's inputs
    info: dict[str, Any] = field(default_factory=dict)
    fallbacks: int = 0


def load_all(store: Any, what: str, generation: int | None = None) -> Any:
    """Load a generation (default: the newest); every variable must come back."""
    report = store.load(generation)
    if report.failed:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(report.failed.items()))
        raise p.MissingOnExecuteNode(
            f"could not restore {what} on the execute node ({reasons}). Install what is missing "
            f"there (the job runs {sys.executable}), or use image= with a container that has it"
        )
    return report


def _from_checkpoint(store: Any, skipped: list[str]) -> Any | None:
    """The newest checkpoint that loads (None if none does); ``skipped`` gets the others."""
    for gen in store.generations():
        if gen.problem:
            skipped.append(f"checkpoint {gen.id}: {gen.problem}")
            continue
        problem = p.version_problem(gen.info.get("versions", {}), "the checkpoint")
        if problem:
            raise p.VersionMismatch(problem)
        try:
            return load_all(store, "the checkpoint", gen.id)
        except p.MissingOnExecuteNode:
            raise  # the execute node lacks a module: an older checkpoint would lack it too
        except (IpyckptError, OSError) as exc:
            skipped.append(f"checkpoint {gen.id}: {exc}")
    return None


def starting_point(sandbox: Path, key: bytes, say: Callable[[str], None]) -> StartingPoint:
    """Load the newest usable checkpoint of ``sandbox``, else its inputs (see the module doc)."""
    store = p.store(sandbox / p.CHECKPOINT, key)
    readable = [g.info.get("fallbacks", 0) for g in store.generations() if not g.problem]
    skipped: list[str] = []
    report = _from_checkpoint(store, skipped)
    fallbacks = max([0, *(int(n) for n in readable if isinstance(n, int))]) + 1 if skipped else 0
    if fallbacks > FALLBACK_LIMIT:
        raise NoProgress(
            f"the job cannot make progress: its checkpoints came back unusable {fallbacks} runs "
            f"in a row ({'; '.join(skipped)}). It was stopped instead of starting over again; "
            "check the execute node's disk, then submit the cell again"
        )
    if skipped:
        say(f"passed over unusable checkpoints ({'; '.join(skipped)})")
    if report is not None:
        return StartingPoint(report.values, report.generation, report.info, fallbacks)
    inputs = p.store(sandbox / p.INPUTS, key)
    p.check_store_versions(inputs, "the notebook's inputs")
    values = load_all(inputs, "the inputs").values if inputs.generation_ids() else {}
    params = p.store(sandbox / p.PARAMS, key)
    if params.generation_ids():  # a job of a sweep: its parameters override the inputs
        values |= load_all(params, "the job's parameters").values
    if skipped:
        say("no usable checkpoint: starting from the inputs")
    return StartingPoint(values, fallbacks=fallbacks)
