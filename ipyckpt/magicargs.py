"""The one option system of ipyckpt's magics.

Cell magics take ``key=value`` options (``--key value`` and ``--key=value`` work too). Each magic
describes its options once, as an :class:`OptionTable` of :class:`Option` rows; the table gives
the parser, the usage line shown in errors, the ``--help`` text and the magic's docstring. Line
magics with subcommands use :class:`LineParser` (argparse; ``--help`` prints and returns,
mistakes raise IPython's ``UsageError``).

The ``%%checkpoint`` table (:data:`CHECKPOINT_OPTIONS`) is here; ``%%condor``'s is in
:mod:`ipyckpt.condor.options`. Parsing is pure, so the exact error texts are unit-tested
without a shell.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from ipyckpt.durations import parse_duration
from ipyckpt.namespace import parse_name_list

HELP_FLAGS = ("--help", "-h")
_F = TypeVar("_F", bound=Callable[..., Any])


class OptionError(ValueError):
    """A bad magic argument; the magic turns it into IPython's ``UsageError``."""


def key_value_pairs(
    line: str, keys: Collection[str], usage: str, error: type[Exception]
) -> list[tuple[str, str]]:
    """Split a magic's line into ``(key, value)`` pairs: ``key=value`` or ``--key value``.

    Raises ``error`` (with ``usage``) for a stray word, a key not in ``keys`` or a key given twice.
    """
    try:
        tokens = shlex.split(line)
    except ValueError as exc:  # "No closing quotation"
        raise error(f"{str(exc).lower()} in {line.strip()!r}; usage: {usage}") from None
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


@dataclass(frozen=True)
class Option:
    """One ``key=value`` option: how it is shown, what it means, how its value is checked."""

    key: str
    shown: str  # in the usage line, e.g. "every=DURATION|auto"
    help: str
    convert: Callable[[str], object]  # raises ValueError saying what to write instead


@dataclass(frozen=True)
class OptionTable:
    """Every option of one cell magic (see the module docstring)."""

    magic: str  # "%%checkpoint"
    options: tuple[Option, ...]
    error: type[OptionError] = OptionError

    @property
    def usage(self) -> str:
        """``%%magic [key=VALUE] ...``."""
        return " ".join([self.magic, *(f"[{o.shown}]" for o in self.options)])

    def help(self) -> str:
        """The usage line and one line per option (what ``--help`` prints)."""
        width = max(len(o.shown) for o in self.options)
        rows = [f"  {o.shown.ljust(width)}  {o.help}" for o in self.options]
        return "\n".join([f"usage: {self.usage}", "", "options:", *rows])

    def wants_help(self, line: str) -> bool:
        """The line asks for ``--help``."""
        return any(token in HELP_FLAGS for token in line.split())

    def parse(self, line: str) -> dict[str, object]:
        """The converted values of the options given; raise ``self.error`` saying what to write."""
        by_key = {o.key: o for o in self.options}
        values: dict[str, object] = {}
        for key, value in key_value_pairs(line, by_key, self.usage, self.error):
            try:
                values[key] = by_key[key].convert(value)
            except ValueError as exc:
                raise self.error(f"{key}={value}: {exc}") from None
        return values

    def document(self, magic: _F) -> _F:
        """Decorator: append the options table to the magic's docstring (``%%magic?``)."""
        rows = "\n".join(f"    {o.shown}: {o.help}" for o in self.options)
        magic.__doc__ = f"{magic.__doc__ or ''}\n\n    Options:\n\n{rows}\n"
        return magic


def whole_number(minimum: int, hint: str = "") -> Callable[[str], int]:
    """A converter for whole numbers >= ``minimum`` (``hint`` replaces the default advice)."""

    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise ValueError(f"{hint or f'use a whole number >= {minimum}'} (got {value!r})")
        return number

    return convert


def one_of(choices: dict[str, object], hint: str) -> Callable[[str], object]:
    """A converter for a closed set of words (case-insensitive)."""

    def convert(value: str) -> object:
        if value.lower() not in choices:
            raise ValueError(hint)
        return choices[value.lower()]

    return convert


def duration_or_auto(value: str) -> float | str:
    """``every=``: a duration in seconds, or ``"auto"``."""
    return "auto" if value.lower() == "auto" else parse_duration(value)


_YES_NO: dict[str, object] = {
    **dict.fromkeys(("yes", "y", "true", "1"), True),
    **dict.fromkeys(("no", "n", "false", "0"), False),
}

CHECKPOINT_OPTIONS = OptionTable(
    "%%checkpoint",
    (
        Option(
            "every",
            "every=DURATION|auto",
            "snapshot interval; the cell keeps running after each snapshot (default: "
            "Checkpointer.default_every; auto: Young/Daly from the snapshot cost and "
            "Checkpointer.mtbf). DURATION: 90, 30s, 10m, 1h30m, 2d",
            duration_or_auto,
        ),
        Option("vars", "vars=a,b", "save only these variables", parse_name_list),
        Option("exclude", "exclude=x,y", "never save these variables", parse_name_list),
        Option(
            "keep",
            "keep=N",
            "generations to keep (default: Checkpointer.keep)",
            whole_number(1, "use a whole number of generations, e.g. keep=5"),
        ),
        Option(
            "resume",
            "resume=yes|no",
            "after a restart, resume where the last snapshot inside this cell was taken "
            "(default: yes)",
            one_of(_YES_NO, "use resume=yes or resume=no"),
        ),
    ),
)


@dataclass(frozen=True)
class CellOptions:
    """What a ``%%checkpoint`` line asked for; ``None`` means "use the configured default"."""

    every: float | None = None
    auto: bool = False
    names: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    keep: int | None = None
    resume: bool = True

    @classmethod
    def from_values(cls, values: dict[str, object]) -> CellOptions:
        """From the values :data:`CHECKPOINT_OPTIONS` parsed."""
        every = values.get("every")
        return cls(
            every=every if isinstance(every, float) else None,
            auto=every == "auto",
            names=values.get("vars"),  # type: ignore[arg-type]
            exclude=values.get("exclude", ()),  # type: ignore[arg-type]
            keep=values.get("keep"),  # type: ignore[arg-type]
            resume=bool(values.get("resume", True)),
        )


def parse_cell_options(line: str) -> CellOptions:
    """Parse the arguments of ``%%checkpoint``; raise OptionError with an example if bad."""
    return CellOptions.from_values(CHECKPOINT_OPTIONS.parse(line))


class HelpShown(Exception):
    """``--help`` was printed; the magic has nothing else to do."""


class LineParser(argparse.ArgumentParser):
    """argparse for line magics: ``--help`` prints and raises HelpShown, mistakes UsageError."""

    def __init__(self, *args: Any, usage_hint: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usage_hint = usage_hint  # appended to every error, e.g. "usage: %condor ..."

    def error(self, message: str) -> Any:
        """A mistake in the line: IPython shows a UsageError without a traceback."""
        from IPython.core.error import UsageError

        hint = f"; {self.usage_hint}" if self.usage_hint else ""
        raise UsageError(f"{self.prog}: {message}{hint}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        """argparse is done (after ``--help``): never leave the kernel."""
        if message:
            print(message)
        raise HelpShown


def parse_line(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace | None:
    """Parse a line magic's arguments; None when ``--help`` was shown."""
    try:
        return parser.parse_args(line.split())
    except HelpShown:
        return None


def parse_cell_line(table: OptionTable, line: str) -> dict[str, object] | None:
    """Parse a cell magic's options, or print ``--help`` and return None; UsageError if bad."""
    if table.wants_help(line):
        print(table.help())
        return None
    try:
        return table.parse(line)
    except OptionError as exc:
        from IPython.core.error import UsageError

        raise UsageError(str(exc)) from None
