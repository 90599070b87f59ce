"""``%checkpoint diff``: compare the namespace with a saved generation, cheaply and safely."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def same_value(old: object, new: object) -> bool:
    """Best-effort equality that never raises (arrays compared element-wise, by dill bytes last)."""
    if old is new:
        return True
    try:
        import numpy as np

        if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
            return bool(np.array_equal(old, new))  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - numpy is optional
        pass
    try:
        return bool(old == new)
    except Exception:
        pass
    try:
        import dill

        return bool(dill.dumps(old) == dill.dumps(new))
    except Exception:
        return False


def diff_namespace(
    saved: Mapping[str, object],
    current: Mapping[str, object],
    tracked: Sequence[str],
    generation: int,
) -> str:
    """A short report: added, deleted and changed variables since ``generation``."""
    now = set(tracked)
    added = sorted(now - set(saved))
    deleted = sorted(set(saved) - now)
    changed = sorted(n for n in now & set(saved) if not same_value(saved[n], current[n]))
    if not (added or deleted or changed):
        return f"no changes since state checkpoint {generation}"
    lines = [f"since state checkpoint {generation}:"]
    for label, names in (("changed", changed), ("new", added), ("deleted", deleted)):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    return "\n".join(lines)
