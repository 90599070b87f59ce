"""The ``%checkpoint`` line magic's subcommands: their parser and one small function each.

:data:`SUBCOMMANDS` maps each subcommand to its function; :func:`run_subcommand` parses a line
and calls it. Each function takes the notebook's :class:`~ipyckpt.session.StateSession` and the
parsed arguments, prints its report, and may return a value for IPython to display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ipyckpt.location import check_store_name
from ipyckpt.magicargs import LineParser, parse_line
from ipyckpt.session import StateSession
from ipyckpt.store.reports import format_bytes
from ipyckpt.tables import GenerationTable


def do_save(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint save [names]``."""
    undefined = [n for n in args.names if n not in session.user_ns]
    if undefined and len(undefined) == len(args.names):
        raise ValueError(
            f"not saving: {', '.join(undefined)} {'is' if len(undefined) == 1 else 'are'} not "
            "defined (`%checkpoint save` without names saves every variable)"
        )
    if undefined:
        print(f"ipyckpt: {', '.join(undefined)}: not defined, recorded as deleted")
    names = args.names or session.tracked_names()
    report = session.save(names, trigger="manual", partial=bool(args.names))
    print(report)


def do_restore(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint restore [--generation N | --cell N] [names] [--trust] [--recompute]``.

    Overwrites current values. ``--cell N`` brings back the state right after cell [N]
    (variables made later are removed); newer generations stay in the store.
    """
    from ipyckpt.kernel.timetravel import recompute_hint, recompute_missing, restore_to

    if args.cell is not None and args.generation is not None:
        raise ValueError("give either --cell or --generation, not both")
    outcome = restore_to(
        session, generation=args.generation, cell=args.cell, names=args.names, trust=args.trust
    )
    print(outcome.summary())
    hint = recompute_hint(session, outcome)
    if hint and not args.recompute:
        print(hint)
    if args.recompute:
        for line, is_error in recompute_missing(session, outcome).lines():
            print(line, file=sys.stderr if is_error else sys.stdout)


def do_list(session: StateSession, args: argparse.Namespace) -> GenerationTable:
    """``%checkpoint list``."""
    store = session.store()
    return GenerationTable(store.generations(), str(store.directory))


def do_status(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint status``: store location, last save (size, time, throughput), last restore."""
    print(f"store: {session.location or 'none (use %checkpoint name NAME)'}")
    from ipyckpt.kernel.timetravel import protection_line

    print(protection_line(session))
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
        print(f"re-running the checkpointed cell resumes at {session.pending_resume.resume.where}")


def do_verify(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint verify``."""
    print(session.store().verify())


def do_diff(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint diff [GEN]``: which variables are new, deleted or changed since a generation."""
    from ipyckpt.diffing import diff_namespace

    report = session.store().load(args.generation)
    print(
        diff_namespace(report.values, session.user_ns, session.tracked_names(), report.generation)
    )


def do_clear(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint clear --yes``: delete this notebook's store."""
    store = session.store()
    if not args.yes:
        print(
            f"this deletes every state checkpoint in {store.directory}; run `%checkpoint clear --yes`"
        )
        return
    store.destroy()  # only what ipyckpt created: files the user put there stay
    session.pending_resume = None
    session.last_save = None  # nothing is tracked any more: no shutdown snapshot
    session.emit("cleared")  # JupyterLab's status bar and panel show it at once
    session.last_saved_at = None
    session.autosave.forget_snapshots()  # autosave starts again with the next change
    print(f"deleted {store.directory}")


def do_name(session: StateSession, args: argparse.Namespace) -> None:
    """``%checkpoint name NAME``: name this notebook's store (kernels without a notebook path)."""
    session.name = check_store_name(args.name)
    print(f"state checkpoints of this notebook: {session.location}")


Subcommand = Callable[[StateSession, argparse.Namespace], Any]

SUBCOMMANDS: dict[str, Subcommand] = {
    "save": do_save,
    "restore": do_restore,
    "list": do_list,
    "status": do_status,
    "verify": do_verify,
    "diff": do_diff,
    "clear": do_clear,
    "name": do_name,
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``%checkpoint`` line (one sub-parser per entry of SUBCOMMANDS)."""
    parser = LineParser(prog="%checkpoint", description="Manage this notebook's state checkpoints.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=LineParser, metavar="SUBCOMMAND"
    )
    p = sub.add_parser("save", help="save the notebook's variables now (or only NAMES)")
    p.add_argument("names", nargs="*")
    p = sub.add_parser("restore", help="restore the newest good state checkpoint (or a generation)")
    p.add_argument("names", nargs="*")
    p.add_argument("--generation", "-g", type=int, default=None)
    p.add_argument("--trust", action="store_true", help="load even if not signed by your key")
    p.add_argument("--cell", "-c", type=int, default=None, help="the state right after cell [N]")
    p.add_argument(
        "--recompute",
        action="store_true",
        help="then re-run the cells that made the variables that could not be stored",
    )
    sub.add_parser("list", help="list the generations, newest first")
    sub.add_parser("status", help="where the store is, last save and last restore")
    sub.add_parser("verify", help="check every manifest, signature and blob")
    p = sub.add_parser("diff", help="which variables changed since a generation (default newest)")
    p.add_argument("generation", nargs="?", type=int)
    p = sub.add_parser("clear", help="delete this notebook's state checkpoints")
    p.add_argument("--yes", action="store_true", help="really delete them")
    p = sub.add_parser(
        "name", help="name this notebook's store (for kernels without a notebook path)"
    )
    p.add_argument("name")
    return parser


def run_subcommand(parser: argparse.ArgumentParser, session: StateSession, line: str) -> Any:
    """Parse a ``%checkpoint`` line and run its subcommand (the magic reports errors in one line)."""
    args = parse_line(parser, line)
    if args is None:
        return None
    return SUBCOMMANDS[args.command](session, args)
