"""``%%condor`` (run a cell as an HTCondor job) and ``%condor status|wait|fetch|log|rm|vacate``.

Thin: parse, delegate to :mod:`ipyckpt.condor.api`, report. Settings are traitlets of
:class:`CondorMagics` (``c.CondorMagics.backend = "local"`` or ``%config``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Int, TraitError, Unicode, validate

from ipyckpt.condor.options import CONDOR_OPTIONS, CondorOptions
from ipyckpt.durations import parse_duration
from ipyckpt.magicargs import LineParser, parse_cell_line, parse_line
from ipyckpt.session import NoStoreError, StateSession
from ipyckpt.store.errors import IpyckptError

SUBCOMMANDS = ("status", "wait", "fetch", "log", "rm", "vacate")


def _line_parser() -> argparse.ArgumentParser:
    parser = LineParser(
        prog="%condor",
        description="Follow this notebook's HTCondor jobs (default: the newest job).",
        usage_hint=f"usage: %condor {'|'.join(SUBCOMMANDS)} [NAME]",
    )
    parser.add_argument("command", choices=SUBCOMMANDS, help="what to do with the job")
    parser.add_argument("name", nargs="?", help="the job (default: the newest)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds wait may take")
    return parser


@magics_class
class CondorMagics(Magics):
    """Notebook cells as self-checkpointing HTCondor jobs (``%%condor``, ``%condor``)."""

    backend = Unicode(
        "schedd",
        help="Where %%condor jobs go: 'schedd' (your HTCondor pool, needs "
        "pip install 'ipyckpt[condor]') or 'local' (an emulation on this machine).",
    ).tag(config=True)
    default_every = Unicode(
        "30m",
        help="How often a %%condor job checkpoints and exits 85 (HTCondor then restarts it from "
        "the checkpoint) when every= is not given. Not Checkpointer.default_every, the "
        "snapshot interval of %%checkpoint cells in this kernel.",
    ).tag(config=True)
    max_retries = Int(3, help="max_retries of the submitted jobs.").tag(config=True)
    vacate_time = Int(
        60, help="Seconds between SIGTERM and SIGKILL on eviction (job_max_vacate_time)."
    ).tag(config=True)
    live_status = Bool(
        True, help="After submitting, keep the job's status line up to date in the cell output."
    ).tag(config=True)

    @validate("backend")
    def _check_backend(self, proposal: Any) -> str:
        from ipyckpt.condor.options import check_backend

        try:
            return check_backend(str(proposal["value"]))
        except ValueError as exc:
            raise TraitError(f"CondorMagics.backend={proposal['value']}: {exc}") from None

    @validate("default_every")
    def _check_every(self, proposal: Any) -> str:
        parse_duration(proposal["value"])
        return str(proposal["value"])

    def __init__(
        self, shell: Any = None, session: StateSession | None = None, **kwargs: Any
    ) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = session or StateSession(shell.user_ns, hidden=shell.user_ns_hidden)
        self._parser = _line_parser()

    def jobs_dir(self) -> Path:
        """This notebook's job folder, beside its state checkpoints."""
        from ipyckpt.condor.jobs import jobs_root

        try:
            store = self.session.store()
        except NoStoreError as exc:
            raise UsageError(str(exc)) from None
        return jobs_root(store.directory)

    @cell_magic
    @CONDOR_OPTIONS.document
    def condor(self, line: str, cell: str) -> Any:
        """Run this cell as a self-checkpointing HTCondor job; returns at once.

        Inputs default to the variables the cell reads, returns to those it assigns. Then
        ``%condor wait``, ``%condor fetch`` puts the returned variables into the notebook.
        ``%%condor --help`` lists the options.
        """
        from ipyckpt.condor.api import submit_cell
        from ipyckpt.condor.submit import Resources

        values = parse_cell_line(CONDOR_OPTIONS, line)
        if values is None:
            return None
        o = CondorOptions(**values)  # type: ignore[arg-type]
        defaults = Resources()
        resources = Resources(
            cpus=o.request_cpus or defaults.cpus,
            memory=o.request_memory or defaults.memory,
            disk=o.request_disk or defaults.disk,
            gpus=o.request_gpus or defaults.gpus,
        )
        backend = o.backend or self.backend
        if backend == "local":
            print("ipyckpt: backend=local is an emulation of an HTCondor slot on this machine")
        try:
            job = submit_cell(
                self.shell.transform_cell(cell),  # type: ignore[union-attr]
                self.shell.user_ns,  # type: ignore[union-attr]
                jobs_dir=self.jobs_dir(),
                name=o.name,
                inputs=o.vars,
                returns=o.returns,
                every=o.every or parse_duration(self.default_every),
                resources=resources,
                image=o.image,
                max_retries=self.max_retries if o.max_retries is None else o.max_retries,
                backend=backend,
                vacate_time=self.vacate_time,
            )
        except ValueError as exc:  # a name in use, image= with backend=local, ...
            raise UsageError(str(exc)) from None
        if self.live_status:
            _LiveStatus(job).start()
        return None

    @line_magic("condor")  # type: ignore[arg-type]
    def condor_line(self, line: str) -> Any:
        """%condor status|wait|fetch|log|rm|vacate [NAME] [--timeout S] (default: newest job)."""
        args = parse_line(self._parser, line)
        if args is None:
            return None
        from ipyckpt.condor import api
        from ipyckpt.condor.jobs import NoSuchJob

        try:
            if args.command == "status":
                jobs = [api.get_job(self.jobs_dir(), args.name)] if args.name else None
                jobs = jobs or api.list_jobs(self.jobs_dir())
                for job in jobs:
                    print(job)
                if not jobs:
                    print("ipyckpt: this notebook has no HTCondor jobs (submit one with %%condor)")
                return None
            job = api.get_job(self.jobs_dir(), args.name)
            actions = {
                "wait": self._do_wait,
                "fetch": self._do_fetch,
                "log": self._do_log,
                "rm": self._do_rm,
                "vacate": self._do_vacate,
            }
            return actions[args.command](job, args)
        except (ValueError, NoSuchJob) as exc:
            raise UsageError(str(exc)) from None

    def _do_wait(self, job: Any, args: argparse.Namespace) -> None:
        job.wait(timeout=args.timeout)
        print(job)
        problem = job.problem()
        if problem:
            print(problem, file=sys.stderr)

    def _do_fetch(self, job: Any, args: argparse.Namespace) -> None:
        values = job.fetch()
        ns = self.shell.user_ns  # type: ignore[union-attr]
        replaced = sorted(n for n in values if n in ns and ns[n] is not values[n])
        ns.update(values)
        text = f"ipyckpt: fetched {len(values)} variable(s) from {job.name}: "
        text += ", ".join(sorted(values)) or "(none)"
        if replaced:
            text += f"\n  replaced your current values of: {', '.join(replaced)}"
        result = job.result() or {}
        for name, why in sorted(result.get("skipped", {}).items()):
            text += f"\n  not returned {name}: {why}"
        if result.get("value") is not None:
            text += f"\n  the cell's last expression was: {result['value']}"
        if result.get("not_defined"):
            text += f"\n  not defined at the end of the cell: {', '.join(result['not_defined'])}"
        print(text)

    def _do_log(self, job: Any, args: argparse.Namespace) -> None:
        print(job.log(), end="")

    def _do_rm(self, job: Any, args: argparse.Namespace) -> None:
        if job.status().finished:
            print(f"ipyckpt: {job.name} has already ended ({job.status()}); nothing to remove")
            return
        job.remove()
        print(f"ipyckpt: asked to remove {job.name}")

    def _do_vacate(self, job: Any, args: argparse.Namespace) -> None:
        if job.status().state != "running":
            print(f"ipyckpt: {job.name} is not running ({job.status()}); nothing to vacate")
            return
        job.vacate()
        print(f"ipyckpt: asked to vacate {job.name}; it restarts from its last checkpoint")


class _LiveStatus(threading.Thread):
    """Keeps one status line of a job up to date until the job finishes or is held."""

    def __init__(self, job: Any, poll: float = 1.0, limit: float = 86400.0) -> None:
        super().__init__(daemon=True, name=f"ipyckpt-condor-{job.name}")
        from IPython.display import display

        self.job, self.poll, self.limit = job, poll, limit
        self.text = repr(job)
        self.handle = display({"text/plain": self.text}, raw=True, display_id=True)  # type: ignore[no-untyped-call]

    def run(self) -> None:
        """Poll the job's log; update the line when it changes."""
        started = time.monotonic()
        while time.monotonic() - started < self.limit:
            try:
                status, text = self.job.status(), repr(self.job)
            except (OSError, IpyckptError):
                return
            if text != self.text:
                self.text = text
                self.handle.update({"text/plain": text}, raw=True)
            if status.finished or status.state in ("held", "lost"):
                return
            time.sleep(self.poll)
