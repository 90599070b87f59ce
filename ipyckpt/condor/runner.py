"""The job side of a ``%%condor`` cell: ``python -m ipyckpt.condor.runner`` in the job's sandbox.

Restores the inputs (or the newest checkpoint, after a restart), runs the cell with the
consistent points of :mod:`ipyckpt.safepoints`, and follows HTCondor's self-checkpointing
contract: when ``every`` has elapsed it writes a checkpoint (an :class:`ipyckpt.Store` in
``ipyckpt-ckpt/``, atomic) and exits 85; HTCondor uploads that directory and starts the runner
again, which resumes from it. On SIGTERM (eviction) it checkpoints at the next consistent point
if that comes within the grace time, then exits. On success it writes the outputs and exits 0;
an exception in the cell ends the job with exit 1 and a signed result holding the traceback.
"""

from __future__ import annotations

import builtins
import linecache
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from ipyckpt.cells import ResumeInfo, TerminationHandler, exit_now, run_cell
from ipyckpt.condor import bootstrap, restart
from ipyckpt.condor import payload as p
from ipyckpt.exitcodes import (
    EXIT_BAD_PAYLOAD,
    EXIT_CHECKPOINT,
    EXIT_NO_PROGRESS,
    EXIT_OK,
    EXIT_USER_ERROR,
)
from ipyckpt.namespace import select_names
from ipyckpt.safepoints import ResumePoint, SafepointRuntime, instrument
from ipyckpt.store.errors import IpyckptError


def _say(message: str) -> None:
    print(f"ipyckpt job: {message}", file=sys.stderr, flush=True)


class CellJob:
    """One run of the runner in its sandbox."""

    def __init__(self, spec: dict[str, Any], key: bytes, sandbox: Path) -> None:
        self.spec = spec
        self.key = key
        self.sandbox = sandbox
        self.ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.cell = instrument(spec["code"])
        self.filename = f"<cell {spec['name']}>"
        self.fallbacks = 0  # consecutive runs that could not use their newest checkpoint
        # eviction: checkpoint at the next consistent point within the grace time, else exit
        self.termination = TerminationHandler(
            grace=lambda: float(self.spec.get("grace", 30)), trigger="eviction"
        )

    def restore(self) -> ResumePoint | None:
        """Fill the namespace from the newest usable checkpoint, else from the inputs."""
        start = restart.starting_point(self.sandbox, self.key, _say)
        self.ns.update(start.values)
        self.fallbacks = start.fallbacks
        resume = ResumeInfo.from_info(start.info) if start.generation is not None else None
        if resume is not None and resume.cell == self.cell.source_hash:
            _say(f"resuming from checkpoint {start.generation} at {resume.where}")
            return resume.position
        return None

    def on_snapshot(self, position: ResumePoint, trigger: str) -> None:
        """Write a checkpoint at a consistent point, then exit 85 for HTCondor to transfer it."""
        names = select_names(self.ns).names
        resume = ResumeInfo.at(self.cell, position)
        info = resume.to_info() | {"versions": p.versions(), "fallbacks": self.fallbacks}
        ckpt = p.store(self.sandbox / p.CHECKPOINT, self.key)
        report = ckpt.save({n: self.ns[n] for n in names}, trigger=trigger, info=info)
        where = resume.where
        _say(f"checkpoint {report.generation} ({trigger}) at {where}: exiting {EXIT_CHECKPOINT}")
        exit_now(EXIT_CHECKPOINT)

    def run(self) -> int:
        """Run the cell to its end (or to the next checkpoint exit); return the exit code."""
        resume = self.restore()
        cell = instrument(self.spec["code"], resume=resume) if resume else self.cell
        every = self.spec.get("every")
        runtime = SafepointRuntime(
            interval=float(every) if every else None, on_snapshot=self.on_snapshot, resume=resume
        )
        self.termination.install()
        source = self.spec["code"]
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)
        try:
            value = run_cell(cell, self.ns, runtime, filename=self.filename)
        except Exception as exc:
            return self.failed(exc)
        return self.succeeded(value)

    def failed(self, exc: BaseException) -> int:
        """Report the cell's exception (traceback without the runner's frames)."""
        tb = _from_cell(exc.__traceback__, self.filename)
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        print(text, file=sys.stderr, flush=True)
        body = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": text,
            "versions": p.versions(),
        }
        p.write_sealed(self.sandbox / p.RESULT, self.key, body)
        return EXIT_USER_ERROR

    def succeeded(self, value: object) -> int:
        """Write the returned variables and the result document."""
        names = [n for n in self.spec["returns"] if n in self.ns]
        out = p.store(self.sandbox / p.OUTPUTS, self.key, keep=1)
        info = {"versions": p.versions()}
        report = out.save({n: self.ns[n] for n in names}, trigger="end", info=info)
        body = {
            "status": "ok",
            "outputs": sorted(n for n in names if n not in report.skipped),
            "skipped": dict(report.skipped),
            "not_defined": [n for n in self.spec["returns"] if n not in self.ns],
            "value": None if value is None else repr(value)[:2000],
            "versions": p.versions(),
        }
        p.write_sealed(self.sandbox / p.RESULT, self.key, body)
        _say(f"done: {len(names)} variable(s) returned")
        return EXIT_OK


def _from_cell(tb: TracebackType | None, filename: str) -> TracebackType | None:
    """The traceback from the cell's first frame on (the runner's own frames are noise)."""
    here = tb
    while here is not None and here.tb_frame.f_code.co_filename != filename:
        here = here.tb_next
    return here or tb


def main() -> int:
    """Entry point (also called by the bootstrap script); returns the exit code."""
    sandbox = Path.cwd()
    bootstrap.ensure_transfer_files()
    key = p.read_key(sandbox / p.KEY)
    try:
        spec = p.unseal(key, (sandbox / p.SPEC).read_bytes(), "the job spec")
        problem = p.version_problem(spec["versions"], f"the execute node ({sys.executable})")
        if problem:
            raise p.VersionMismatch(problem)
        return CellJob(spec, key, sandbox).run()
    except restart.NoProgress as exc:
        _say(str(exc))
        body = {"status": "no-progress", "message": str(exc), "versions": p.versions()}
        p.write_sealed(sandbox / p.RESULT, key, body)
        return EXIT_NO_PROGRESS
    except IpyckptError as exc:
        _say(str(exc))
        body = {"status": "bad-payload", "message": str(exc), "versions": p.versions()}
        p.write_sealed(sandbox / p.RESULT, key, body)
        return EXIT_BAD_PAYLOAD


if __name__ == "__main__":
    sys.exit(main())
