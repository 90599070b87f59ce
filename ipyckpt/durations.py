"""Durations for ``every=``: parsing (``90``, ``30s``, ``1h30m``, ``2d``), formatting, Young/Daly."""

from __future__ import annotations

import math
import re

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_HELP = "use a number of seconds or units like 30s, 10m, 1h30m, 2d"


def parse_duration(text: str) -> float:
    """Seconds in ``text``; units d, h, m, s in descending order. ValueError with an example."""
    raw = text.strip().lower()
    bad = ValueError(f"invalid duration {text!r}: {_HELP}")
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    else:
        parts = _PART.findall(raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise bad
        units = [u for _, u in parts]
        order = list(_UNITS)
        if len(set(units)) != len(units) or units != sorted(units, key=order.index):
            raise bad
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0 or math.isinf(seconds):
        raise bad
    return seconds


def format_duration(seconds: float) -> str:
    """Human form: ``45s``, ``10m``, ``1h30m``, ``2d3h``, ``0.25s``."""
    if seconds < 1:
        return f"{seconds:.2g}s"
    rest = round(seconds)
    out = ""
    for unit, size in _UNITS.items():
        count, rest = divmod(rest, int(size))
        if count:
            out += f"{count}{unit}"
    return out or "0s"


def young_daly_interval(
    cost_s: float, mtbf_s: float = 86400.0, lo: float = 60.0, hi: float = 7200.0
) -> float:
    """Checkpoint interval sqrt(2 x cost x MTBF) (Young/Daly), clamped to [lo, hi] seconds."""
    return min(hi, max(lo, math.sqrt(2.0 * max(cost_s, 0.0) * mtbf_s)))
