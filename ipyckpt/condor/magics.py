"""``%%condor`` (a cell as an HTCondor job, or a sweep of jobs) and ``%condor status|wait|...``.

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

SUBCOMMANDS = ("status", "wait", "fetch", "log", "rm", "vacate", "hold", "release")


def _line_parser() -> argparse.ArgumentParser:
    parser = LineParser(
        prog="%condor",
        description="Follow this notebook's HTCondor jobs (default: the newest job).",
        usage_hint=f"usage: %condor {'|'.join(SUBCOMMANDS)} [NAME]",
    )
    parser.add_argument("command", choices=SUBCOMMANDS, help="what to do with the job")
    parser.add_argument("name", nargs="?", help="a job, a sweep or SWEEP/N (default: the newest)")
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

    transfer_on_evict = Bool(
        True,
        help="Transfer the checkpoint a job writes when evicted (when_to_transfer_output = "
        "ON_EXIT_OR_EVICT), so an eviction loses less work.",
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
        from ipyckpt.condor.record import jobs_root

        try:
            store = self.session.store()
        except NoStoreError as exc:
            raise UsageError(str(exc)) from None
        return jobs_root(store.directory)

    @cell_magic
    @CONDOR_OPTIONS.document
    def condor(self, line: str, cell: str) -> Any:
        """Run this cell as a self-checkpointing HTCondor job (or a sweep); returns at once.

        Inputs default to the variables the cell reads, returns to those it assigns. Then
        ``%condor wait``, ``%condor fetch`` puts the returned variables into the notebook.
        ``map``: one job per combination of ``a`` and ``b`` (or per element of the list, dict or
        DataFrame NAME), all in one cluster; ``%condor fetch`` then gathers their results.
        ``%%condor --help`` lists the options.
        """
        from ipyckpt.condor.sweep import grid_items, items_from, split_map_line

        ns = self.shell.user_ns  # type: ignore[union-attr]
        keys = [option.key for option in CONDOR_OPTIONS.options]
        try:
            rest, grid = split_map_line(line, keys)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        values = parse_cell_line(CONDOR_OPTIONS, rest)
        if values is None:
            return None
        o = CondorOptions(**values)  # type: ignore[arg-type]
        try:
            items = grid_items(grid) if grid else None
            if o.map is not None:
                if o.map not in ns:
                    raise ValueError(f"map={o.map}: no variable {o.map!r} in this notebook")
                items = items_from(ns[o.map], o.map)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if (o.backend or self.backend) == "local":
            print("ipyckpt: backend=local is an emulation of an HTCondor slot on this machine")
        try:
            job = self._submit(self.shell.transform_cell(cell), o, items)  # type: ignore[union-attr]
        except ValueError as exc:  # a name in use, image= with backend=local, ...
            raise UsageError(str(exc)) from None
        if self.live_status:
            _LiveStatus(job).start()
        return None

    def _submit(self, code: str, o: Any, items: list[Any] | None) -> Any:
        """Submit one cell job, or a sweep when ``items`` are given."""
        from ipyckpt.condor.api import submit_cell, submit_sweep
        from ipyckpt.condor.description import Resources

        defaults = Resources()
        settings = {
            "every": o.every or parse_duration(self.default_every),
            "resources": Resources(
                cpus=o.request_cpus or defaults.cpus,
                memory=o.request_memory or defaults.memory,
                disk=o.request_disk or defaults.disk,
                gpus=o.request_gpus or defaults.gpus,
            ),
            "image": o.image,
            "max_retries": self.max_retries if o.max_retries is None else o.max_retries,
            "backend": o.backend or self.backend,
            "vacate_time": self.vacate_time,
            "transfer_on_evict": (
                self.transfer_on_evict if o.transfer_on_evict is None else o.transfer_on_evict
            ),
        }
        ns = self.shell.user_ns  # type: ignore[union-attr]
        where = {
            "jobs_dir": self.jobs_dir(),
            "name": o.name,
            "inputs": o.vars,
            "returns": o.returns,
        }
        if items is not None:
            return submit_sweep(code, ns, items, **where, **settings)
        return submit_cell(code, ns, **where, **settings)

    @line_magic("condor")  # type: ignore[arg-type]
    def condor_line(self, line: str) -> Any:
        """%condor status|wait|fetch|log|rm|vacate|hold|release [NAME] [--timeout S].

        NAME is a job, a sweep, or ``SWEEP/N`` (job N of a sweep); default: the newest.
        """
        args = parse_line(self._parser, line)
        if args is None:
            return None
        from ipyckpt.condor import api
        from ipyckpt.condor.record import NoSuchJob

        try:
            if args.command == "status":
                return self._do_status(args)
            job = api.find(self.jobs_dir(), args.name)
            actions = {
                "wait": self._do_wait,
                "fetch": self._do_fetch,
                "log": self._do_log,
                "rm": self._do_rm,
                "vacate": self._do_vacate,
                "hold": self._do_hold,
                "release": self._do_release,
            }
            return actions[args.command](job, args)
        except (ValueError, NoSuchJob) as exc:
            raise UsageError(str(exc)) from None

    def _do_status(self, args: argparse.Namespace) -> Any:
        from ipyckpt.condor import api
        from ipyckpt.condor.sweep import Sweep
        from ipyckpt.condor.table import StatusTable

        found = [api.find(self.jobs_dir(), args.name)] if args.name else None
        if found is None:
            found = [api.find(self.jobs_dir(), r.name) for r in _records(self.jobs_dir())]
        jobs = [j for f in found for j in (f.jobs if isinstance(f, Sweep) else [f])]
        return StatusTable(jobs)

    def _do_wait(self, job: Any, args: argparse.Namespace) -> None:
        job.wait(timeout=args.timeout)
        print(job)
        for one in getattr(job, "jobs", [job]):
            problem = one.problem()
            if problem:
                print(problem, file=sys.stderr)

    def _do_fetch(self, job: Any, args: argparse.Namespace) -> Any:
        from ipyckpt.condor.sweep import Sweep

        if isinstance(job, Sweep):
            return self._fetch_sweep(job)
        if job.record.notebook:  # a whole-notebook job (ipyckpt submit)
            print(f"ipyckpt: the executed notebook of {job.name} is {job.fetch_notebook()}")
            return None
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
        return None

    def _fetch_sweep(self, sweep: Any) -> Any:
        """Gather a sweep's results (returned, so ``r = %condor fetch NAME``); list failures."""
        results = sweep.fetch()
        text = f"ipyckpt: fetched {len(results)} of {len(sweep.jobs)} jobs of {sweep.name}"
        text += " (a dict keyed by parameters; .frame() gives a DataFrame)"
        for key, error in results.errors.items():
            text += f"\n  {key!r}: {error}"
        print(text)
        return results

    def _do_log(self, job: Any, args: argparse.Namespace) -> None:
        for one in getattr(job, "jobs", [job])[:1]:
            print(one.log(), end="")

    def _act(self, job: Any, verb: str, allowed: tuple[str, ...], why: str, done: str) -> None:
        """Apply ``verb`` to the job (or every job of a sweep) whose state is in ``allowed``."""
        for one in getattr(job, "jobs", [job]):
            status = one.status()
            if status.state not in allowed:
                print(f"ipyckpt: {one.name} {why} ({status}); nothing to {verb}")
                continue
            getattr(one, verb)()
            print(f"ipyckpt: asked to {verb} {one.name}{done}")

    def _do_rm(self, job: Any, args: argparse.Namespace) -> None:
        alive = ("idle", "running", "held", "lost", "unknown")
        self._act(job, "remove", alive, "has already ended", "")

    def _do_vacate(self, job: Any, args: argparse.Namespace) -> None:
        done = "; it restarts from its last checkpoint"
        self._act(job, "vacate", ("running",), "is not running", done)

    def _do_hold(self, job: Any, args: argparse.Namespace) -> None:
        done = "; %condor release restarts it from its last checkpoint"
        self._act(job, "hold", ("idle", "running"), "is neither idle nor running", done)

    def _do_release(self, job: Any, args: argparse.Namespace) -> None:
        done = "; it restarts from its last checkpoint"
        self._act(job, "release", ("held",), "is not held", done)


def _records(root: Path) -> list[Any]:
    from ipyckpt.condor.record import list_records

    return list_records(root)


class _LiveStatus(threading.Thread):
    """Keeps one status line of a job (or sweep) up to date until it finishes or is held."""

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
                statuses = [one.status() for one in getattr(self.job, "jobs", [self.job])]
                text = repr(self.job)
            except (OSError, IpyckptError):
                return
            if text != self.text:
                self.text = text
                self.handle.update({"text/plain": text}, raw=True)
            if all(s.finished or s.state in ("held", "lost") for s in statuses):
                return
            time.sleep(self.poll)
