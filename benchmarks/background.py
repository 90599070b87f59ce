"""The figures of issue 13 (background snapshots, chunked blobs), in a fresh interpreter.

``python -m benchmarks.background WORKLOAD SCALE DIR REPEAT`` prints one JSON line:

* ``stopped`` / ``published``: a periodic snapshot of WORKLOAD (one small variable changed)
  through :class:`ipyckpt.background.ForkedSaver`: how long the cell is stopped (the fork), and
  how long until the child has published the generation; ``inprocess``: the same snapshot
  written in-process (today's cost); ``unchanged_stopped`` / ``unchanged_published``: nothing
  changed.
* ``one_element_bytes`` / ``one_element_s``: bytes written and time to a published generation
  after one element of a 320 MB array changed (in-process save of that array alone).
* ``cow_extra`` / ``cow_written``: extra memory (PSS of parent + child minus the parent's PSS
  before the fork) while a child writes a 1 GB array and the cell rewrites ``cow_written``
  bytes of it, for 10 % and 100 % of the array.
* ``fork_ms``: ``os.fork()`` latency against the resident size (GB -> ms, min of REPEAT).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.workloads import build

MB = 1 << 20
GB = 1 << 30


class TrainingConfig:
    """A class defined in the "notebook"."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _pss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def periodic(saver: Any, store: Any, ns: dict[str, Any]) -> tuple[float, float, Any]:
    """(seconds the caller is stopped, seconds until the child published, the child's report)
    for one periodic snapshot through ``saver`` (a ForkedSaver, kept as a kernel keeps it)."""
    from ipyckpt.background import BackgroundReport
    from ipyckpt.session import SaveRequest

    started = time.perf_counter()
    report = saver.save(SaveRequest(store, ns, None, "periodic"))
    stopped = time.perf_counter() - started
    if not isinstance(report, BackgroundReport):
        raise RuntimeError(f"not taken in the background: {saver.said}")  # noqa: TRY004
    outcome = saver.wait()
    if outcome is None or outcome.report is None:
        raise RuntimeError(f"background snapshot failed: {outcome}")
    return stopped, time.perf_counter() - started, outcome.report


def snapshots(workload: str, scale: float, root: Path, repeat: int) -> dict[str, float]:
    """Stopped / published times of periodic snapshots of ``workload``, and in-process, through
    one saver kept across snapshots (its part cache learns the unchanged containers)."""
    from ipyckpt import Store
    from ipyckpt.background import ForkedSaver
    from ipyckpt.session import SaveRequest

    main = sys.modules["__main__"].__dict__
    names = build(workload, scale, main, TrainingConfig)
    ns = {n: main[n] for n in names}
    store = Store(root / f"{workload}-snapshots", keep=2)
    saver = ForkedSaver(on_outcome=lambda outcome: None)
    for _ in range(3):  # a new part is pickled twice before it is reused (ipyckpt.store.parts)
        periodic(saver, store, ns)
    samples: dict[str, list[float]] = {k: [] for k in ("stopped", "published", "inprocess")}
    unchanged: dict[str, list[float]] = {"stopped": [], "published": []}
    for _ in range(repeat):
        ns["step"] += 1
        started = time.perf_counter()
        saver.inprocess.save(SaveRequest(store, ns, None, "manual"))
        samples["inprocess"].append(time.perf_counter() - started)
        ns["step"] += 1
        stopped, published, _ = periodic(saver, store, ns)
        samples["stopped"].append(stopped)
        samples["published"].append(published)
        stopped, published, _ = periodic(saver, store, ns)  # nothing changed since the last one
        unchanged["stopped"].append(stopped)
        unchanged["published"].append(published)
    out = {k: statistics.median(v) for k, v in samples.items()}
    out.update({f"unchanged_{k}": statistics.median(v) for k, v in unchanged.items()})
    return out


def one_element(root: Path, repeat: int) -> dict[str, float]:
    """Bytes written and seconds to publish after one element of a 320 MB array changed."""
    from ipyckpt import Store

    arr = np.random.default_rng(0).standard_normal(320 * MB // 8)
    store = Store(root / "one-element", keep=2)
    store.save({"arr": arr})
    written, seconds = [], []
    for rep in range(repeat):
        arr[(rep * 7919) % len(arr)] += 1.0
        report = store.save({"arr": arr})
        written.append(report.bytes_written)
        seconds.append(report.seconds)
    return {"one_element_bytes": statistics.median(written), "one_element_s": min(seconds)}


def cow_memory(root: Path, share: float) -> dict[str, float]:
    """Extra memory while a child writes a 1 GB array and the cell rewrites ``share`` of it."""
    from ipyckpt import Store
    from ipyckpt.background import ForkedSaver
    from ipyckpt.session import SaveRequest

    arr = np.random.default_rng(1).standard_normal(GB // 8)
    store = Store(root / f"cow-{share}", keep=1)
    saver = ForkedSaver(on_outcome=lambda outcome: None)
    before = _pss(os.getpid())
    saver.save(SaveRequest(store, {"arr": arr}, None, "periodic"))
    assert saver.child is not None
    child = saver.child.pid
    part = arr[: int(len(arr) * share)]
    np.add(part, 1.0, out=part)  # the cell goes on writing while the child saves
    peak = 0
    while saver.running:
        try:
            peak = max(peak, _pss(os.getpid()) + _pss(child) - before)
        except (OSError, ValueError):
            break
        time.sleep(0.01)
    return {"cow_extra": float(peak), "cow_written": float(part.nbytes)}


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def fork_latency(repeat: int, sizes_gb: tuple[float, ...] = (0.5, 1.0, 2.0)) -> dict[str, float]:
    """``os.fork()`` time in ms by resident size in GB (the size added, plus what the process
    already holds), min of ``repeat``."""
    out = {}
    for size in sizes_gb:
        block = np.ones(int(size * GB) // 8)  # touched: resident
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            best = min(best, time.perf_counter() - started)
            os.waitpid(pid, 0)
        out[f"{_rss() / GB:.1f}"] = 1e3 * best
        del block
    return out


def main(argv: list[str]) -> None:
    """Entry point (see the module docstring)."""
    workload, scale, root, repeat = argv[0], float(argv[1]), Path(argv[2]), int(argv[3])
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = snapshots(workload, scale, root, repeat)
    if workload == "medium":
        result.update(one_element(root, repeat))
        for share in (0.1, 1.0):
            result.update({f"{k}_{share:g}": v for k, v in cow_memory(root, share).items()})
        result["fork_ms"] = fork_latency(repeat)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
