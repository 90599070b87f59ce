"""``ipyckpt submit NOTEBOOK``, ``ipyckpt jobs``, ``ipyckpt fetch NAME``: whole notebooks as jobs.

The jobs live where ``%%condor`` keeps a notebook's jobs (beside its state checkpoints), so
``%condor status`` in that notebook lists them too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ipyckpt.exitcodes import CLI_OK as OK
from ipyckpt.exitcodes import CLI_PROBLEMS as PROBLEMS
from ipyckpt.exitcodes import CLI_USAGE as USAGE
from ipyckpt.store.errors import IpyckptError

COMMANDS = ("submit", "jobs", "fetch")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The three subcommands, on the ``ipyckpt`` command's subparsers."""
    p = sub.add_parser("submit", help="run a notebook as one self-checkpointing HTCondor job")
    p.add_argument("notebook", help="the notebook (NAME.ipynb)")
    p.add_argument("--every", default="30m", help="checkpoint interval (default: 30m)")
    p.add_argument("--name", help="the job's name (default: the notebook's name and a number)")
    p.add_argument("--request-cpus", type=int, default=1)
    p.add_argument("--request-memory", default="1GB")
    p.add_argument("--request-disk", default="1GB")
    p.add_argument("--request-gpus", type=int, default=0)
    p.add_argument("--image", help="container image (schedd only)")
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--backend", default="schedd", help="schedd (your pool) or local (emulation)")
    p.add_argument(
        "--transfer-on-evict",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="transfer the checkpoint written when the job is evicted (default: yes)",
    )
    p = sub.add_parser("jobs", help="the HTCondor jobs of notebooks (default: those here)")
    p.add_argument("notebooks", nargs="*", help="notebooks (default: every *.ipynb here)")
    p = sub.add_parser("fetch", help="put a notebook job's executed notebook beside the original")
    p.add_argument("name", help="the job's name (see ipyckpt jobs)")
    p.add_argument("--notebook", help="the notebook it ran (default: searched here)")


def _jobs_dir(notebook: Path) -> Path:
    from ipyckpt.condor.record import jobs_root
    from ipyckpt.location import configured_folder, store_location

    store = store_location(notebook.absolute(), folder=configured_folder())
    assert store is not None  # a notebook path always has a store location
    return jobs_root(store)


def _notebook(given: str, *, gone_ok: bool = False) -> Path:
    """The notebook file ``given`` names, decided by what is on disk, not by its name.

    With ``gone_ok``, a notebook that is no longer there still counts if its jobs folder is
    there (a notebook may be deleted after its jobs ran). ValueError (a usage error) otherwise.
    """
    path = Path(given)
    if path.is_file():
        return path
    if gone_ok and not path.exists() and _jobs_dir(path).is_dir():
        return path
    what = "is not a notebook file" if path.exists() else "does not exist"
    raise ValueError(f"{given} {what} (give a NAME.ipynb notebook file)")


def _notebooks(given: list[str]) -> list[Path]:
    """The notebooks named, or every notebook file here."""
    if given:
        return [_notebook(n, gone_ok=True) for n in given]
    return sorted(p for p in Path.cwd().glob("*.ipynb") if p.is_file())


def _submit(args: argparse.Namespace) -> int:
    from ipyckpt.condor.api import submit_notebook
    from ipyckpt.condor.description import Resources, check_size
    from ipyckpt.durations import parse_duration

    resources = Resources(
        cpus=args.request_cpus,
        memory=check_size(args.request_memory, "--request-memory"),
        disk=check_size(args.request_disk, "--request-disk"),
        gpus=args.request_gpus,
    )
    notebook = _notebook(args.notebook)
    submit_notebook(
        notebook, jobs_dir=_jobs_dir(notebook), name=args.name,
        every=parse_duration(args.every), resources=resources, image=args.image,
        max_retries=args.max_retries, backend=args.backend,
        transfer_on_evict=args.transfer_on_evict,
    )  # fmt: skip
    return OK


def _jobs(args: argparse.Namespace) -> int:
    from ipyckpt.condor.api import list_jobs
    from ipyckpt.condor.table import StatusTable

    jobs = [job for nb in _notebooks(args.notebooks) for job in list_jobs(_jobs_dir(nb))]
    print(repr(StatusTable(jobs)))
    return OK


def _fetch(args: argparse.Namespace) -> int:
    from ipyckpt.condor.api import get_job
    from ipyckpt.condor.record import NoSuchJob

    notebooks = _notebooks([args.notebook] if args.notebook else [])
    for nb in notebooks:
        try:
            job = get_job(_jobs_dir(nb), args.name)
        except NoSuchJob:
            continue
        print(f"ipyckpt: the executed notebook of {job.name} is {job.fetch_notebook()}")
        return OK
    where = ", ".join(n.name for n in notebooks) or "no notebook here"
    print(f"ipyckpt: no job called {args.name!r} ({where}); see ipyckpt jobs", file=sys.stderr)
    return PROBLEMS


def run(args: argparse.Namespace) -> int:
    """Run ``submit``, ``jobs`` or ``fetch``; bad values are usage errors (exit 2)."""
    try:
        return {"submit": _submit, "jobs": _jobs, "fetch": _fetch}[args.command](args)
    except ValueError as exc:
        print(f"ipyckpt {args.command}: {exc}", file=sys.stderr)
        return USAGE
    except IpyckptError as exc:
        print(f"ipyckpt {args.command}: {exc}", file=sys.stderr)
        return PROBLEMS
