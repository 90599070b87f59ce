"""The process's global random states, saved with every snapshot and put back on restore.

A resumed loop that draws from ``random``, ``numpy.random`` (the legacy global generator behind
``np.random.seed``/``np.random.rand``) or torch's CPU generator draws the same numbers as an
uninterrupted run. A library's state is captured only when the notebook has imported it (this
module never imports numpy or torch to save), and stored as plain data (no pickle).
"""

from __future__ import annotations

import base64
import importlib
import random
import sys
from typing import Any


def capture() -> dict[str, Any]:
    """The global random states of this process, as JSON-able data."""
    version, internal, gauss = random.getstate()
    states: dict[str, Any] = {"random": [version, list(internal), gauss]}
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "random"):
        kind, keys, pos, has_gauss, cached = numpy.random.get_state(legacy=True)
        states["numpy"] = [kind, _b64(keys.astype("<u4").tobytes()), pos, has_gauss, cached]
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_rng_state"):
        states["torch"] = _b64(torch.get_rng_state().numpy().tobytes())
    return states


def restore(states: dict[str, Any]) -> list[str]:
    """Put ``states`` back; return the generators restored (``random``, ``numpy``, ``torch``).

    numpy and torch are imported if the snapshot used them. A state that cannot be applied
    (library missing, another format) is left as the new kernel has it.
    """
    done = []
    if "random" in states:
        version, internal, gauss = states["random"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
        done.append("random")
    if "numpy" in states and (numpy := _module("numpy")) is not None:
        kind, keys, pos, has_gauss, cached = states["numpy"]
        array = numpy.frombuffer(base64.b64decode(keys), dtype="<u4").astype(numpy.uint32)
        numpy.random.set_state((str(kind), array, int(pos), int(has_gauss), float(cached)))
        done.append("numpy")
    if "torch" in states and (torch := _module("torch")) is not None:
        data = bytearray(base64.b64decode(states["torch"]))
        torch.set_rng_state(torch.frombuffer(data, dtype=torch.uint8).clone())
        done.append("torch")
    return done


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
