"""Unchanged re-saves with parts (issue 13 item 5), in a fresh interpreter.

``python -m benchmarks.parts WORKLOAD SCALE DIR REPEAT`` prints one JSON line: with ONE
:class:`ipyckpt.background.ForkedSaver` kept across snapshots (as a kernel keeps it), the
median time the cell is stopped and until the generation is published for a periodic snapshot
after which nothing changed (``parts_stopped`` / ``parts_published``), the same in-process
(``parts_inprocess``), how many parts the last one reused (``parts_reused``), and the same
figures without parts (``noparts_*``, today's cost) in the same run. :func:`unchanged_resave`
is the function ``benchmarks.background`` can call for its row.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.background import periodic
from benchmarks.workloads import build
from ipyckpt.session import SaveRequest


class TrainingConfig:
    """A class defined in the "notebook"."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


class _WithoutParts:
    """Today's in-process saver: every variable pickled again (no part cache)."""

    def save(self, request: Any) -> Any:
        """Save ``request`` without parts."""
        return request.store.save(request.namespace, names=request.names, trigger=request.trigger)

    def settle(self, *, block: bool) -> None:
        """Nothing is pending."""


def _measure(saver: Any, store: Any, ns: dict[str, Any], repeat: int) -> dict[str, Any]:
    for _ in range(3):  # the first snapshots find the parts (see ipyckpt.store.parts)
        periodic(saver, store, ns)
    stopped, published, reused = [], [], 0
    for _ in range(repeat):
        s, p, report = periodic(saver, store, ns)
        stopped.append(s)
        published.append(p)
        reused = report.parts_reused
    inprocess = []
    for _ in range(repeat):
        started = time.perf_counter()
        saver.inprocess.save(SaveRequest(store, ns, None, "manual"))
        inprocess.append(time.perf_counter() - started)
    return {
        "stopped": statistics.median(stopped),
        "published": statistics.median(published),
        "inprocess": statistics.median(inprocess),
        "reused": reused,
    }


def unchanged_resave(ns: dict[str, Any], root: Path, repeat: int) -> dict[str, float]:
    """Unchanged periodic re-saves through one kept saver, with parts and without (today),
    in one run: ``parts_*`` and ``noparts_*`` (stopped / published / in-process seconds)."""
    from ipyckpt import Store
    from ipyckpt.background import ForkedSaver

    out: dict[str, float] = {}
    for label, inprocess in (("noparts", _WithoutParts()), ("parts", None)):
        store = Store(root / f"{label}-unchanged", keep=2)
        saver = ForkedSaver(on_outcome=lambda outcome: None, inprocess=inprocess)
        figures = _measure(saver, store, ns, repeat)
        out.update({f"{label}_{k}": float(v) for k, v in figures.items()})
    return out


def main(argv: list[str]) -> None:
    """Entry point (see the module docstring)."""
    workload, scale, root, repeat = argv[0], float(argv[1]), Path(argv[2]), int(argv[3])
    root.mkdir(parents=True, exist_ok=True)
    main_ns = sys.modules["__main__"].__dict__
    names = build(workload, scale, main_ns, TrainingConfig)
    print(json.dumps(unchanged_resave({n: main_ns[n] for n in names}, root, repeat)))


if __name__ == "__main__":
    main(sys.argv[1:])
