"""Which variables a checkpoint saves: the user's (modules too: stored by reference), never
IPython's internals."""

from __future__ import annotations

import keyword
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field

_INTERNAL = frozenset(
    {
        "In",
        "Out",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_ih",
        "_oh",
        "_dh",
        "_sh",
        "get_ipython",
        "exit",
        "quit",
    }
)
_NUMBERED = re.compile(r"^_i?\d+$")


@dataclass(frozen=True)
class Selection:
    """Names to save (sorted) and, for explicitly requested names, why some were left out."""

    names: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)


def is_internal(name: str) -> bool:
    """IPython's own names (``In``, ``_i3``, ``_7``, ...) and every dunder name."""
    return name in _INTERNAL or name.startswith("__") or bool(_NUMBERED.match(name))


def _hidden(name: str, value: object, hidden: Mapping[str, object] | Container[str]) -> bool:
    if isinstance(hidden, Mapping):
        return name in hidden and hidden[name] is value
    return name in hidden


def select_names(
    user_ns: Mapping[str, object],
    *,
    hidden: Mapping[str, object] | Container[str] = (),
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> Selection:
    """The variables to save: ``include`` exactly, or the user's variables (see module doc)."""
    if include is not None:
        excluded = {n: "not defined" for n in include if n not in user_ns}
        names = sorted({n for n in include if n in user_ns and n not in exclude})
        return Selection(tuple(names), excluded)
    names = sorted(
        n
        for n, v in user_ns.items()
        if not is_internal(n) and n not in exclude and not _hidden(n, v, hidden)
    )
    return Selection(tuple(names))


def parse_name_list(text: str) -> tuple[str, ...]:
    """``"a,b c"`` → ``("a", "b", "c")``; every item must be an identifier, not a keyword."""
    items = [item for item in re.split(r"[,\s]+", text.strip()) if item]
    for item in items:
        if not item.isidentifier() or keyword.iskeyword(item):
            raise ValueError(f"{item!r} is not a variable name; write names like vars=model,losses")
    if not items:
        raise ValueError("no names given; write names like vars=model,losses")
    return tuple(items)
