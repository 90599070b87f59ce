"""The ``ipyckpt`` command: inspect and maintain checkpoint stores from a terminal.

Exit codes: 0 everything fine, 1 problems found (or the command failed), 2 usage error (also
a path that does not exist or is not a store).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ipyckpt.exitcodes import CLI_OK, CLI_PROBLEMS, CLI_USAGE
from ipyckpt.store.errors import IpyckptError

if TYPE_CHECKING:
    from ipyckpt.store.engine import Store
from ipyckpt.store.reports import GenerationInfo, format_age, format_bytes

OK, PROBLEMS, USAGE = CLI_OK, CLI_PROBLEMS, CLI_USAGE
STORE_HELP = (
    "a store directory, or a notebook (NAME.ipynb: its store, found as its kernel finds it)"
)


class _UsageProblem(Exception):
    """The command line names something that cannot be used (exit code 2)."""


def _notebook_store(notebook: Path) -> Path | None:
    """Where the kernel of ``notebook`` keeps its store (ipyckpt.location), None if unknown."""
    from ipyckpt.location import configured_folder, store_location

    try:
        return store_location(notebook.absolute(), folder=configured_folder())
    except ValueError:  # not a name a store can have
        return None


def _is_store(path: Path) -> bool:
    """A directory with ipyckpt's marker in it."""
    from ipyckpt.store.engine import MARKER

    return path.is_dir() and (path / MARKER).is_file()


def store_directory(given: str) -> Path:
    """The store ``given`` names, decided by what is on disk, never by the name.

    A file is a notebook: its store is where its kernel keeps it. A directory is a store.
    Nothing at ``given``: the store of a notebook that was there, if that store exists (a
    notebook may be gone, not its store). Anything else is a _UsageProblem saying what to give.
    """
    path = Path(given)
    if path.is_file():
        store = _notebook_store(path)
        if store is None or not store.is_dir():
            raise _UsageProblem(
                f"{given} has no state checkpoints yet (no store at {store}); run a "
                "%%checkpoint cell in it first, or give a store directory"
            )
        return store
    if path.is_dir():
        return path
    if not path.exists() and not path.is_symlink():
        store = _notebook_store(path)
        if store is not None and _is_store(store):
            return store
        raise _UsageProblem(f"{given} does not exist (give a store directory or a notebook)")
    raise _UsageProblem(f"{given} is neither a notebook file nor a store directory")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ipyckpt",
        description="Inspect and maintain ipyckpt state-checkpoint stores.",
        epilog="Exit codes: 0 ok, 1 problems found or the run failed, 2 usage error (also a "
        "path that does not exist or is not a store).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="list the generations of a store, newest first")
    p.add_argument("directory", help=STORE_HELP)
    p = sub.add_parser("show", help="variables, types, sizes and skipped names of a generation")
    p.add_argument("directory", help=STORE_HELP)
    p.add_argument("generation", nargs="?", type=int, help="generation id (default: newest)")
    p = sub.add_parser(
        "verify", help="check every manifest, signature and blob; exit 1 on problems"
    )
    p.add_argument("directory", help=STORE_HELP)
    p = sub.add_parser("gc", help="remove old generations and unreferenced blobs")
    p.add_argument("directory", help=STORE_HELP)
    p.add_argument("--keep", type=int, default=None, help="generations to keep (default: 3)")
    p = sub.add_parser(
        "run",
        help="execute a notebook headless; when its kernel dies, restore and resume",
        description="Execute NOTEBOOK top to bottom in a kernel that knows the notebook (so "
        "%%%%checkpoint saves beside it). When the kernel dies, a new one restores the newest "
        "state checkpoint and resumes, up to --retries times. The executed notebook is written "
        "to OUT (also when a cell fails).",
    )
    p.add_argument("notebook", help="the .ipynb file to run")
    p.add_argument("-o", "--output", help="executed notebook (default: NAME.out.ipynb beside it)")
    p.add_argument("--retries", type=int, default=3, help="kernel restarts allowed (default: 3)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: none)")
    p.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a run that was stopped as a whole (killed, evicted) from OUT and the store",
    )
    p = sub.add_parser("install", help="load ipyckpt in every new IPython kernel of this user")
    p.add_argument("--profile", default="default")
    p = sub.add_parser("uninstall", help="undo `ipyckpt install`")
    p.add_argument("--profile", default="default")
    from ipyckpt.condor import commands as condor_commands

    condor_commands.add_parsers(sub)  # submit, jobs, fetch: whole notebooks as HTCondor jobs
    return parser


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _show(info: GenerationInfo) -> str:
    rows = [[n, t, format_bytes(info.sizes.get(n, 0))] for n, t in sorted(info.variables.items())]
    taken = format_age(info.time) if info.time else "?"
    out = [f"generation {info.id}, taken {taken}, {info.trigger}, {format_bytes(info.bytes)}"]
    if info.problem:
        out.append(f"problem: {info.problem}")
    if info.error:
        out.append(f"error in the cell: {info.error}")
    out.append(_table(rows, ["variable", "type", "size"]))
    out.extend(f"skipped {n}: {r}" for n, r in sorted(info.skipped.items()))
    return "\n".join(out)


def _install(args: argparse.Namespace) -> int:
    from ipyckpt import install

    path, changed = getattr(install, args.command)(args.profile)
    if args.command == "install":
        state = "now loads" if changed else "already loads"
        print(f"every new IPython kernel {state} ipyckpt ({path})")
    else:
        state = "no longer loads" if changed else "was not set up to load"
        print(f"IPython {state} ipyckpt ({path})")
    return OK


def _run_notebook(args: argparse.Namespace) -> int:
    from ipyckpt.batch import run_notebook

    if not Path(args.notebook).is_file():
        print(f"ipyckpt: error: no notebook {args.notebook}", file=sys.stderr)
        return USAGE
    report = run_notebook(
        args.notebook,
        args.output,
        retries=args.retries,
        timeout=args.timeout,
        kernel_name=args.kernel,
        resume=args.resume,
    )
    print(report)
    return OK


def run(args: argparse.Namespace) -> int:
    """Execute one parsed command; return its exit code."""
    if args.command in ("install", "uninstall"):
        return _install(args)
    if args.command == "run":
        return _run_notebook(args)
    return _store_command(args)


def _open_store(given: str) -> Store:
    """The store named on the command line; _UsageProblem if the path is wrong."""
    from ipyckpt.store.engine import MARKER, Store
    from ipyckpt.store.errors import StoreFormatError

    directory = store_directory(given)
    try:
        return Store(directory)
    except StoreFormatError:
        if directory.is_dir() and not (directory / MARKER).exists():
            raise _UsageProblem(
                f"{directory} is not a state checkpoint store (it has no {MARKER}); give a "
                "store directory such as .ipyckpt/NOTEBOOK.ipynb beside the notebook, or the "
                "notebook itself"
            ) from None
        raise


def _store_command(args: argparse.Namespace) -> int:
    """``list``, ``show``, ``verify`` and ``gc`` on the store in ``args.directory``."""
    from ipyckpt.tables import GenerationTable

    store = _open_store(args.directory)
    if args.command == "list":
        infos = store.generations()
        print(GenerationTable(infos, str(store.directory)))
        return PROBLEMS if any(g.problem for g in infos) else OK
    if args.command == "show":
        infos = store.generations()
        chosen = [g for g in infos if args.generation in (None, g.id)][:1]
        if not chosen:
            print(f"no generation {args.generation} in {store.directory}", file=sys.stderr)
            return PROBLEMS
        print(_show(chosen[0]))
        return PROBLEMS if chosen[0].problem else OK
    if args.command == "verify":
        report = store.verify()
        print(report)
        return OK if report.ok else PROBLEMS
    report_gc = store.gc(keep=args.keep)
    print(report_gc)
    return OK


def _run_any(args: argparse.Namespace) -> int:
    """A store command here, or a whole-notebook job command (``ipyckpt.condor.commands``)."""
    from ipyckpt.condor import commands as condor_commands

    if args.command in condor_commands.COMMANDS:
        return condor_commands.run(args)
    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ipyckpt`` command."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return USAGE if exc.code else OK
    if getattr(args, "retries", 0) < 0:
        parser.print_usage(sys.stderr)
        print("ipyckpt: error: --retries must be 0 or more", file=sys.stderr)
        return USAGE
    if getattr(args, "keep", None) is not None and args.keep < 1:
        parser.print_usage(sys.stderr)
        print("ipyckpt: error: --keep must be at least 1", file=sys.stderr)
        return USAGE
    try:
        return _run_any(args)
    except _UsageProblem as exc:
        print(f"ipyckpt: error: {exc}", file=sys.stderr)
        return USAGE
    except (IpyckptError, OSError) as exc:
        print(f"ipyckpt: {exc}", file=sys.stderr)
        return PROBLEMS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
