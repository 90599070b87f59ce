"""What one save writes: which variables to pickle, and the manifest of the new generation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ipyckpt.store.manifest import Manifest, Segment, VariableEntry


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and name.isidentifier()


def check_names(names: Iterable[str]) -> list[str]:
    """Validate variable names given by a caller; reject path-like or non-identifier names."""
    out = list(names)
    bad = [n for n in out if not _valid_name(n)]
    if bad:
        raise ValueError(
            f"not valid variable names: {', '.join(map(repr, bad))} "
            "(names must be Python identifiers: no path separators, dots or '..')"
        )
    return out


def plan_save(
    namespace: Mapping[str, object], wanted: list[str] | None, previous: Manifest | None
) -> tuple[list[tuple[str, object]], dict[str, str], list[str]]:
    """Which (name, value) pairs to pickle, which names to skip and which were deleted."""
    skipped: dict[str, str] = {}
    if wanted is None:
        keys = list(namespace)
        for key in keys:
            if not _valid_name(key):
                skipped[str(key)] = "not a valid Python identifier"
        items = [(k, namespace[k]) for k in keys if _valid_name(k)]
        old = set(previous.variables) if previous else set()
        deleted = sorted(old - set(keys))
        return items, skipped, deleted
    items = [(n, namespace[n]) for n in wanted if n in namespace]
    missing = [n for n in wanted if n not in namespace]
    had = set(previous.variables) if previous else set()
    deleted = sorted(n for n in missing if n in had)
    skipped.update({n: "not defined" for n in missing if n not in had})
    return items, skipped, deleted


def assemble_manifest(
    generation: int,
    trigger: str,
    info: dict[str, Any],
    previous: Manifest | None,
    wanted: list[str] | None,
    segment: tuple[str, Segment] | None,
    skipped: dict[str, str],
    deleted: list[str],
) -> Manifest:
    """The new manifest: the new segment plus, for a partial save, what is carried forward."""
    m = Manifest(generation, time.time(), trigger, info=info, deleted=deleted)
    if previous is not None and wanted is not None:
        keep = {n: e for n, e in previous.variables.items() if n not in wanted}
        m.variables.update(keep)
        m.segments.update({e.segment: previous.segments[e.segment] for e in keep.values()})
        m.skipped.update({n: r for n, r in previous.skipped.items() if n not in wanted})
    if segment is not None:
        sid, seg = segment
        m.segments[sid] = seg
        for i, rec in enumerate(seg.records):
            m.variables[rec.name] = VariableEntry(sid, i, generation)
    m.skipped.update(skipped)
    return m
