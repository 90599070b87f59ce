"""What the loaded extension costs when no snapshot is due.

* consistent-point checks: a ``%%checkpoint every=1h`` loop whose body takes ~100 microseconds,
  run plain and instrumented (the same code path ``%%checkpoint`` uses), in alternation;
* idle per-cell overhead: ``x = 1`` run by a real IPython shell without and with the extension.

``python -m benchmarks.overhead [--repeat 5] [--iterations 20000]`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

CELL = """
total = 0
for i in range(iterations):
    total += sum(range(work))
"""


def _calibrate_work(target_s: float = 100e-6) -> int:
    """How long ``sum(range(work))`` must be for one loop body to take ``target_s``."""
    work = 1000
    while True:
        started = time.perf_counter()
        for _ in range(200):
            sum(range(work))
        per = (time.perf_counter() - started) / 200
        if per >= target_s * 0.9:
            return max(1, int(work * target_s / per))
        work *= 2


def loop_overhead(repeat: int, iterations: int) -> dict[str, float]:
    """Median time of the loop plain and with consistent points; the relative slowdown."""
    from ipyckpt.safepoints import RUNTIME_NAME, SafepointRuntime, instrument

    work = _calibrate_work()
    plain = compile(CELL, "<cell>", "exec")
    cell = instrument(CELL)
    checked = compile(cell.body, "<cell>", "exec")
    times: dict[str, list[float]] = {"plain": [], "checked": []}
    for _ in range(repeat):
        for kind, code in (("plain", plain), ("checked", checked)):
            ns: dict[str, Any] = {"iterations": iterations, "work": work}
            runtime = SafepointRuntime(interval=3600.0, on_snapshot=_never)
            ns[RUNTIME_NAME] = runtime
            started = time.perf_counter()
            with runtime.activate():
                exec(code, ns)
            times[kind].append(time.perf_counter() - started)
    p, c = statistics.median(times["plain"]), statistics.median(times["checked"])
    return {"body_us": 1e6 * p / iterations, "loop_overhead_pct": 100 * (c - p) / p}


def _never(*args: object) -> None:
    raise AssertionError("no snapshot is due within an hour")


def cell_overhead(repeat: int, cells: int = 2000) -> dict[str, float]:
    """Per-cell time of ``x = 1`` in a real IPython shell, without and with ``ipyckpt``."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()

    def per_cell() -> float:
        started = time.perf_counter()
        for _ in range(cells):
            shell.run_cell("x = 1", store_history=True)
        return (time.perf_counter() - started) / cells

    without, with_ext = [], []
    for _ in range(repeat):
        without.append(per_cell())
        shell.run_line_magic("load_ext", "ipyckpt")
        with_ext.append(per_cell())
        shell.run_line_magic("unload_ext", "ipyckpt")
    return {"cell_overhead_ms": 1e3 * (statistics.median(with_ext) - statistics.median(without))}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args(argv)
    result = loop_overhead(args.repeat, args.iterations) | cell_overhead(args.repeat)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
