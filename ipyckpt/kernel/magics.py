"""``%%checkpoint`` and ``%checkpoint``: argument parsing, configuration, notebook output.

The magics stay thin: they parse, delegate to :mod:`ipyckpt.session` / :mod:`ipyckpt.kernel.cellrun`,
and report. Settings are traitlets of :class:`Checkpointer` (``c.Checkpointer.keep = 5`` in
``ipython_config.py``, or ``%config Checkpointer.keep = 5``).
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Int, Unicode, validate

from ipyckpt.durations import parse_duration
from ipyckpt.options import OptionError, parse_cell_options
from ipyckpt.session import StateSession, check_store_name


class _HelpShown(Exception):
    """argparse printed ``--help``; nothing else to do."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            print(message)
        raise _HelpShown


def _line_parser() -> _Parser:
    parser = _Parser(prog="%checkpoint", description="Manage this notebook's state checkpoints.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="SUBCOMMAND"
    )
    p = sub.add_parser("save", help="save the notebook's variables now (or only NAMES)")
    p.add_argument("names", nargs="*")
    p = sub.add_parser("restore", help="restore the newest good state checkpoint (or a generation)")
    p.add_argument("names", nargs="*")
    p.add_argument("--generation", "-g", type=int, default=None)
    p.add_argument("--trust", action="store_true", help="load even if not signed by your key")
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


@magics_class
class Checkpointer(Magics):
    """State checkpoints of this notebook's variables (``%%checkpoint``, ``%checkpoint``)."""

    directory = Unicode(
        "",
        help="Folder holding the notebooks' state checkpoint stores (one per notebook). "
        "Default: a .ipyckpt folder beside the notebook. IPYCKPT_STORE overrides it with an "
        "exact store directory, for batch jobs.",
    ).tag(config=True)
    keep = Int(3, help="How many generations of state checkpoints to keep.").tag(config=True)
    autorestore = Bool(
        True,
        help="Restore the newest good, signed state checkpoint when the extension loads in a "
        "fresh kernel. Never overwrites a variable already set in this kernel.",
    ).tag(config=True)
    default_every = Unicode(
        "1h", help="Snapshot interval of %%checkpoint when every= is not given (e.g. 30m, 1h)."
    ).tag(config=True)
    mtbf = Unicode(
        "24h", help="Assumed mean time between failures, used by every=auto (Young/Daly)."
    ).tag(config=True)
    shutdown_grace = Int(
        30,
        help="Seconds a snapshot on SIGTERM or kernel shutdown may take before the kernel "
        "exits anyway (the previous checkpoint stays intact).",
    ).tag(config=True)

    @validate("keep")
    def _check_keep(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError("Checkpointer.keep must be at least 1")
        return int(proposal["value"])

    @validate("default_every", "mtbf")
    def _check_duration(self, proposal: Any) -> str:
        parse_duration(proposal["value"])
        return str(proposal["value"])

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = StateSession(shell.user_ns, folder=self.directory, keep=self.keep)
        self.observe(self._sync_session, names=["directory", "keep"])
        self._parser = _line_parser()

    def _sync_session(self, change: Any) -> None:
        self.session.folder = self.directory
        self.session.keep = self.keep

    @cell_magic
    def checkpoint(self, line: str, cell: str) -> Any:
        """Run the cell, snapshotting the notebook's variables at consistent points.

        %%checkpoint [every=DURATION|auto] [vars=a,b] [exclude=x,y] [keep=N] [resume=yes|no]

        A snapshot is taken at the first consistent point after each interval (between the
        cell's top-level statements, at the start of each iteration of its top-level loops, or
        where the code calls ``ipyckpt.safepoint()``) and when the cell ends. After a restart,
        re-running the same cell resumes where the last snapshot was taken. DURATION: 90, 30s,
        10m, 1h30m, 2d.
        """
        try:
            options = parse_cell_options(line)
        except OptionError as exc:
            raise UsageError(str(exc)) from None
        from ipyckpt.kernel.cellrun import run_checkpointed_cell

        return run_checkpointed_cell(self, cell, options)

    @line_magic("checkpoint")  # type: ignore[arg-type]
    def checkpoint_line(self, line: str) -> Any:
        """Manage state checkpoints: save, restore, list, status, verify, diff, clear, name.

        Run ``%checkpoint SUBCOMMAND --help`` for each subcommand's options.
        """
        try:
            args = self._parser.parse_args(line.split())
        except _HelpShown:
            return None
        from ipyckpt.kernel import commands

        try:
            return getattr(commands, f"do_{args.command}")(self, args)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def set_name(self, name: str) -> None:
        """Name this notebook's store (``%checkpoint name NAME``)."""
        self.session.name = check_store_name(name)
