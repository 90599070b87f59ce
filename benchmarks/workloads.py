"""The namespaces the benchmarks save: small, medium, large and numeric-only.

Sizes are for ``scale=1``: small ~7 MB, medium ~570 MB, large ~2 GB; numeric ~540 MB and
numeric-large ~2.1 GB with arrays >= 90 % of the bytes. Everything is built in the calling
module's namespace (the benchmark worker's ``__main__``), so lambdas and classes are "defined
in the notebook".
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

MB = 1 << 20
WORKLOADS = {
    # name: (bytes in float64 arrays, DataFrame rows, dict items, list strings)
    "small": (6 * MB, 20_000, 2_000, 5_000),
    "medium": (530 * MB, 1_000_000, 100_000, 200_000),
    "large": (1900 * MB, 2_000_000, 200_000, 400_000),
    "numeric": (540 * MB, 50_000, 1_000, 1_000),
    "numeric-large": (2150 * MB, 50_000, 1_000, 1_000),
}
UNPICKLABLE = ("log_file", "batches", "guard")


def build(name: str, scale: float, target: dict[str, Any], make_class: Any) -> list[str]:
    """Fill ``target`` (a module's globals) with workload ``name``; return the names set."""
    before = set(target)
    array_bytes, rows, items, strings = WORKLOADS[name]
    rng = np.random.default_rng(0)
    n = max(1, int(array_bytes * scale) // 8 // 4)
    target["weights"] = rng.standard_normal(n)
    target["grads"] = rng.standard_normal(n)
    target["history"] = rng.standard_normal((max(1, n // 1000), 1000)) if n >= 1000 else np.ones(n)
    target["big"] = rng.standard_normal(n)
    rows = max(3, int(rows * scale))
    target["frame"] = pd.DataFrame(
        {
            "x": rng.standard_normal(rows),
            "k": np.arange(rows),
            "label": [f"sample-{i % 5000}-{i}" for i in range(rows)],
        }
    )
    target["records"] = {i: (i, f"r{i}", [i, i + 1]) for i in range(max(1, int(items * scale)))}
    target["tokens"] = [f"token{i}" for i in range(max(1, int(strings * scale)))]
    from sklearn.linear_model import Ridge

    x = rng.standard_normal((200, 8))
    target["model"] = Ridge().fit(x, x @ np.arange(8.0))
    target["scale_fn"] = lambda v: v * 2.5
    target["config"] = make_class(lr=0.01, epochs=10)
    target["step"] = 0
    target["log_file"] = open(__file__)  # noqa: SIM115 - an unpicklable on purpose
    target["batches"] = (i for i in range(3))
    target["guard"] = threading.Lock()
    return [k for k in target if k not in before]
