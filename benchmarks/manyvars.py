"""Save and restore of a namespace with many small variables (issue 11 item 5: linear, compact).

``python -m benchmarks.manyvars [--counts 5000,10000,50000] [--repeat 3]`` builds, for each count,
a namespace of that many small variables (ints, strings, short lists, small dicts, in rotation),
saves it into a fresh store and restores it in a fresh interpreter. It prints, side by side, the
median save and restore seconds, the time per variable (flat when linear), the manifest size per
variable, and ``pickle.dump``/``pickle.load`` of the same dict with fsync (the floor).
Targets of the issue at 50,000 variables: save <= 2 s, restore <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WORKER = r"""
import json, os, pickle, sys, time
count, action, where = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def namespace(n):
    kinds = (lambda i: i, lambda i: f"value {i}", lambda i: [i, i + 1], lambda i: {"i": i})
    return {f"v{i}": kinds[i % 4](i) for i in range(n)}

if action.startswith("ipyckpt"):
    from ipyckpt import Store
    store = Store(where)
    if action == "ipyckpt-save":
        ns = namespace(count)
        t = time.perf_counter(); store.save(ns); took = time.perf_counter() - t
    else:
        t = time.perf_counter(); values = store.load().values; took = time.perf_counter() - t
        assert len(values) == count, len(values)
else:
    path = os.path.join(where, "ns.pkl")
    if action == "pickle-save":
        os.makedirs(where, exist_ok=True)
        ns = namespace(count)
        t = time.perf_counter()
        with open(path + ".tmp", "wb") as fh:
            pickle.dump(ns, fh, protocol=5); fh.flush(); os.fsync(fh.fileno())
        os.replace(path + ".tmp", path)
        took = time.perf_counter() - t
    else:
        t = time.perf_counter()
        with open(path, "rb") as fh:
            values = pickle.load(fh)
        took = time.perf_counter() - t
print(json.dumps({"seconds": took}))
"""


def _time(count: int, action: str, where: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(count), action, str(where)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def _manifest_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "generations").glob("*.json"))


def measure(count: int, repeat: int) -> dict[str, Any]:
    """Median seconds of save and restore for ipyckpt and pickle, and the manifest size."""
    times: dict[str, list[float]] = {}
    manifest = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            for tool in ("ipyckpt", "pickle"):
                where = Path(scratch) / tool
                for step in ("save", "load"):
                    times.setdefault(f"{tool}-{step}", []).append(
                        _time(count, f"{tool}-{step}", where)
                    )
            manifest = _manifest_bytes(Path(scratch) / "ipyckpt")
    row: dict[str, Any] = {k: statistics.median(v) for k, v in times.items()}
    row.update(count=count, manifest_bytes=manifest)
    return row


def main(argv: list[str] | None = None) -> None:
    """Print a table (and one JSON line per count)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="5000,10000,20000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("| variables | ipyckpt save s | ipyckpt restore s | µs/var save | µs/var restore "
          "| pickle save s | pickle load s | manifest bytes/var |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for count in (int(c) for c in args.counts.split(",")):
        r = measure(count, args.repeat)
        print(
            f"| {count} | {r['ipyckpt-save']:.3f} | {r['ipyckpt-load']:.3f} "
            f"| {1e6 * r['ipyckpt-save'] / count:.1f} | {1e6 * r['ipyckpt-load'] / count:.1f} "
            f"| {r['pickle-save']:.3f} | {r['pickle-load']:.3f} "
            f"| {r['manifest_bytes'] / count:.0f} |",
            flush=True,
        )
        print(json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
