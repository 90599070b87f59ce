"""Autosave side by side with Kishu 0.3.4: per-cell cost in real kernels, and the disk used.

    python -m benchmarks.sidebyside [--workloads small,medium,large] [--scale 1] [--repeat 3]

For each workload (``benchmarks.workloads``) three real kernels (jupyter_client) build the
namespace in a cell, then run the cells of :data:`benchmarks.autosave.CELLS`, interleaved,
``--repeat`` rounds; each figure is the median time from the execute request to its reply:

* ``bare``: nothing loaded;
* ``ipyckpt``: ``%load_ext ipyckpt`` with ``c.Checkpointer.background = True`` in the kernel's
  profile. Each cell runs twice a round: with no snapshot due ("idle", what almost every cell
  pays) and with a snapshot due ("due", what the cell after the interval pays: the fork).
  Before each, a silent request (silent requests run no cell hooks) waits for the previous
  background child and sets the autosave clock; after a due cell one waits for the child to
  publish, so no writer runs while another kernel is timed ("published" is that time);
* ``Kishu``: ``kishu==0.3.4`` with our numpy, pandas, scikit-learn, dill, ipykernel and IPython
  versions in a venv of its own, installed with pip on first use and cached in
  ``~/.cache/ipyckpt-bench/kishu`` (its dependencies stay out of the project's), started as its
  README says, ``from kishu import init_kishu; init_kishu("bench.ipynb")`` in the notebook's
  kernel (with the path: no Jupyter server runs to ask). It commits after every cell.

Then, in fresh kernels, ``--disk`` cells of ``weights[0] += 1`` on ``--disk-workload`` with an
autosave after each (default retention) and ``--kishu-disk`` of them under Kishu: the disk each
uses after 1, 3, 10, ... cells. And a simulated day of autosave (see :func:`day_of_autosave`).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.autosave import CELLS, du, session_of, set_clock

ROOT = Path(__file__).resolve().parent.parent
KISHU = "kishu==0.3.4"
SAME_AS_OURS = ("numpy", "pandas", "scikit-learn", "dill", "ipykernel", "ipython")
CACHE = Path(os.environ.get("IPYCKPT_BENCH_CACHE", Path.home() / ".cache" / "ipyckpt-bench"))
MB = 1 << 20
TOOLS = ("bare", "idle", "due", "kishu")
LABELS = {
    "bare": "without either",
    "idle": "ipyckpt, no snapshot due",
    "due": "ipyckpt, snapshot due (forked)",
    "kishu": "Kishu 0.3.4",
}


# ------------------------------------------------------------------- the Kishu environment
def kishu_python(cache: Path = CACHE) -> Path:
    """Python of a venv with Kishu 0.3.4 and our versions of the shared packages (cached)."""
    from importlib.metadata import version

    venv = cache / "kishu"
    python = venv / "bin" / "python"
    spec = [KISHU, *(f"{name}=={version(name)}" for name in SAME_AS_OURS)]
    marker = venv / "ipyckpt-bench.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == spec:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"installing {KISHU} into {venv} (once)", file=sys.stderr)
    for cmd in ([sys.executable, "-m", "venv", str(venv)], [str(python), "-m", "pip", "install",
                "-q", "--disable-pip-version-check", *spec]):  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cannot install {KISHU}: {done.stderr[-2000:]}")
    marker.write_text(json.dumps(spec))
    return python


# ---------------------------------------------------------------------------- the kernels
class BenchKernel:
    """A real kernel for one notebook, in a folder of its own, timed from the client."""

    def __init__(self, python: str, folder: Path, profile: str = "") -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        folder.mkdir(parents=True)
        self.folder, self.notebook = folder, folder / "bench.ipynb"
        self.notebook.write_text(json.dumps(_EMPTY_NOTEBOOK))
        spec = folder / "kernels" / "bench"
        spec.mkdir(parents=True)
        argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "bench"}))
        ipython = folder / "ipython" / "profile_default"
        ipython.mkdir(parents=True)
        (ipython / "ipython_kernel_config.py").write_text(profile)
        self.km = KernelManager(
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder / "kernels")]),
            kernel_name="bench",
        )
        # named as jupyter_server names them: Kishu reads the kernel id from this name
        self.km.connection_file = str(folder / f"kernel-{uuid.uuid4()}.json")
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            IPYTHONDIR=str(folder / "ipython"),
            JPY_SESSION_NAME=str(self.notebook),  # what jupyter_server sets
            KISHU_PATH_ROOT=str(folder),  # Kishu's config, not the user's ~/.kishu
        )
        env.pop("IPYCKPT_STORE", None)
        self.km.start_kernel(env=env, cwd=str(folder))
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, *, allow_error: bool = False) -> float:
        """Run ``code`` as a cell; seconds from the request to its reply."""
        errors: list[str] = []

        def output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"])[-3000:])

        started = time.perf_counter()
        self.client.execute_interactive(code, timeout=3600, output_hook=output)
        seconds = time.perf_counter() - started
        if errors and not allow_error:
            raise RuntimeError(f"cell {code!r} failed in the benchmark kernel:\n{errors[0]}")
        return seconds

    def value(self, expression: str, setup: str = "") -> Any:
        """The JSON value of ``expression`` after a silent ``setup`` (no cell hooks run)."""
        reply = self.client.execute_interactive(
            setup, silent=True, user_expressions={"v": f"__import__('json').dumps({expression})"},
            timeout=3600, output_hook=lambda msg: None,
        )  # fmt: skip
        content = reply["content"]
        found = content.get("user_expressions", {}).get("v", content)
        if content["status"] != "ok" or found.get("status") != "ok":
            what = f"{found.get('ename')}: {found.get('evalue')}"
            raise RuntimeError(f"{setup or expression!r} failed in the benchmark kernel: {what}")
        return json.loads(ast.literal_eval(found["data"]["text/plain"]))

    def stop(self) -> None:
        """Shut the kernel down."""
        self.client.stop_channels()
        self.km.shutdown_kernel(now=True)


_EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
_IN_KERNEL = "__import__('benchmarks.sidebyside', fromlist=['x'])"


def _build_cell(workload: str, scale: float) -> str:
    return (
        "from benchmarks.worker import TrainingConfig\nfrom benchmarks.workloads import build\n"
        f"_built = build({workload!r}, {scale!r}, globals(), TrainingConfig)"
    )


def start(tool: str, folder: Path, workload: str, scale: float) -> tuple[BenchKernel, float]:
    """A kernel for ``tool`` (bare / ipyckpt / kishu) with the workload built in a cell."""
    if tool == "kishu":
        kernel = BenchKernel(str(kishu_python()), folder)
        # its README's way, with the notebook's path (no Jupyter server to ask for it); with
        # no browser to save the notebook it warns and goes on; its hook after this very cell
        # fails (the cell installed it), and the cell is not timed
        kernel.run(f"from kishu import init_kishu; init_kishu({kernel.notebook.name!r})",
                   allow_error=True)  # fmt: skip
        if not kernel.value("'_kishu' in globals()"):
            raise RuntimeError(f"{KISHU} did not start in the benchmark kernel")
    else:
        profile = "c.Checkpointer.background = True\n" if tool == "ipyckpt" else ""
        kernel = BenchKernel(sys.executable, folder, profile)
        if tool == "ipyckpt":
            kernel.run("%load_ext ipyckpt")
            kernel.value("0", f"{_IN_KERNEL}.prepare('due')")  # the first full snapshot
    first = kernel.run(_build_cell(workload, scale))
    if tool == "ipyckpt":
        first += kernel.value(f"{_IN_KERNEL}.settle()")
    if tool == "kishu" and not _kishu_bytes(folder):
        raise RuntimeError(f"{KISHU} did not commit the first cell in {folder}")
    return kernel, first


# ------------------------------------------------------------- run inside the ipyckpt kernel
def _session() -> Any:
    from IPython import get_ipython

    return session_of(get_ipython())


def settle() -> float:
    """Seconds until the background child (if any) has published its generation."""
    started = time.perf_counter()
    _session().settle(block=True)
    return time.perf_counter() - started


def prepare(mode: str) -> float:
    """Make the next cell's autosave due (``due``) or not (``idle``); seconds waited first."""
    waited = settle()
    set_clock(_session(), mode)
    return waited


def store_facts() -> dict[str, Any]:
    """The store's folder, its size, its generations and the newest state's blob bytes."""
    store = _session().store()  # manifests are read directly: the store lists no blobs
    ids = store.generation_ids()
    newest = store._read_manifest(ids[0], trust=True)[0]
    return {
        "store": str(store.directory),
        "bytes": du(Path(store.directory)),
        "generations": len(ids),
        "state_bytes": newest.total_bytes(),
    }


def day_of_autosave(hours: float = 24.0) -> dict[str, Any]:
    """Disk a day of autosave keeps, simulated with this kernel's own retention policy.

    What one autosave adds is measured: the blobs of the newest generation that the one before
    it lacks (one changed chunk after ``weights[0] += 1``). A day is one such snapshot every
    ``c.Checkpointer.autosave`` seconds, each ``created`` that much later; after each, the
    session's retention policy (the one its store applies after a save) runs with the
    simulated clock as ``now``, and drops what it does not keep. Manifests are not counted.
    """
    from ipyckpt.store.retention import Footprint

    session = _session()
    store = session.store()
    new, old = (store._read_manifest(g, trust=True)[0].blobs() for g in store.generation_ids()[:2])
    changed = {h: s for h, s in new.items() if h not in old}
    shared = sum(s for h, s in new.items() if h not in changed)  # one blob: kept by every one
    interval = float(session.autosave.interval)
    kept: list[Footprint] = []
    count = int(hours * 3600 / interval)
    for i in range(count):
        blobs = {"shared": shared, **{f"{h}-{i}": s for h, s in changed.items()}}
        kept.append(Footprint(i + 1, i * interval, blobs))
        chosen = session.retention(kept, i * interval)
        kept = [g for g in kept if g.generation in chosen]
    used = shared + sum(s for g in kept for h, s in g.blobs.items() if h != "shared")
    return {
        "hours": hours,
        "interval": interval,
        "snapshots": count,
        "kept": len(kept),
        "bytes": used,
        "state_bytes": sum(new.values()),
        "changed_bytes": sum(changed.values()),
    }


# ------------------------------------------------------------------------------ measuring
def per_cell(workload: str, scale: float, repeat: int, tmp: Path) -> dict[str, Any]:
    """Seconds per cell and tool, every round (rounds interleave the tools)."""
    kernels: dict[str, BenchKernel] = {}
    first: dict[str, float] = {}
    try:
        for tool in ("bare", "ipyckpt", "kishu"):
            kernels[tool], first[tool] = start(tool, tmp / f"{workload}-{tool}", workload, scale)
        samples: dict[str, dict[str, list[float]]] = {k: {t: [] for t in TOOLS} for k in CELLS}
        published: dict[str, list[float]] = {k: [] for k in CELLS}
        for _ in range(repeat):
            for kind, code in CELLS.items():
                for tool in TOOLS:
                    kernel = kernels["ipyckpt" if tool in ("idle", "due") else tool]
                    if tool in ("idle", "due"):
                        kernel.value("0", f"{_IN_KERNEL}.prepare({tool!r})")
                    samples[kind][tool].append(kernel.run(code))
                    if tool == "due":
                        waited = kernel.value(f"{_IN_KERNEL}.settle()")
                        published[kind].append(samples[kind][tool][-1] + waited)
            print(f"  {workload}: round {len(published['pass'])} of {repeat}", file=sys.stderr)
        state = kernels["ipyckpt"].value(f"{_IN_KERNEL}.store_facts()")["state_bytes"]
    finally:
        for kernel in kernels.values():
            kernel.stop()
    return {
        "workload": workload,
        "state_bytes": state,
        "first_save": first,
        "samples": samples,
        "published": {k: statistics.median(v) for k, v in published.items()},
    }


def _kishu_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("bench.kishudb*") if p.is_file())


def disk(workload: str, scale: float, cells: int, kishu_cells: int, tmp: Path) -> dict[str, Any]:
    """Disk after 1, 2, ... cells of ``weights[0] += 1``, each autosaved / committed."""
    code = CELLS["arr[0] += 1"]
    ours, _ = start("ipyckpt", tmp / "disk-ipyckpt", workload, scale)
    try:
        facts = ours.value(f"{_IN_KERNEL}.store_facts()")
        sizes = []
        for _ in range(cells):
            ours.value("0", f"{_IN_KERNEL}.prepare('due')")
            ours.run(code)
            sizes.append(ours.value(f"{_IN_KERNEL}.store_facts()", f"{_IN_KERNEL}.settle()"))
        day = ours.value(f"{_IN_KERNEL}.day_of_autosave()") if cells >= 1 else None
    finally:
        ours.stop()
    kishu_sizes: list[int] = []
    if kishu_cells:
        theirs, _ = start("kishu", tmp / "disk-kishu", workload, scale)
        try:
            kishu_first = _kishu_bytes(theirs.folder)
            for _ in range(kishu_cells):
                theirs.run(code)
                kishu_sizes.append(_kishu_bytes(theirs.folder))
        finally:
            theirs.stop()
    else:
        kishu_first = 0
    return {
        "workload": workload,
        "state_bytes": facts["state_bytes"],
        "first_bytes": facts["bytes"],
        "bytes": [s["bytes"] for s in sizes],
        "generations": [s["generations"] for s in sizes],
        "kishu_first_bytes": kishu_first,
        "kishu_bytes": kishu_sizes,
        "day": day,
    }


# ------------------------------------------------------------------------------ reporting
def _ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms" if ms < 1000 else f"{seconds:.2f} s"


def _gb(n: float) -> str:
    return f"{n / MB:.1f} MB" if n < 1 << 30 else f"{n / (1 << 30):.2f} GB"


def summarise(row: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per cell: the median of each tool, and the medians of the per-round ratios to bare."""
    out = {}
    for kind, by_tool in row["samples"].items():
        rounds = range(len(by_tool["bare"]))
        cell = {tool: statistics.median(times) for tool, times in by_tool.items()}
        for tool in TOOLS[1:]:
            cell[f"{tool}/bare"] = statistics.median(
                by_tool[tool][r] / by_tool["bare"][r] for r in rounds
            )
        cell["kishu/due"] = statistics.median(
            by_tool["kishu"][r] / by_tool["due"][r] for r in rounds
        )
        cell["published"] = row["published"][kind]
        out[kind] = cell
    return out


def cell_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per workload and cell, medians with their ratio to the bare kernel."""
    lines = [
        "| workload | cell | without either | ipyckpt, no snapshot due | ipyckpt, snapshot due "
        "(forked) | its snapshot published after | Kishu 0.3.4 | Kishu / ipyckpt due |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        name = f"{row['workload']} ({_gb(row['state_bytes'])})"
        for kind, c in summarise(row).items():
            code = CELLS[kind]
            lines.append(
                f"| {name} | `{code}` | {_ms(c['bare'])} | {_ms(c['idle'])} ({c['idle/bare']:.2f}x) "
                f"| {_ms(c['due'])} ({c['due/bare']:.2f}x) | {_ms(c['published'])} "
                f"| {_ms(c['kishu'])} ({c['kishu/bare']:.1f}x) | {c['kishu/due']:.1f}x |"
            )
            name = row["workload"]
    return "\n".join(lines)


def first_lines(rows: list[dict[str, Any]]) -> str:
    """The cell that built each namespace: bare, with ipyckpt's first snapshot, with Kishu's."""
    return "\n".join(
        f"- building {row['workload']}: {_ms(row['first_save']['bare'])} bare; with ipyckpt "
        f"{_ms(row['first_save']['ipyckpt'])} until its first snapshot was published; with "
        f"Kishu {_ms(row['first_save']['kishu'])} (its first commit)"
        for row in rows
    )


def target_lines(rows: list[dict[str, Any]], limit: float = 0.05) -> str:
    """Issue #11's target: autosave adds at most 50 ms to any cell."""
    lines = []
    for tool in TOOLS[1:]:
        added = [c[tool] - c["bare"] for row in rows for c in summarise(row).values()]
        met = sum(a <= limit for a in added)
        lines.append(
            f"- {LABELS[tool]}: adds <= {1e3 * limit:.0f} ms in {met} of {len(added)} cells "
            f"(most added: {_ms(max(added))})"
        )
    return "\n".join(lines)


def disk_table(d: dict[str, Any]) -> str:
    """Markdown: disk after n cells of ``weights[0] += 1``, against the issue's target."""
    state = d["state_bytes"]
    lines = [
        f"| after n cells of `weights[0] += 1`, {d['workload']} (state {_gb(state)}) | ipyckpt "
        "| Kishu 0.3.4 | target: 1.2x state + 16 MB per changed chunk |",
        "|---|---|---|---|",
        f"| n = 0 (the first snapshot / commit) | {_gb(d['first_bytes'])} "
        f"| {_gb(d['kishu_first_bytes']) if d['kishu_bytes'] else '-'} | {_gb(1.2 * state)}: "
        f"{'met' if d['first_bytes'] <= 1.2 * state else '**missed**'} |",
    ]
    ours, theirs = d["bytes"], d["kishu_bytes"]
    ends = {len(ours), len(theirs)} - {0}
    for n in sorted({n for n in (1, 3, 10, 30, 100, 300) if n <= max(ends, default=0)} | ends):
        mine = (
            "-"
            if n > len(ours)
            else (
                f"{_gb(ours[n - 1])} ({ours[n - 1] / state:.1f}x, {d['generations'][n - 1]} generations)"
            )
        )
        kishu = "-" if n > len(theirs) else f"{_gb(theirs[n - 1])} ({theirs[n - 1] / state:.1f}x)"
        target = 1.2 * state + 16 * MB * n
        verdict = "" if n > len(ours) else ": met" if ours[n - 1] <= target else ": **missed**"
        lines.append(f"| n = {n} | {mine} | {kishu} | {_gb(target)}{verdict} |")
    return "\n".join(lines)


def day_line(day: dict[str, Any]) -> str:
    """One sentence: what a simulated day of autosave keeps on disk."""
    return (
        f"A day of autosave (simulated clock: one snapshot every {day['interval']:.0f} s, "
        f"{day['snapshots']} in all, each after `weights[0] += 1`, which wrote "
        f"{_gb(day['changed_bytes'])} of new blobs; default retention): {day['kept']} "
        f"generations kept, {_gb(day['bytes'])} = {day['bytes'] / day['state_bytes']:.1f}x "
        f"the state ({_gb(day['state_bytes'])})."
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    from benchmarks.run import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="small,medium,large")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink workloads")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are shown")
    parser.add_argument("--disk", type=int, default=100, help="autosaved cells for the disk")
    parser.add_argument("--kishu-disk", type=int, default=3, help="Kishu cells for the disk")
    parser.add_argument("--disk-workload", default="medium")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    kishu_python()  # install first: not timed with the rest
    with tempfile.TemporaryDirectory(
        prefix="ipyckpt-sidebyside-", dir=os.environ.get("BENCH_DIR")
    ) as tmp:
        workloads = [w for w in args.workloads.split(",") if w]  # "": the disk figures only
        rows = []
        for workload in workloads:  # each workload's rows as soon as they are measured
            rows.append(per_cell(workload, args.scale, args.repeat, Path(tmp)))
            print(cell_table(rows[-1:]), file=sys.stderr, flush=True)
        space = disk(args.disk_workload, args.scale, args.disk, args.kishu_disk, Path(tmp))
    print(
        f"Machine: {machine()}\nScale {args.scale}, medians of {args.repeat} rounds (per-cell); load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"{time.perf_counter() - started:.0f} s in all.\n"
    )
    if rows:
        print(cell_table(rows), "", first_lines(rows), "", target_lines(rows), "", sep="\n")
    print(disk_table(space))
    if space["day"]:
        print("\n" + day_line(space["day"]))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows, "disk": space}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
