"""The generations table: one for the ``%checkpoint list`` magic and the ``ipyckpt list`` command.

Same columns and relative ages in both; HTML in notebooks, aligned text in terminals.
"""

from __future__ import annotations

from typing import Any

from ipyckpt.history import snapshot_cell
from ipyckpt.store.reports import GenerationInfo, format_age, format_bytes


def _cell(info: dict[str, Any]) -> str:
    """``[12] model.fit(X, y)`` after that cell, ``in [12] for ...`` during it, else ``-``."""
    cell = snapshot_cell(info)
    if cell is None:
        return "-"
    where = "" if cell.get("state") == "after" else "in "
    return f"{where}[{cell['count']}] {cell.get('first_line', '')}".rstrip()


def _rows(infos: list[GenerationInfo]) -> list[list[str]]:
    return [
        [
            str(g.id),
            _cell(g.info),
            format_age(g.time) if g.time else "?",
            g.trigger,
            str(len(g.variables)),
            format_bytes(g.bytes),
            f"{g.duration:.2f} s",
            ", ".join(sorted(g.skipped)) or "-",
            g.problem or (f"error: {g.error}" if g.error else "ok"),
        ]
        for g in infos
    ]


_HEADER = [
    "generation",
    "cell",
    "taken",
    "trigger",
    "variables",
    "size",
    "duration",
    "skipped",
    "status",
]


class GenerationTable:
    """The generations as a table: HTML in notebooks, text in terminals."""

    def __init__(self, infos: list[GenerationInfo], where: str) -> None:
        self.rows = _rows(infos)
        self.where = where

    def __repr__(self) -> str:
        if not self.rows:
            return f"no state checkpoints in {self.where}"
        widths = [max(len(r[i]) for r in [_HEADER, *self.rows]) for i in range(len(_HEADER))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [_HEADER, *self.rows]
        ]
        return "\n".join([f"state checkpoints in {self.where}", *lines])

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:
        import html

        if not self.rows:
            return f"<p>no state checkpoints in <code>{html.escape(self.where)}</code></p>"
        head = "".join(f"<th>{h}</th>" for h in _HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        return (
            f"<p>state checkpoints in <code>{html.escape(self.where)}</code></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
