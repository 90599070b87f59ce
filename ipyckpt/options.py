"""Parsing of the ``%%checkpoint`` line: ``every=1h vars=a,b exclude=x keep=5 resume=no``.

Pure functions, so the exact error texts are unit-tested without a shell. Each option may also
be written ``--every 1h`` or ``--every=1h``.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass

from ipyckpt.durations import parse_duration
from ipyckpt.namespace import parse_name_list

USAGE = "%%checkpoint [every=DURATION|auto] [vars=a,b] [exclude=x,y] [keep=N] [resume=yes|no]"
_KEYS = ("every", "vars", "exclude", "keep", "resume")
_YES = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}


class OptionError(ValueError):
    """A bad ``%%checkpoint`` argument; the magic turns it into IPython's ``UsageError``."""


@dataclass(frozen=True)
class CellOptions:
    """What a ``%%checkpoint`` line asked for; ``None`` means "use the configured default"."""

    every: float | None = None
    auto: bool = False
    names: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    keep: int | None = None
    resume: bool = True


def key_value_pairs(
    line: str, keys: Collection[str], usage: str, error: type[Exception]
) -> list[tuple[str, str]]:
    """Split a magic's line into ``(key, value)`` pairs: ``key=value`` or ``--key value``.

    Raises ``error`` (with ``usage``) for a stray word, a key not in ``keys`` or a key given twice.
    """
    tokens = shlex.split(line)
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].removeprefix("--")
        if "=" in token:
            key, value = token.split("=", 1)
        elif tokens[i].startswith("--") and i + 1 < len(tokens):
            key, value = token, tokens[i + 1]
            i += 1
        else:
            raise error(f"unexpected argument {tokens[i]!r}; usage: {usage}")
        if key not in keys:
            raise error(f"unknown option {key!r}; usage: {usage}")
        if any(key == seen for seen, _ in pairs):
            raise error(f"{key}= is given twice; usage: {usage}")
        pairs.append((key, value))
        i += 1
    return pairs


def parse_cell_options(line: str) -> CellOptions:
    """Parse the arguments of ``%%checkpoint``; raise OptionError with an example if bad."""
    values: dict[str, object] = {}
    for key, value in key_value_pairs(line, _KEYS, USAGE, OptionError):
        values[key] = _convert(key, value)
    every = values.get("every")
    return CellOptions(
        every=every if isinstance(every, float) else None,
        auto=every == "auto",
        names=values.get("vars"),  # type: ignore[arg-type]
        exclude=values.get("exclude", ()),  # type: ignore[arg-type]
        keep=values.get("keep"),  # type: ignore[arg-type]
        resume=bool(values.get("resume", True)),
    )


def _convert(key: str, value: str) -> object:
    try:
        if key == "every":
            return "auto" if value.lower() == "auto" else parse_duration(value)
        if key in ("vars", "exclude"):
            return parse_name_list(value)
        if key == "keep":
            n = int(value)
            if n < 1:
                raise ValueError
            return n
    except ValueError as exc:
        hint = str(exc) or f"use a whole number of generations, e.g. keep=5 (got {value!r})"
        raise OptionError(f"{key}={value}: {hint}") from None
    if value.lower() not in _YES:
        raise OptionError(f"resume={value}: use resume=yes or resume=no")
    return _YES[value.lower()]
