"""The Python API under ``%%condor``: :func:`submit_cell`, :func:`list_jobs`, :func:`get_job`.

Submitting is three steps: **plan** (which variables go in and come back, the job's name and
folder; nothing written), **write** (the job folder: bootstrap, key, signed spec, input store,
submit description, record) and **start** (hand the description to the schedd or the local
emulation). A failure in write or start removes the job's folder.
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipyckpt.condor import description, schedd
from ipyckpt.condor import notebook as nb
from ipyckpt.condor import payload as p
from ipyckpt.condor import record as jobs
from ipyckpt.condor.description import ITEM, LABEL, Resources
from ipyckpt.condor.job import CondorJob
from ipyckpt.condor.options import check_backend
from ipyckpt.condor.record import JobRecord
from ipyckpt.condor.sweep import KEYS, Sweep, SweepItem
from ipyckpt.namespace import is_internal

INPUT = "input"


@dataclass(frozen=True)
class CellNames:
    """Names a cell reads (and that exist in the namespace) and names it assigns."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class _Scan:
    """Reads anywhere (a function body may read a global); assignments at the cell's level."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.assigns: set[str] = set()
        self.imports: set[str] = set()

    def visit(self, node: ast.AST, depth: int = 0) -> None:
        """Collect names from ``node``; ``depth`` > 0 inside functions, classes, comprehensions."""
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.reads.add(node.id)
            elif depth == 0:
                self.assigns.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.reads.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom) and depth == 0:
            self.imports |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, _DEFINITIONS):
            if depth == 0:
                self.assigns.add(node.name)
            depth += 1
        elif isinstance(node, _SCOPES):
            depth += 1
        for child in ast.iter_child_nodes(node):
            self.visit(child, depth)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def cell_names(source: str, namespace: Mapping[str, object]) -> CellNames:
    """Inputs: names the cell reads that exist in ``namespace`` (not IPython's own, not
    unshadowed builtins); outputs: names the cell assigns at its own level (not imports)."""
    scan = _Scan()
    scan.visit(ast.parse(source))
    inputs = {
        n
        for n in scan.reads
        if n in namespace
        and not is_internal(n)
        and not (hasattr(builtins, n) and namespace[n] is getattr(builtins, n))
    }
    return CellNames(tuple(sorted(inputs)), tuple(sorted(scan.assigns - scan.imports)))


@dataclass(frozen=True)
class JobSettings:
    """How a job runs: checkpoint interval, resources, retries, interpreter, eviction times.

    ``every`` is the checkpoint interval in seconds (None: no periodic checkpoints);
    ``python`` the interpreter path on the execute node (None: this one); ``grace`` bounds the
    snapshot on SIGTERM and ``vacate_time`` the time before SIGKILL.
    """

    every: float | None = None
    resources: Resources = field(default_factory=Resources)
    image: str | None = None
    max_retries: int = 3
    backend: str = "local"
    python: str | None = None
    grace: float = 30
    vacate_time: int = 60
    transfer_on_evict: bool = True  # measured: see benchmarks/eviction_loss.py


@dataclass(frozen=True)
class JobPlan:
    """A job about to be written: its folder, code, variables in and out, settings."""

    name: str
    folder: Path
    code: str
    inputs: list[str]
    returns: list[str]
    missing: list[str]  # inputs asked for that the namespace lacks
    settings: JobSettings
    notebook: Path | None = None  # a whole-notebook job: the notebook it runs


def check_settings(settings: JobSettings) -> None:
    """Refuse settings the chosen backend cannot honour (before anything is written)."""
    try:
        check_backend(settings.backend)
    except ValueError as exc:
        raise ValueError(f"backend={settings.backend}: {exc}") from None
    if settings.backend == "schedd":
        schedd.bindings()  # fail before writing anything
    elif settings.image is not None:
        raise ValueError(
            "image= needs a pool (backend=schedd): the local emulation runs no containers"
        )


def plan_job(
    code: str,
    namespace: Mapping[str, Any],
    root: Path,
    settings: JobSettings,
    name: str | None = None,
    inputs: Sequence[str] | None = None,
    returns: Sequence[str] | None = None,
    given: Collection[str] = (),
) -> JobPlan:
    """Decide the job's name and variables (inputs read, outputs assigned, unless given).

    ``given`` are the names a sweep gives each job as parameters: never inputs.
    """
    check_settings(settings)
    visible = {k: v for k, v in namespace.items() if k not in given} if given else namespace
    names = cell_names(code, visible)
    ins = [n for n in inputs if n not in given] if inputs is not None else list(names.inputs)
    outs = list(returns) if returns is not None else list(names.outputs)
    missing = [n for n in ins if n not in namespace]
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = jobs.check_job_name(name) if name else jobs.free_name(root, "sweep" if given else "job")
    folder = root / name
    if folder.exists():
        raise ValueError(f"a job called {name!r} exists already: choose another name=")
    return JobPlan(name, folder, code, ins, outs, missing, settings)


def write_inputs(folder: Path, spec: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Write the bootstrap, key, signed spec and input store; return the skipped inputs."""
    from ipyckpt.condor import bootstrap

    folder.mkdir(mode=0o700)
    shutil.copyfile(bootstrap.__file__, folder / p.BOOTSTRAP)
    key = bytes.fromhex(spec.pop("key"))
    p.write_key(folder / p.KEY, key)
    p.write_sealed(folder / p.SPEC, key, spec)
    report = p.store(folder / p.INPUTS, key, keep=1).save(
        values, trigger="submit", info={"versions": p.versions()}
    )
    return [f"{n} ({why})" for n, why in report.skipped.items()]


def write_job(
    plan: JobPlan, namespace: Mapping[str, Any], items: Sequence[SweepItem] = ()
) -> tuple[JobRecord, list[str]]:
    """Write the job's folder (inputs, description, record); return it and the skipped inputs.

    With ``items`` (a sweep), the inputs are shared and each job gets a folder ``N/`` holding
    its parameters, where its results come back.
    """
    s = plan.settings
    key = p.new_key()
    spec: dict[str, Any] = {
        "name": plan.name,
        "code": plan.code,
        "every": s.every,
        "returns": plan.returns,
        "inputs": plan.inputs,
    }
    if plan.notebook is not None:
        spec["notebook"] = nb.read_notebook(plan.notebook)
    spec |= {"grace": min(s.grace, s.vacate_time), "versions": p.versions(), "key": key.hex()}
    values = {n: namespace[n] for n in plan.inputs if n in namespace}
    skipped = write_inputs(plan.folder / INPUT, spec, values)
    files = [f"{INPUT}/{f}" for f in (p.BOOTSTRAP, p.SPEC, p.KEY, p.INPUTS)]
    if items:  # shared inputs by absolute path, each job's parameters from its own folder
        files = [str(plan.folder / f) for f in files] + [p.PARAMS]
        _write_items(plan.folder, key, items)
    desc = description.describe(
        python=s.python or sys.executable,
        input_files=files,
        checkpoint_files=[p.CHECKPOINT],
        output_files=[p.RESULT, p.OUTPUTS, *([p.EXECUTED] if plan.notebook else [])],
        resources=s.resources,
        max_retries=s.max_retries,
        name=plan.name,
        iwd=plan.folder,
        image=s.image,
        vacate_time=s.vacate_time,
        per_item=bool(items),
        transfer_on_evict=s.transfer_on_evict,
    )
    record = JobRecord(
        plan.name, s.backend, str(plan.folder), key.hex(), plan.inputs, plan.returns, desc,
        every=s.every,
    )  # fmt: skip
    record.items = [{ITEM: str(i), LABEL: item.label} for i, item in enumerate(items)]
    record.notebook = str(plan.notebook) if plan.notebook else None
    return record, skipped


def _write_items(folder: Path, key: bytes, items: Sequence[SweepItem]) -> None:
    """Each job's folder with its parameters; the result keys beside the record."""
    for i, item in enumerate(items):
        (folder / str(i)).mkdir(mode=0o700)
        report = p.store(folder / str(i) / p.PARAMS, key, keep=1).save(
            item.params, trigger="submit", info={"versions": p.versions()}
        )
        if report.skipped:
            problems = ", ".join(f"{n} ({why})" for n, why in report.skipped.items())
            raise ValueError(f"parameters of job {i} cannot be sent: {problems}")
    p.store(folder / KEYS, key, keep=1).save({"keys": [item.key for item in items]})


def start_job(record: JobRecord) -> None:
    """Give the job to its backend; the record gets its cluster id and is saved."""
    if record.backend == "schedd":
        record.cluster = schedd.submit(record.description, record.items)
    else:
        root = record.path.parent
        others = [r.cluster or 0 for r in jobs.list_records(root) if r.backend == "local"]
        record.cluster = max(others, default=0) + 1
    record.save()
    if record.backend == "local":
        from ipyckpt.condor import local

        local.spawn(record)


def _announcement(name: str, record: JobRecord, plan: JobPlan, skipped: list[str]) -> str:
    label = "local emulation" if record.backend == "local" else "schedd"
    return (
        f"ipyckpt: submitted {name} (cluster {record.cluster}, {label}); "
        f"inputs: {', '.join(plan.inputs) or '(none)'}; "
        f"returns: {', '.join(plan.returns) or '(none)'}"
        + (f"; not sent (unpicklable): {', '.join(skipped)}" if skipped else "")
        + (f"; not defined here: {', '.join(plan.missing)}" if plan.missing else "")
    )


def _submit(
    plan: JobPlan,
    namespace: Mapping[str, Any],
    items: Sequence[SweepItem],
    announce: Callable[[str], None],
) -> JobRecord:
    """Write and start a planned job (removing its folder if that fails), then announce it."""
    plan.folder.mkdir(mode=0o700)
    try:
        record, skipped = write_job(plan, namespace, items)
        start_job(record)
    except BaseException:
        shutil.rmtree(plan.folder, ignore_errors=True)
        raise
    name = plan.name + (f" ({len(items)} jobs)" if items else "")
    announce(_announcement(name, record, plan, skipped))
    return record


def submit_cell(
    code: str,
    namespace: Mapping[str, Any],
    *,
    jobs_dir: str | Path,
    name: str | None = None,
    inputs: Sequence[str] | None = None,
    returns: Sequence[str] | None = None,
    every: float | None = None,
    resources: Resources | None = None,
    image: str | None = None,
    max_retries: int = 3,
    backend: str = "local",
    python: str | None = None,
    grace: float = 30,
    vacate_time: int = 60,
    transfer_on_evict: bool = True,
    announce: Callable[[str], None] = print,
) -> CondorJob:
    """Submit ``code`` as a self-checkpointing HTCondor job (or to the local emulation).

    Inputs default to the names the cell reads that exist in ``namespace``; returned variables
    default to the names it assigns (``announce`` is told what was chosen). The other keywords
    are those of :class:`JobSettings`. Returns at once with a :class:`CondorJob`; the job's
    files live in ``jobs_dir/<name>/``.
    """
    settings = JobSettings(
        every, resources or Resources(), image, max_retries, backend, python, grace, vacate_time,
        transfer_on_evict,
    )  # fmt: skip
    plan = plan_job(code, namespace, Path(jobs_dir), settings, name, inputs, returns)
    return CondorJob(_submit(plan, namespace, (), announce))


def submit_sweep(
    code: str,
    namespace: Mapping[str, Any],
    items: Sequence[SweepItem],
    *,
    jobs_dir: str | Path,
    name: str | None = None,
    inputs: Sequence[str] | None = None,
    returns: Sequence[str] | None = None,
    announce: Callable[[str], None] = print,
    **settings: Any,
) -> Sweep:
    """Submit ``code`` once per item (see :mod:`ipyckpt.condor.sweep`) as ONE cluster.

    Each job gets its item's parameters as variables, over the shared inputs; ``settings`` are
    the fields of :class:`JobSettings`. Returns at once with a :class:`Sweep`.
    """
    if not items:
        raise ValueError("a sweep needs at least one parameter combination")
    given = {n for item in items for n in item.params}
    resources = settings.pop("resources", None) or Resources()
    config = JobSettings(resources=resources, **settings)
    plan = plan_job(code, namespace, Path(jobs_dir), config, name, inputs, returns, given)
    return Sweep(_submit(plan, namespace, items, announce))


def submit_notebook(
    path: str | Path,
    *,
    jobs_dir: str | Path,
    name: str | None = None,
    announce: Callable[[str], None] = print,
    **settings: Any,
) -> CondorJob:
    """Submit the notebook at ``path`` as one self-checkpointing job (its cells in turn).

    ``settings`` are the fields of :class:`JobSettings`. The executed notebook comes back into
    the job's folder; :meth:`CondorJob.fetch_notebook` puts it beside the original.
    """
    notebook = Path(path).absolute()
    cells = nb.code_cells(nb.read_notebook(notebook))  # refuse a bad notebook before writing
    for i, source in enumerate(cells):
        try:
            compile(nb.to_python(source), f"<cell {i + 1}>", "exec")
        except SyntaxError as exc:
            raise ValueError(f"{notebook.name}: cell {i + 1} is not valid Python: {exc}") from None
    config = JobSettings(resources=settings.pop("resources", None) or Resources(), **settings)
    check_settings(config)
    root = Path(jobs_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", notebook.stem)[:50] or "notebook"
    name = jobs.check_job_name(name) if name else jobs.free_name(root, stem)
    if (root / name).exists():
        raise ValueError(f"a job called {name!r} exists already: choose another --name")
    plan = JobPlan(name, root / name, "", [], [], [], config, notebook)
    return CondorJob(_submit(plan, {}, (), announce))


def find(jobs_dir: str | Path, name: str | None = None) -> CondorJob | Sweep:
    """The job or sweep called ``name`` (``NAME/N``: job N of a sweep), or the newest."""
    base, _, proc = (name or "").partition("/")
    record = jobs.find_record(Path(jobs_dir), base or None)
    if not record.items:
        if proc:
            raise jobs.NoSuchJob(f"{record.name} is a single job, not a sweep: drop /{proc}")
        return CondorJob(record)
    if not proc:
        return Sweep(record)
    if not proc.isdigit() or int(proc) not in record.procs:
        raise jobs.NoSuchJob(f"{record.name} has jobs {record.name}/0 to /{len(record.items) - 1}")
    return CondorJob(record, int(proc))


def list_jobs(jobs_dir: str | Path) -> list[CondorJob]:
    """Every job of a notebook, oldest first."""
    return [CondorJob(r) for r in jobs.list_records(Path(jobs_dir))]


def get_job(jobs_dir: str | Path, name: str | None = None) -> CondorJob:
    """The job called ``name``, or the newest."""
    return CondorJob(jobs.find_record(Path(jobs_dir), name))
