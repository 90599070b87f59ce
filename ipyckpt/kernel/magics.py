"""``%%checkpoint`` and ``%checkpoint``: argument parsing, configuration, notebook output.

The magics stay thin: they parse, delegate to :mod:`ipyckpt.session` / :mod:`ipyckpt.kernel.cellrun`,
and report. Settings are traitlets of :class:`Checkpointer` (``c.Checkpointer.keep = 5`` in
``ipython_config.py``, or ``%config Checkpointer.keep = 5``).
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Int, Unicode, validate

from ipyckpt import background
from ipyckpt.autosave import DEFAULT_INTERVAL, parse_autosave
from ipyckpt.durations import parse_duration
from ipyckpt.kernel.cellrun import CellSettings, prepare_cell
from ipyckpt.kernel.commands import build_parser, run_subcommand
from ipyckpt.kernel.usage import one_line_errors
from ipyckpt.magicargs import CHECKPOINT_OPTIONS, CellOptions, parse_cell_line
from ipyckpt.session import StateSession
from ipyckpt.store.retention import DEFAULT_BUDGET, parse_budget, tiered


@magics_class
class Checkpointer(Magics):
    """State checkpoints of this notebook's variables (``%%checkpoint``, ``%checkpoint``)."""

    directory = Unicode(
        "",
        help="Folder holding the notebooks' state checkpoint stores (one per notebook). "
        "Default: a .ipyckpt folder beside the notebook. IPYCKPT_STORE overrides it with an "
        "exact store directory, for batch jobs.",
    ).tag(config=True)
    keep = Int(
        3,
        help="The newest generations always kept. Older ones are thinned with age (all of the "
        "last hour, one per hour for a day, one per day for a week) within Checkpointer.budget; "
        "%%checkpoint keep=N keeps exactly the newest N.",
    ).tag(config=True)
    budget = Unicode(
        DEFAULT_BUDGET,
        help="Disk budget of a notebook's state checkpoints: a multiple of the state's size "
        "(3x), a size (2GB), or off. The newest generations are kept even beyond it.",
    ).tag(config=True)
    autosave = Unicode(
        DEFAULT_INTERVAL,
        help="Snapshot the session after cells that changed state, at most this often (e.g. "
        "30s, 5m), and always after a cell that ran longer than this; off disables it.",
    ).tag(config=True)
    autorestore = Bool(
        True,
        help="Restore the newest good, signed state checkpoint when the extension loads in a "
        "fresh kernel. Never overwrites a variable already set in this kernel.",
    ).tag(config=True)
    default_every = Unicode(
        "1h",
        help="Snapshot interval of %%checkpoint when every= is not given (e.g. 30m, 1h); the "
        "cell keeps running after each snapshot. Not CondorMagics.default_every, which is how "
        "often a %%condor job checkpoints and restarts.",
    ).tag(config=True)
    mtbf = Unicode(
        "24h", help="Assumed mean time between failures, used by every=auto (Young/Daly)."
    ).tag(config=True)
    snapshot_deadline = Unicode(
        "",
        help="How long pickling one snapshot may take (e.g. 30m); past it the snapshot is "
        "abandoned with a line naming the variable and the cell goes on. Default: the larger "
        "of 10 minutes and 10 times the last snapshot.",
    ).tag(config=True)
    shutdown_grace = Int(
        30,
        help="Seconds a snapshot on SIGTERM or kernel shutdown may take before the kernel "
        "exits anyway (the previous checkpoint stays intact).",
    ).tag(config=True)

    background = Bool(
        True,
        help="Write in-cell (periodic) snapshots and autosaves in a forked child process while "
        "the cell goes on (Linux; the default). A snapshot is then published a moment after its "
        "consistent point, and one due while the previous is written is skipped. Off, or when "
        "fork is unsafe (GPU runtime loaded, too little free memory), snapshots are written "
        "in-process while the cell waits.",
    ).tag(config=True)

    @validate("keep")
    def _check_keep(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError("Checkpointer.keep must be at least 1")
        return int(proposal["value"])

    @validate("autosave")
    def _check_autosave(self, proposal: Any) -> str:
        parse_autosave(proposal["value"])
        return str(proposal["value"])

    @validate("budget")
    def _check_budget(self, proposal: Any) -> str:
        parse_budget(proposal["value"])
        return str(proposal["value"])

    @validate("default_every", "mtbf", "snapshot_deadline")
    def _check_duration(self, proposal: Any) -> str:
        if proposal["value"] or proposal["trait"].name != "snapshot_deadline":
            parse_duration(proposal["value"])
        return str(proposal["value"])

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = StateSession(
            shell.user_ns, hidden=shell.user_ns_hidden, folder=self.directory, keep=self.keep
        )
        self.cell_watcher: Any = None  # ipyckpt.kernel.autosave.CellWatcher, set by the extension
        self._forked = background.attach(self.session, enabled=self.background)
        names = ["directory", "keep", "snapshot_deadline", "budget", "background"]
        self.observe(self._sync_session, names=names)
        self._sync_session(None)
        self._parser = build_parser()

    def _sync_session(self, change: Any) -> None:
        self.session.folder = self.directory
        self.session.keep = self.keep
        deadline = self.snapshot_deadline
        self.session.snapshot_deadline = parse_duration(deadline) if deadline else None
        self.session.retention = tiered(parse_budget(self.budget), keep_newest=self.keep)
        self._forked.enabled = self.background

    def autosave_interval(self) -> float | None:
        """Seconds between autosaves (None: off)."""
        return parse_autosave(self.autosave)

    @cell_magic
    @CHECKPOINT_OPTIONS.document
    def checkpoint(self, line: str, cell: str) -> Any:
        """Run the cell, snapshotting the notebook's variables at consistent points.

        A snapshot is taken at the first consistent point after each interval (between the
        cell's top-level statements, at the start of each iteration of its top-level loops, or
        where the code calls ``ipyckpt.safepoint()``) and when the cell ends. After a restart,
        re-running the same cell resumes where the last snapshot was taken.
        ``%%checkpoint --help`` lists the options.
        """
        settings = CellSettings(default_every=self.default_every, mtbf=self.mtbf)
        with one_line_errors():  # ipyckpt's own work; the cell's exceptions stay the user's
            values = parse_cell_line(CHECKPOINT_OPTIONS, line)
            if values is None:
                return None
            options = CellOptions.from_values(values)
            prepared = prepare_cell(self.shell, self.session, cell, options, settings)
        return prepared.run()

    @line_magic("checkpoint")  # type: ignore[arg-type]
    def checkpoint_line(self, line: str) -> Any:
        """Manage state checkpoints: save, restore, list, status, verify, diff, clear, name.

        Run ``%checkpoint SUBCOMMAND --help`` for each subcommand's options.
        """
        with one_line_errors():
            return run_subcommand(self._parser, self.session, line)
