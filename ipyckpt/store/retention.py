"""Which generations to keep: by time (thinning with age) and within a disk budget.

Pure functions; the store calls the policy after each save (``Store(retention=...)``) with one
:class:`Footprint` per readable generation and deletes the generations the policy leaves out.

The policy, newest first:

- the newest ``keep_newest`` generations are always kept (``keep=N`` without tiers keeps exactly
  those: :func:`keep_newest_only`);
- every generation of the last hour, then the newest of each hour for a day, the newest of each
  day for a week (:data:`DEFAULT_TIERS`);
- while the blobs of the kept generations (shared blobs counted once) fit in the budget; the
  newest generation is kept even if it alone exceeds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

HOUR, DAY = 3600.0, 86400.0
# (up to this age, keep one generation per bucket of this many seconds; 0 = every generation)
DEFAULT_TIERS: tuple[tuple[float, float], ...] = ((HOUR, 0.0), (DAY, HOUR), (7 * DAY, DAY))
DEFAULT_BUDGET = "3x"
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?b?)$")
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


@dataclass(frozen=True)
class Footprint:
    """A generation as retention sees it: id, creation time, and the blobs it needs."""

    generation: int
    created: float
    blobs: Mapping[str, int]  # blob hash -> size

    def size(self) -> int:
        """Bytes of its blobs (shared ones counted in full)."""
        return sum(self.blobs.values())


Policy = Callable[[Sequence[Footprint], float], set[int]]


@dataclass(frozen=True)
class Budget:
    """A disk budget: a multiple of the newest state's size (``3x``) or a size (``2GB``)."""

    factor: float = 0.0
    limit: int = 0

    def bytes_for(self, state_size: int) -> int:
        """The budget in bytes for a state of ``state_size`` bytes."""
        return self.limit if self.limit else int(self.factor * state_size)


def parse_budget(text: str) -> Budget | None:
    """``3x`` / ``2.5x`` / ``500MB`` / ``2GB`` / ``off``; ValueError with an example."""
    raw = text.strip().lower()
    if raw in ("off", "none", "unlimited"):
        return None
    help_ = "use a multiple of the state's size like 3x, a size like 2GB, or off"
    if raw.endswith("x"):
        try:
            factor = float(raw[:-1])
        except ValueError:
            raise ValueError(f"invalid disk budget {text!r}: {help_}") from None
        if not factor >= 1:
            raise ValueError(f"invalid disk budget {text!r}: a multiple must be at least 1x")
        return Budget(factor=factor)
    match = _SIZE.match(raw)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"invalid disk budget {text!r}: {help_}")
    return Budget(limit=int(float(match.group(1)) * _UNITS[match.group(2)[:1]]))


def by_time(
    generations: Sequence[Footprint],
    now: float,
    *,
    keep_newest: int = 1,
    tiers: Sequence[tuple[float, float]] = DEFAULT_TIERS,
) -> list[Footprint]:
    """The generations the time tiers keep, newest first (before the budget)."""
    ordered = sorted(generations, key=lambda g: g.generation, reverse=True)
    kept: list[Footprint] = []
    buckets: set[tuple[int, int]] = set()
    for index, gen in enumerate(ordered):
        age = max(0.0, now - gen.created)
        tier = next((i for i, (limit, _) in enumerate(tiers) if age <= limit), None)
        if index < keep_newest:
            kept.append(gen)
        elif tier is not None:
            width = tiers[tier][1]
            bucket = (tier, int(gen.created // width) if width else gen.generation)
            if bucket not in buckets:
                kept.append(gen)
        if tier is not None and tiers[tier][1]:
            buckets.add((tier, int(gen.created // tiers[tier][1])))
    return kept


def within_budget(kept: Sequence[Footprint], budget: int | None) -> list[Footprint]:
    """The newest generations of ``kept`` whose blobs fit in ``budget`` bytes (newest always)."""
    if budget is None:
        return list(kept)
    out: list[Footprint] = []
    used: dict[str, int] = {}
    for gen in kept:
        extra = sum(size for digest, size in gen.blobs.items() if digest not in used)
        if out and sum(used.values()) + extra > budget:
            break
        out.append(gen)
        used.update(gen.blobs)
    return out


def tiered(
    budget: Budget | None,
    *,
    keep_newest: int = 1,
    tiers: Sequence[tuple[float, float]] = DEFAULT_TIERS,
) -> Policy:
    """The default policy (see the module docstring); the budget scales with the newest state."""

    def policy(generations: Sequence[Footprint], now: float) -> set[int]:
        if not generations:
            return set()
        newest = max(generations, key=lambda g: g.generation)
        limit = None if budget is None else budget.bytes_for(newest.size())
        kept = within_budget(by_time(generations, now, keep_newest=keep_newest, tiers=tiers), limit)
        return {g.generation for g in kept} | {
            g.generation
            for g in sorted(generations, key=lambda g: -g.generation)[: max(1, keep_newest)]
        }

    return policy


def keep_newest_only(count: int) -> Policy:
    """``keep=N``: exactly the newest ``count`` generations."""

    def policy(generations: Sequence[Footprint], now: float) -> set[int]:
        ordered = sorted((g.generation for g in generations), reverse=True)
        return set(ordered[:count])

    return policy
