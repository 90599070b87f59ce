"""Acceptance of issue 11: real example scripts continue exactly after a SIGKILL and a restore.

For each example of the outside corpus (:mod:`tests.acceptance.corpus`): run the first half of its
cells under ``%%checkpoint`` in a real kernel, SIGKILL the kernel, start a new kernel for the same
notebook (``%load_ext ipyckpt`` restores automatically), run the remaining cells unchanged, and
compare every variable with an uninterrupted run. Variables that differ between two uninterrupted
runs (timings, unseeded randomness) are left out of the comparison.

The README reports "N of M continued exactly" from this test; a known failure is an ``xfail``
whose reason is its cause (strict: it must really fail).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance import corpus
from tests.kernel.conftest import Kernel

FINGERPRINT_SOURCE = (Path(__file__).parent / "fingerprint.py").read_text()
MARK = "@@fingerprints@@"

#: example -> why it does not continue exactly (checked: each one must still fail)
KNOWN_FAILURES: dict[str, str] = {}


@dataclass
class Run:
    """What one run of an example's cells left behind."""

    fingerprints: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    restore_message: str = ""


@pytest.fixture(scope="session")
def corpus_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, corpus.Example]:
    """The corpus, downloaded once per session and copied into a scratch folder."""
    work = tmp_path_factory.mktemp("corpus")
    return {ex.name: ex for ex in corpus.examples(work)}


@pytest.fixture
def start_kernel(tmp_path: Path) -> Iterator[Any]:
    """``start_kernel(example)`` starts a kernel as jupyter_server would for the example."""
    kernels: list[Kernel] = []
    env = {k: v for k, v in os.environ.items() if k != "IPYCKPT_STORE"}
    env.update(
        IPYTHONDIR=str(tmp_path / "ipython"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        # The uninterrupted run and the restored one are different processes: with random string
        # hashes, a computation whose result depends on set order (networkx's communities of
        # equal size) differs between two plain runs already. A fixed seed compares like with
        # like; what a new hash seed changes after a restore is in the README's limits.
        PYTHONHASHSEED="0",
    )

    def start(example: corpus.Example) -> Kernel:
        notebook = example.folder / f"{example.script.stem}.ipynb"
        kernel = Kernel(notebook, {**env, "JPY_SESSION_NAME": str(notebook)}).start()
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.stop()


def run_cells(kernel: Kernel, cells: list[str], run: Run) -> None:
    """Run ``cells`` in order, stopping at the first error (as Run All does)."""
    for index, cell in enumerate(cells):
        out = kernel.run(cell, allow_error=True, timeout=300)
        if out.error is not None:
            run.error = f"cell {index + 1} raised {out.error['ename']}: {out.error['evalue']}"
            return


def take_fingerprints(kernel: Kernel, run: Run) -> None:
    """Fingerprint every user variable (the harness's own names are dunder names)."""
    code = (
        f"__fp = {{}}\nexec({FINGERPRINT_SOURCE!r}, __fp)\n"
        "__ip = get_ipython()\n"
        f"print({MARK!r} + __import__('json').dumps("
        "__fp['fingerprints'](__ip.user_ns, __ip.user_ns_hidden)))"
    )
    out = kernel.run(code)
    run.fingerprints = json.loads(out.stdout.split(MARK, 1)[1])


def uninterrupted(start_kernel: Any, example: corpus.Example, cells: list[str]) -> Run:
    """All cells in one kernel, no checkpoints."""
    run = Run()
    kernel = start_kernel(example)
    run_cells(kernel, cells, run)
    take_fingerprints(kernel, run)
    kernel.stop()
    return run


def interrupted(start_kernel: Any, example: corpus.Example, cells: list[str], k: int) -> Run:
    """The first ``k`` cells under ``%%checkpoint``, SIGKILL, restore, the rest unchanged."""
    run = Run()
    first = start_kernel(example)
    first.run("%load_ext ipyckpt")
    run_cells(first, [f"%%checkpoint\n{cell}" for cell in cells[:k]], run)
    first.kill(signal.SIGKILL)
    if run.error is not None:
        return run
    second = start_kernel(example)
    run.restore_message = second.run("%load_ext ipyckpt").stdout
    run_cells(second, cells[k:], run)
    take_fingerprints(second, run)
    return run


def differences(expected: Run, other: Run, resumed: Run) -> list[str]:
    """What the resumed run got wrong, with the variables left out as unstable."""
    problems = [f"the resumed run: {resumed.error}"] if resumed.error else []
    for name, value in sorted(expected.fingerprints.items()):
        if other.fingerprints.get(name) != value:
            continue  # differs between two uninterrupted runs: not comparable
        got = resumed.fingerprints.get(name)
        if got is None:
            problems.append(f"{name} is missing")
        elif got != value:
            problems.append(f"{name} differs: {got[:120]} != {value[:120]}")
    return problems


def _params() -> list[Any]:
    params = []
    for (dist, _version), paths in corpus.CORPUS.items():
        for rel in paths:
            name = f"{dist}/{Path(rel).stem}"
            marks = []
            if name in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[name], strict=True))
            params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.mark.slow
@pytest.mark.parametrize("name", _params())
def test_example_continues_exactly_after_sigkill_and_restore(
    name: str, corpus_examples: dict[str, corpus.Example], start_kernel: Any
) -> None:
    example = corpus_examples[name]
    cells = corpus.split_cells(example.script.read_text())
    assert len(cells) >= 2, f"{name} has fewer than two cells"
    reference = uninterrupted(start_kernel, example, cells)
    assert reference.error is None, f"{name} does not run on its own: {reference.error}"
    again = uninterrupted(start_kernel, example, cells)
    resumed = interrupted(start_kernel, example, cells, k=(len(cells) + 1) // 2)
    problems = differences(reference, again, resumed)
    assert not problems, (
        f"{name} did not continue exactly after cell {(len(cells) + 1) // 2} of {len(cells)}:\n  "
        + "\n  ".join(problems)
        + f"\n  restore said: {resumed.restore_message.strip()}"
    )
