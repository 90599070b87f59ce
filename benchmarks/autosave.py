"""What autosave costs per cell, and the disk a session of autosaves uses.

For each workload (``benchmarks.workloads``), in a fresh interpreter, a real IPython shell runs
the cells ``pass``, ``step += 1``, ``float(big.sum())`` (reads an array) and ``weights[0] += 1``
(changes one element) in three modes, alternating, and reports medians:

* ``bare``: the extension is not loaded;
* ``idle``: loaded, autosave on, no snapshot due (what almost every cell pays);
* ``due``: loaded, a snapshot due after every cell (what a cell pays when the interval has
  passed: the saver's pause; ``pass`` changes nothing and is never saved).

``--disk N`` then runs N cells of ``weights[0] += 1`` on the first workload with a snapshot due
after each, under the default retention, and reports the store's size beside the state's.

``python -m benchmarks.autosave [--workloads small,medium] [--repeat 5] [--disk 100]`` prints
one JSON line per workload and a table, with the forked background saver (the default);
``IPYCKPT_BENCH_BACKGROUND=0`` measures the in-process saver (``c.Checkpointer.background =
False``). Side by side with Kishu, in real kernels: :mod:`benchmarks.sidebyside`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CELLS = {
    "pass": "pass",
    "small += 1": "step += 1",
    "read array": "float(big.sum())",
    "arr[0] += 1": "weights[0] += 1",
}
MODES = ("bare", "idle", "due")


def du(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _shell(workload: str, scale: float) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    from benchmarks.worker import TrainingConfig
    from benchmarks.workloads import build

    shell = InteractiveShell.instance()
    build(workload, scale, shell.user_ns, TrainingConfig)
    return shell


def _time_cell(shell: Any, code: str) -> float:
    started = time.perf_counter()
    shell.run_cell(code, store_history=True)
    return time.perf_counter() - started


def session_of(shell: Any) -> Any:
    """The ipyckpt session of ``shell`` (the extension must be loaded)."""
    from ipyckpt.kernel.state import state_of

    state = state_of(shell)
    assert state is not None, "the extension is not loaded"
    return state.session


def set_clock(session: Any, mode: str) -> None:
    """Make the autosave after the next cell due (``due``) or not (``idle``)."""
    clock = session.autosave
    clock.dirty = False  # what the next cell changes, not what the cell before it changed
    if mode == "idle":
        clock.last_snapshot = time.monotonic()  # just protected: nothing is due
    else:
        session.settle(block=True)  # a background child of the cell before: done
        clock.last_snapshot, clock.last_pause = None, 0.0  # due at the end of the next cell


def _run_mode(shell: Any, mode: str, code: str) -> float:
    """One cell in ``mode`` (the extension is loaded for idle/due, unloaded for bare)."""
    if mode != "bare":
        set_clock(session_of(shell), mode)
    return _time_cell(shell, code)


def per_cell(workload: str, scale: float, repeat: int, store: Path) -> dict[str, Any]:
    """Median seconds per cell kind and mode; also the state's size on disk."""
    import os

    os.environ["IPYCKPT_STORE"] = str(store)
    shell = _shell(workload, scale)
    shell.run_line_magic("load_ext", "ipyckpt")
    background = os.environ.get("IPYCKPT_BENCH_BACKGROUND", "1") != "0"  # forked: the default
    shell.run_line_magic("config", f"Checkpointer.background = {background}")
    session = session_of(shell)
    session.save(session.tracked_names(), trigger="manual")  # the first full save
    state_bytes = du(store / "blobs")
    times: dict[str, dict[str, list[float]]] = {k: {m: [] for m in MODES} for k in CELLS}
    for _ in range(repeat):
        for mode in MODES:
            if mode == "bare":
                shell.run_line_magic("unload_ext", "ipyckpt")
            for kind, code in CELLS.items():
                times[kind][mode].append(_run_mode(shell, mode, code))
            if mode == "bare":
                shell.run_line_magic("load_ext", "ipyckpt")
    medians = {k: {m: statistics.median(v) for m, v in t.items()} for k, t in times.items()}
    return {"workload": workload, "state_bytes": state_bytes, "seconds": medians}


def disk_after(workload: str, scale: float, cells: int, store: Path) -> dict[str, Any]:
    """Store size after ``cells`` autosaved cells of ``weights[0] += 1`` (default retention)."""
    import os

    os.environ["IPYCKPT_STORE"] = str(store)
    shell = _shell(workload, scale)
    shell.run_line_magic("load_ext", "ipyckpt")
    session = session_of(shell)
    session.save(session.tracked_names(), trigger="manual")
    state_bytes = du(store / "blobs")
    started = time.perf_counter()
    for _ in range(cells):
        _run_mode(shell, "due", CELLS["arr[0] += 1"])
    return {
        "workload": workload,
        "cells": cells,
        "state_bytes": state_bytes,
        "store_bytes": du(store),
        "generations": len(list((store / "generations").glob("*.json"))),
        "seconds": time.perf_counter() - started,
    }


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.autosave", "--child", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    """Milliseconds per cell: bare, and what autosave adds when idle and when due."""
    lines = ["workload  cell          bare ms  +idle ms  +due ms"]
    for row in rows:
        for kind, t in row["seconds"].items():
            bare = 1e3 * t["bare"]
            lines.append(
                f"{row['workload']:<9} {kind:<13} {bare:7.2f}  {1e3 * t['idle'] - bare:8.2f}"
                f"  {1e3 * t['due'] - bare:7.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="small,medium")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--disk", type=int, default=0, help="cells for the disk figure")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        op, workload, scale, number, store = args.child
        if op == "cells":
            result = per_cell(workload, float(scale), int(number), Path(store))
        else:
            result = disk_after(workload, float(scale), int(number), Path(store))
        print(json.dumps(result))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for i, workload in enumerate(args.workloads.split(",")):
            store = Path(tmp) / f"cells-{i}"
            rows.append(_child(["cells", workload, str(args.scale), str(args.repeat), str(store)]))
            print(json.dumps(rows[-1]), flush=True)
        print(table(rows))
        if args.disk:
            store = Path(tmp) / "disk"
            workload = args.workloads.split(",")[-1]
            disk = _child(["disk", workload, str(args.scale), str(args.disk), str(store)])
            print(json.dumps(disk))


if __name__ == "__main__":
    main(sys.argv[1:])
