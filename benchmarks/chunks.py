"""How big a buffer chunk should be: ``python -m benchmarks.chunks [--mb 320] [--repeat 3]``.

For each chunk size, a ``--mb`` MB float64 array is stored the way :class:`ipyckpt.Store` stores
it (private copy, blake3, write + fsync + rename per chunk, two writer threads), and once more
with nothing changed (copy + hash only). Prints one JSON line: medians in seconds by chunk size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES_MB = (1, 4, 8, 16, 64)


def _store_once(data: np.ndarray, chunk: int, where: Path) -> tuple[float, float]:
    """Seconds for a first save and for an unchanged re-save of ``data`` in ``chunk`` chunks."""
    from ipyckpt import Store
    from ipyckpt.store import chunks

    original, chunks.CHUNK_SIZE = chunks.CHUNK_SIZE, chunk
    try:
        store = Store(where)
        started = time.perf_counter()
        store.save({"data": data})
        first = time.perf_counter() - started
        started = time.perf_counter()
        store.save({"data": data})
        return first, time.perf_counter() - started
    finally:
        chunks.CHUNK_SIZE = original


def measure(mb: int, repeat: int) -> dict[str, dict[str, float]]:
    """Median first-save and unchanged re-save seconds for each chunk size in :data:`SIZES_MB`."""
    data = np.random.default_rng(0).standard_normal(mb * (1 << 20) // 8)
    samples: dict[int, list[tuple[float, float]]] = {size: [] for size in SIZES_MB}
    with tempfile.TemporaryDirectory(prefix="ipyckpt-chunks-") as tmp:
        for rep in range(repeat):
            for size in SIZES_MB:  # interleaved: a slow phase of the disk hits every size
                samples[size].append(_store_once(data, size << 20, Path(tmp) / f"{size}-{rep}"))
    return {
        f"{size} MB": {
            "save": statistics.median(s[0] for s in got),
            "unchanged": statistics.median(s[1] for s in got),
        }
        for size, got in samples.items()
    }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.mb, args.repeat)))


if __name__ == "__main__":
    main(sys.argv[1:])
