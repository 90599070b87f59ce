"""``ipyckpt run``: execute a notebook headless, and survive its kernel dying.

The kernel is started the way Jupyter Server starts it for that notebook (``JPY_SESSION_NAME``
is the notebook's path, the working directory is the notebook's folder) and with
``IPYCKPT_STORE`` set to the notebook's store, so ``%%checkpoint`` cells save where JupyterLab
and ``ipyckpt list`` look for them. Cells run one by one through nbclient.

When the kernel dies (OOM killer, SIGKILL, a segfault), a new kernel is started, restores the
newest state checkpoint (``%load_ext ipyckpt``), re-runs the top-level imports of the cells it
skips (modules are not saved) and execution continues:

- from the interrupted cell, if a checkpoint was taken while it ran (a ``%%checkpoint`` cell
  then resumes where its snapshot was taken);
- else from the cell after the one that took the newest checkpoint of this run;
- else from the top, in a fresh kernel (nothing of this run was saved).

Variables come back; other kernel state (``sys.path`` edits, ``os.chdir``, other extensions
loaded by skipped cells) does not. After ``retries`` restarts the run gives up. The executed
notebook is written in every case (like papermill), with a note in each re-run cell.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.location import STORE_ENV, configured_folder, store_location
from ipyckpt.store.errors import IpyckptError
from ipyckpt.store.reports import plural

SESSION_ENV = "JPY_SESSION_NAME"
RESTORE_CODE = "%load_ext ipyckpt"
RUN_METADATA = "ipyckpt_run"  # in the output notebook: how far the run got


class NotebookRunError(IpyckptError):
    """The notebook could not be run to its end (a cell raised, or the kernel died too often)."""


@dataclass
class RunReport:
    """What :func:`run_notebook` did."""

    notebook: Path
    output: Path
    store: Path
    cells: int
    restarts: list[str] = field(default_factory=list)
    resumed: str = ""  # how an interrupted run was continued (resume=True)

    def __str__(self) -> str:
        text = f"ran {self.notebook.name}: {self.cells} code cells, output in {self.output}"
        if self.resumed:
            text += "; continued an interrupted run"
        if self.restarts:
            count = len(self.restarts)
            text += f"; the kernel died {plural(count, 'time')} and was restored"
        return text


def default_store(notebook: Path) -> Path:
    """The store a kernel of ``notebook`` uses (``IPYCKPT_STORE``, ``c.Checkpointer.directory``)."""
    location = store_location(notebook.absolute(), folder=configured_folder())
    assert location is not None  # a notebook path always has a store
    return location


def default_output(notebook: Path) -> Path:
    """``analysis.ipynb`` -> ``analysis.out.ipynb`` beside it (written after every cell)."""
    return notebook.with_name(notebook.stem + ".out.ipynb")


@dataclass
class _Progress:
    """Where a run is: the next cell to execute, and which cell took the newest checkpoint."""

    start: int = 0
    newest: int | None = None  # newest generation written by this run
    newest_cell: int | None = None  # the cell that wrote it
    restore: bool = False
    note: str = ""  # why the current kernel restored, shown in the first cell it runs

    def record(self, current: int, source: str, finished: bool) -> dict[str, Any]:
        """What the output notebook's metadata keeps, so that ``resume=True`` can continue."""
        return {
            "source": source,
            "current": current,
            "newest": self.newest,
            "newest_cell": self.newest_cell,
            "finished": finished,
        }


def _source_digest(nb: Any) -> str:
    """Identifies the code of a notebook: a run is resumed only for the same code."""
    import hashlib

    code = "\0".join(c.source for c in nb.cells if c.cell_type == "code")
    return hashlib.sha256(code.encode()).hexdigest()


def _newest_generation(store: Path) -> int | None:
    from ipyckpt.store import Store

    try:
        ids = Store(store).generation_ids()
    except (IpyckptError, OSError):
        return None
    return ids[0] if ids else None


def _imports(cells: list[Any]) -> list[str]:
    """The top-level import statements of ``cells``: modules are not saved in checkpoints."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell  # type: ignore[no-untyped-call]
    found: list[str] = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(transform(cell.source))
        except SyntaxError:
            continue
        found.extend(
            ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
        )
    return found


def run_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    retries: int = 3,
    timeout: int | None = None,
    kernel_name: str | None = None,
    store: str | os.PathLike[str] | None = None,
    on_kernel_start: Callable[[Any], None] | None = None,
    log: Callable[[str], None] | None = None,
    resume: bool = False,
) -> RunReport:
    """Execute ``notebook`` top to bottom, restoring and resuming when its kernel dies.

    ``output`` (default ``NAME.out.ipynb`` beside it) receives the executed notebook, also when
    a cell raises or the kernel died more than ``retries`` times (then NotebookRunError).
    ``timeout`` bounds each cell (seconds, default none); ``kernel_name`` overrides the
    notebook's kernelspec; ``store`` overrides the state checkpoint directory.
    ``on_kernel_start(kernel_manager)`` is called for each kernel started; ``log`` receives one
    line per restart (default: stderr). With ``resume=True``, a run that was stopped as a whole
    (this process killed, an HTCondor job evicted) continues from ``output``, which records how
    far it got, and from the store, like a restart after a dead kernel.
    """
    import nbformat

    path = Path(notebook).absolute()
    out_path = Path(output).absolute() if output is not None else default_output(path)
    store_dir = Path(store).expanduser().absolute() if store else default_store(path)
    say = log or (lambda line: print(line, file=sys.stderr))
    try:
        nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        raise NotebookRunError(f"cannot read {path} as a notebook: {exc}") from None
    env = {**os.environ, SESSION_ENV: str(path), STORE_ENV: str(store_dir)}
    report = RunReport(path, out_path, store_dir, sum(c.cell_type == "code" for c in nb.cells))
    record = _unfinished_run(out_path, nb) if resume else None
    if resume and record is None:
        say(f"ipyckpt run: no unfinished run of this notebook in {out_path}: running it all")
    if record is not None:
        nb = record[0]
    runner = _Runner(nb, path, out_path, env, store_dir, timeout, kernel_name, on_kernel_start)
    if record is not None:
        report.resumed = runner.continue_from(record[1])
        say(f"ipyckpt run: {report.resumed}")
    try:
        runner.run(retries, report, say)
    finally:
        runner.write()
    return report


def _unfinished_run(output: Path, nb: Any) -> tuple[Any, dict[str, Any]] | None:
    """The output notebook of an unfinished run of the same code, and its record; else None."""
    import nbformat

    try:
        previous = nbformat.read(output, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, ValueError):
        return None
    record = previous.metadata.get(RUN_METADATA)
    if not isinstance(record, dict) or record.get("finished"):
        return None
    if record.get("source") != _source_digest(nb):
        return None
    return previous, dict(record)


class _Runner:
    """Executes the cells of one notebook, one kernel after another."""

    def __init__(
        self,
        nb: Any,
        path: Path,
        output: Path,
        env: dict[str, str],
        store: Path,
        timeout: int | None,
        kernel_name: str | None,
        on_kernel_start: Callable[[Any], None] | None,
    ) -> None:
        from nbclient import NotebookClient

        self.nb = nb
        self.env = env
        self.store = store
        self.on_kernel_start = on_kernel_start
        options: dict[str, Any] = {
            "timeout": timeout,
            "resources": {"metadata": {"path": str(path.parent)}},
        }
        if kernel_name:
            options["kernel_name"] = kernel_name
        self.client = NotebookClient(nb, **options)
        self.progress = _Progress(newest=_newest_generation(store))  # a previous run's
        self.output = output
        self.current = 0
        self.source = _source_digest(nb)
        self.finished = False

    def continue_from(self, record: dict[str, Any]) -> str:
        """Pick up a run stopped as a whole; return the line that says where it continues."""
        self.current = int(record["current"])
        newest, cell = record.get("newest"), record.get("newest_cell")
        self.progress.newest = newest if isinstance(newest, int) else None
        self.progress.newest_cell = cell if isinstance(cell, int) else None
        return self._plan_restart(cause="the previous run stopped")

    def run(self, retries: int, report: RunReport, say: Callable[[str], None]) -> None:
        """Run to the end, restarting up to ``retries`` times; NotebookRunError if it cannot."""
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        while True:
            try:
                self._run_in_one_kernel()
                self.finished = True
                return
            except CellTimeoutError:
                raise NotebookRunError(
                    f"cell {self.current + 1} ran longer than --timeout; the outputs so far are "
                    f"in {report.output}"
                ) from None
            except CellExecutionError as exc:
                name = getattr(exc, "ename", "error")
                raise NotebookRunError(
                    f"cell {self.current + 1} raised {name}: see its output in {report.output}"
                ) from None
            except DeadKernelError:
                if len(report.restarts) >= retries:
                    raise NotebookRunError(
                        f"the kernel died in cell {self.current + 1} and "
                        f"{plural(retries, 'restart')} are used up; the outputs so far are in "
                        f"{report.output} (raise --retries to try again)"
                    ) from None
                line = self._plan_restart()
                report.restarts.append(line)
                say(f"ipyckpt run: {line}")

    def _run_in_one_kernel(self) -> None:
        progress = self.progress
        with self.client.setup_kernel(env=self.env):
            if self.on_kernel_start is not None:
                self.on_kernel_start(self.client.km)
            restored = self._restore() if progress.restore else []
            for index in range(progress.start, len(self.nb.cells)):
                cell = self.nb.cells[index]
                if cell.cell_type != "code":
                    continue
                self.current = index
                self.write()  # records that this cell runs
                try:
                    self.client.execute_cell(cell, index)
                finally:
                    cell.outputs[:0], restored = restored, []
                    newest = _newest_generation(self.store)
                    if newest is not None and newest != progress.newest:
                        progress.newest, progress.newest_cell = newest, index
                    self.write()  # the output so far survives a kill of this process too

    def write(self) -> None:
        """Write the notebook as executed so far to ``self.output`` (atomically: temp + rename)."""
        import nbformat

        record = self.progress.record(self.current, self.source, self.finished)
        self.nb.metadata[RUN_METADATA] = record
        temp = self.output.with_name(f".{self.output.name}.{os.getpid()}.tmp")
        nbformat.write(self.nb, temp)  # type: ignore[no-untyped-call]
        os.replace(temp, self.output)

    def _restore(self) -> list[Any]:
        """``%load_ext ipyckpt`` in the new kernel; its output, to show in the re-run cell."""
        from nbformat.v4 import new_output, output_from_msg

        note = f"ipyckpt run: {self.progress.note}\n"
        outputs = [new_output("stream", name="stderr", text=note)]  # type: ignore[no-untyped-call]

        def collect(msg: dict[str, Any]) -> None:
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                outputs.append(output_from_msg(msg))  # type: ignore[no-untyped-call]

        from jupyter_core.utils import run_sync

        code = "\n".join([RESTORE_CODE, *_imports(self.nb.cells[: self.progress.start])])
        kernel_client: Any = self.client.kc
        run_sync(kernel_client.execute_interactive)(
            code, store_history=False, output_hook=collect, timeout=None
        )
        return outputs

    def _plan_restart(self, cause: str = "the kernel died") -> str:
        """Decide where the next kernel starts; return the line that says so."""
        progress = self.progress
        died = self.current
        newest = _newest_generation(self.store)
        if newest is not None and newest != progress.newest:
            progress.newest, progress.newest_cell = newest, died  # taken while `died` ran
        if progress.newest_cell is None:
            progress.start, progress.restore = 0, False
            return (
                f"{cause} in cell {died + 1} before this run saved a state checkpoint: "
                "running the notebook again from the top in a new kernel"
            )
        resume_cell = died if progress.newest_cell == died else progress.newest_cell + 1
        progress.start, progress.restore = resume_cell, True
        what = "re-running it" if resume_cell == died else f"re-running from cell {resume_cell + 1}"
        progress.note = (
            f"{cause} in cell {died + 1}; a new kernel restored state checkpoint "
            f"{progress.newest} (taken in cell {progress.newest_cell + 1}): {what}"
        )
        return progress.note
