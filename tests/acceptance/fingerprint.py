"""A comparable fingerprint of every user variable, computed inside the kernel.

Its source is executed in the kernel after the last cell (it imports only what the kernel has).
Arrays, frames, graphs and models are compared by content (``joblib.hash``); sets (and the
containers holding them) by their elements, whatever their order; figures and axes by
their axes' titles, labels and artists; modules by name; what joblib cannot hash by its type and
its address-free ``repr``, plus the fitted values and parameters a model exposes.
"""

from __future__ import annotations

import json
import re
import types
from typing import Any

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_MODEL_ATTRIBUTES = ("best_fit", "best_values", "chisqr", "params", "coef_", "predict")


def _axes(ax: Any) -> list[Any]:
    return [
        ax.get_title(),
        ax.get_xlabel(),
        ax.get_ylabel(),
        len(ax.lines),
        len(ax.collections),
        len(ax.patches),
        len(ax.texts),
        len(ax.images),
    ]


def _plot_part(value: Any) -> Any:
    """The summary of a figure or an axes (or a container of axes), else None."""
    kind = type(value).__module__
    if kind.startswith("matplotlib.figure"):
        return ["figure", [_axes(ax) for ax in value.axes]]
    if kind.startswith("matplotlib.axes"):
        return ["axes", _axes(value)]
    if isinstance(value, list | tuple) and value and all(_plot_part(v) for v in value):
        return [_plot_part(v) for v in value]
    if type(value).__name__ == "ndarray" and value.dtype == object and value.size:
        parts = [_plot_part(v) for v in value.ravel()]
        if all(parts):
            return parts
    return None


_CONTAINERS = (list, tuple, dict, set, frozenset)


def _holds_a_set(value: Any, depth: int = 3) -> bool:
    """True for a set, or a list/tuple/dict holding one (``depth`` levels down)."""
    if type(value) in (set, frozenset):
        return True
    if depth == 0 or type(value) not in _CONTAINERS:
        return False
    items = [*value.keys(), *value.values()] if type(value) is dict else value
    return any(_holds_a_set(v, depth - 1) for v in items)


def _by_content(value: Any) -> Any:
    """Sets as sorted element fingerprints, lists/tuples/dicts element by element: a pickle
    round trip rebuilds a set by inserting its elements, so an equal set may iterate (and
    pickle, and ``joblib.hash``) in another order, even in the same process."""
    if type(value) in (set, frozenset):
        return [type(value).__name__, sorted(describe(v) for v in value)]
    if type(value) is dict:
        return ["dict", [[describe(k), describe(v)] for k, v in value.items()]]
    return [type(value).__name__, [describe(v) for v in value]]


def _by_structure(value: Any) -> str | None:
    """The fingerprint of a module, a set (or a container holding one), a plot or a numeric
    array; None for anything else."""
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if _holds_a_set(value):
        return json.dumps(_by_content(value))
    plot = _plot_part(value)
    if plot is not None:
        return json.dumps(plot)
    if type(value).__name__ == "ndarray" and value.dtype != object:
        import hashlib

        import numpy

        # content, not memory layout: a restored view is a contiguous copy with other strides
        digest = hashlib.sha256(numpy.ascontiguousarray(value).tobytes()).hexdigest()[:32]
        return f"ndarray {value.dtype} {value.shape} {digest}"
    return None


def describe(value: Any) -> str:
    """The fingerprint of one value (equal for equal content)."""
    structural = _by_structure(value)
    if structural is not None:
        return structural
    if type(value).__module__.startswith("lmfit"):
        return f"{type(value).__qualname__} {_lmfit(value)}"
    try:
        import joblib

        return f"{type(value).__qualname__} {joblib.hash(value)}"
    except Exception:
        pass
    text = _ADDRESS.sub("0x?", repr(value))
    for attr in _MODEL_ATTRIBUTES:
        part = getattr(value, attr, None)
        if part is not None and not callable(part):
            text += f" {attr}={describe(part)}"
    return f"{type(value).__qualname__} {text}"


def _lmfit(value: Any) -> str:
    """lmfit objects by content: a Parameters' values and bounds, a result's public fields.

    (``joblib.hash`` of a Parameters depends on its expression evaluator's symbol order and
    bound methods, which change on every pickle round trip, with or without ipyckpt.)"""
    if hasattr(value, "valuesdict"):
        fields = ("value", "stderr", "min", "max", "vary", "expr")
        return repr([[p.name, *(getattr(p, f) for f in fields)] for p in value.values()])
    public = {k: v for k, v in sorted(vars(value).items()) if not k.startswith("_")}
    return repr({k: describe(v) for k, v in public.items() if not callable(v)})


def fingerprints(user_ns: dict[str, Any], hidden: dict[str, Any]) -> dict[str, str]:
    """Fingerprints of the user's variables (not IPython's, not dunder names)."""
    from ipyckpt.namespace import select_names

    out = {}
    for name in select_names(user_ns, hidden=hidden).names:
        try:
            out[name] = describe(user_ns[name])
        except Exception as exc:  # a fingerprint that fails is a value we cannot compare
            out[name] = f"unfingerprintable {type(exc).__name__}"
    return out
