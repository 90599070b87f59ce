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
import json
import linecache
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from ipyckpt.cells import ResumeInfo, TerminationHandler, exit_now, run_cell
from ipyckpt.condor import bootstrap, restart
from ipyckpt.condor import notebook as nb
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
from ipyckpt.store import fsio
from ipyckpt.store.errors import IpyckptError


def _say(message: str) -> None:
    print(f"ipyckpt job: {message}", file=sys.stderr, flush=True)


class CellJob:
    """One run of the runner in its sandbox: a cell, or a notebook's code cells in turn.

    A notebook job keeps one namespace for all its cells and one checkpoint interval across
    them; its checkpoints also record which cell runs (``nb_cell``) and the outputs so far.
    """

    def __init__(self, spec: dict[str, Any], key: bytes, sandbox: Path) -> None:
        self.spec = spec
        self.key = key
        self.sandbox = sandbox
        self.ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.notebook: dict[str, Any] | None = spec.get("notebook")
        self.sources = nb.code_cells(self.notebook) if self.notebook else [spec["code"]]
        self.index = 0  # the cell running (or, between cells, the next one)
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.cell = self._instrument(0)
        self.fallbacks = 0  # consecutive runs that could not use their newest checkpoint
        self.ready = False  # the namespace is restored: a snapshot now is consistent
        every = spec.get("every")
        self.interval = float(every) if every else None
        self.deadline = float("inf")
        # eviction: checkpoint at the next consistent point within the grace time, else exit
        self.termination = TerminationHandler(
            grace=lambda: float(self.spec.get("grace", 30)),
            snapshot_idle=self._between_cells,
            trigger="eviction",
        )

    def _python(self, i: int) -> str:
        return nb.to_python(self.sources[i]) if self.notebook else self.sources[i]

    def _instrument(self, i: int, resume: ResumePoint | None = None) -> Any:
        return instrument(self._python(i), resume=resume) if i < len(self.sources) else None

    def _filename(self, i: int) -> str:
        return (
            f"<cell {self.spec['name']}:{i + 1}>"
            if self.notebook
            else f"<cell {self.spec['name']}>"
        )

    def restore(self) -> ResumePoint | None:
        """Fill the namespace from the newest usable checkpoint, else from the inputs."""
        start = restart.starting_point(self.sandbox, self.key, _say)
        self.ns.update(start.values)
        self.fallbacks = start.fallbacks
        info = start.info if start.generation is not None else {}
        self.index = min(max(0, int(info.get("nb_cell", 0))), len(self.sources))
        if self.notebook:
            self.outputs = dict(info.get("outputs", {}))
            nb.shell_for(self.ns)  # magics in cells (%time, !ls) run in this namespace
            exec(nb.imports_of([self._python(i) for i in range(self.index)]), self.ns)
        self.cell = self._instrument(self.index)
        resume = ResumeInfo.from_info(info)
        if resume is not None and self.cell is not None and resume.cell == self.cell.source_hash:
            _say(f"resuming from checkpoint {start.generation} at {resume.where}")
            return resume.position
        if start.generation is not None and self.notebook:
            _say(f"resuming from checkpoint {start.generation} before cell {self.index + 1}")
        return None

    def _save(self, trigger: str, info: dict[str, Any]) -> None:
        """Write a checkpoint, then exit 85 for HTCondor to transfer it."""
        names = select_names(self.ns).names
        info |= {"versions": p.versions(), "fallbacks": self.fallbacks, "nb_cell": self.index}
        if self.notebook:
            info["outputs"] = self.outputs
        ckpt = p.store(self.sandbox / p.CHECKPOINT, self.key)
        report = ckpt.save({n: self.ns[n] for n in names}, trigger=trigger, info=info)
        where = f"at {info['where']}" if info.get("where") else f"before cell {self.index + 1}"
        _say(f"checkpoint {report.generation} ({trigger}) {where}: exiting {EXIT_CHECKPOINT}")
        exit_now(EXIT_CHECKPOINT)

    def on_snapshot(self, position: ResumePoint, trigger: str) -> None:
        """A consistent point inside a cell: checkpoint there and exit 85."""
        self._save(trigger, ResumeInfo.at(self.cell, position).to_info())

    def _between_cells(self, trigger: str) -> None:
        """SIGTERM (or the interval) between two cells: checkpoint before the next one."""
        if self.ready:
            self._save(trigger, {})

    def run(self) -> int:
        """Run the cell(s) to the end (or to the next checkpoint exit); return the exit code."""
        resume = self.restore()
        self.ready = True
        self.termination.install()
        self.deadline = time.monotonic() + self.interval if self.interval else float("inf")
        value = None
        for i in range(self.index, len(self.sources)):
            self.index = i
            try:
                value = self._run_one(i, resume)
            except Exception as exc:
                return self.failed(exc)
            resume, self.index = None, i + 1
            if time.monotonic() >= self.deadline and self.index < len(self.sources):
                self._between_cells("periodic")
        return self.succeeded(value)

    def _run_one(self, i: int, resume: ResumePoint | None) -> Any:
        """Run cell ``i`` (resumed at ``resume``); record its outputs in a notebook job."""
        self.cell = self._instrument(i, resume)
        runtime = SafepointRuntime(
            interval=self.interval, on_snapshot=self.on_snapshot, resume=resume
        )
        runtime.deadline = min(runtime.deadline, self.deadline)  # one interval across cells
        source, filename = self._python(i), self._filename(i)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        if not self.notebook:
            return run_cell(self.cell, self.ns, runtime, filename=filename)
        outputs = self.outputs.setdefault(str(i), [])
        with nb.capturing(outputs):
            value = run_cell(self.cell, self.ns, runtime, filename=filename)
        if value is not None:
            outputs.append(nb.value_output(value, i + 1))
        return value

    def failed(self, exc: BaseException) -> int:
        """Report the cell's exception (traceback without the runner's frames)."""
        tb = _from_cell(exc.__traceback__, self._filename(self.index))
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        print(text, file=sys.stderr, flush=True)
        if self.notebook:
            self.outputs.setdefault(str(self.index), []).append(nb.error_output(exc, text))
            self._write_notebook()
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
        if self.notebook:
            self._write_notebook()
        p.write_sealed(self.sandbox / p.RESULT, self.key, body)
        _say(f"done: {len(names)} variable(s) returned")
        return EXIT_OK

    def _write_notebook(self) -> None:
        """The executed notebook, for HTCondor to bring back beside the original."""
        assert self.notebook is not None
        data = json.dumps(nb.executed(self.notebook, self.outputs), indent=1).encode()
        fsio.atomic_write_bytes(self.sandbox / p.EXECUTED, data, self.sandbox)


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
