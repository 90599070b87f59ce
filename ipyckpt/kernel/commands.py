"""The subcommands of the ``%checkpoint`` line magic (one small function each)."""

from __future__ import annotations

import argparse
import shutil
from typing import TYPE_CHECKING, Any

from ipyckpt.namespace import select_names
from ipyckpt.store.reports import GenerationInfo, format_age, format_bytes

if TYPE_CHECKING:
    from ipyckpt.kernel.magics import Checkpointer


def tracked_names(magics: Checkpointer) -> list[str]:
    """The user's variables, as ``%%checkpoint`` without ``vars=`` would save them."""
    shell: Any = magics.shell
    return list(select_names(shell.user_ns, hidden=shell.user_ns_hidden).names)


def do_save(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint save [names]``."""
    names = args.names or tracked_names(magics)
    report = magics.session.save(names, trigger="manual", partial=bool(args.names))
    print(report)


def do_restore(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint restore [--generation N] [names] [--trust]``: overwrites current values."""
    outcome = magics.session.restore(
        generation=args.generation, names=args.names or None, trust=args.trust
    )
    print(outcome.summary())


def _rows(infos: list[GenerationInfo]) -> list[list[str]]:
    return [
        [
            str(g.id),
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


_HEADER = ["generation", "taken", "trigger", "variables", "size", "duration", "skipped", "status"]


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


def do_list(magics: Checkpointer, args: argparse.Namespace) -> GenerationTable:
    """``%checkpoint list``."""
    store = magics.session.store()
    return GenerationTable(store.generations(), str(store.directory))


def do_status(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint status``: store location, last save (size, time, throughput), last restore."""
    session = magics.session
    print(f"store: {session.location or 'none (use %checkpoint name NAME)'}")
    save = session.last_save
    if save is not None:
        rate = save.bytes_written / save.seconds if save.seconds > 0 else 0.0
        print(
            f"last save: generation {save.generation} ({save.trigger}), {len(save.saved)} variables, "
            f"{format_bytes(save.bytes_total)} in all, {format_bytes(save.bytes_written)} written in "
            f"{save.seconds:.2f} s ({format_bytes(rate)}/s)"
        )
        if save.skipped:
            print("  skipped: " + "; ".join(f"{n}: {r}" for n, r in sorted(save.skipped.items())))
    if session.last_restore is not None:
        print("last restore: " + session.last_restore.summary().removeprefix("ipyckpt: "))
    if session.pending_resume is not None:
        print(f"re-running the checkpointed cell resumes at {session.pending_resume.description}")


def do_verify(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint verify``."""
    print(magics.session.store().verify())


def do_diff(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint diff [GEN]``: which variables are new, deleted or changed since a generation."""
    from ipyckpt.diffing import diff_namespace

    store = magics.session.store()
    report = store.load(args.generation)
    shell: Any = magics.shell
    print(diff_namespace(report.values, shell.user_ns, tracked_names(magics), report.generation))


def do_clear(magics: Checkpointer, args: argparse.Namespace) -> None:
    """``%checkpoint clear --yes``: delete this notebook's store."""
    store = magics.session.store()
    if not args.yes:
        print(
            f"this deletes every state checkpoint in {store.directory}; run `%checkpoint clear --yes`"
        )
        return
    shutil.rmtree(store.directory, ignore_errors=True)
    magics.session.pending_resume = None
    magics.session.last_save = None  # nothing is tracked any more: no shutdown snapshot
    print(f"deleted {store.directory}")


def do_name(magics: Checkpointer, args: argparse.Namespace) -> Any:
    """``%checkpoint name NAME``."""
    magics.set_name(args.name)
    print(f"state checkpoints of this notebook: {magics.session.location}")
