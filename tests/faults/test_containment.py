"""Nothing that goes wrong while taking a snapshot inside a running cell aborts the cell.

Real kernels; the faults are injected by the cell itself while it runs (hostile manifests, a
corrupted signing key) or carried by a variable (a ``__reduce__`` that never returns).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ipyckpt import Store
from tests.faults.conftest import problem_lines
from tests.faults.test_hostile_files import HOSTILE

INJECTING_CELL = """%%checkpoint every=0.05s
import json, os, time
from pathlib import Path
gens = Path(os.environ["IPYCKPT_STORE"]) / "generations"
key = Path(os.environ["JUPYTER_DATA_DIR"]) / "ipyckpt" / "signing.key"
total = 0
for step in range(12):
    total += step
    if step == 4:  # hostile files appear in the store while the cell runs
        good = json.loads(sorted(gens.iterdir())[-1].read_text())
        hostile = {{
            "segments-list": json.dumps(dict(good, segments=[])),
            "1e400": json.dumps(good).replace('"created": ', '"created": 1e400, "x": '),
            "deep": '{{"format": 2, "info": ' + "[" * 100000 + "]" * 100000 + "}}",
            "negative": json.dumps(good).replace('"bytes_written": ', '"bytes_written": -7, "y": '),
            "types": json.dumps(dict(good, variables=["total"])),
            "not-json": "\\x00\\xff garbage",
            "list": "[1, 2]",
        }}
        for n, text in enumerate(hostile.values()):
            (gens / f"{{90 + n:08d}}.json").write_text(text)
    if step == 8:  # and the signing key is damaged
        key.with_name("key.bak").write_bytes(key.read_bytes())
        key.write_text("this is not a key")
    time.sleep(0.06)
print("cell finished", total)
"""


def failed(reason: str) -> str:
    """A pattern for the line a failed snapshot prints, in-process or in the background."""
    return (
        rf"ipyckpt: (snapshot \d+ failed|background snapshot \d+ \(periodic\) failed, the "
        rf"previous one is intact): {reason}"
    )


SKIPPED = r"ipyckpt: snapshots skipped while background snapshot \d+ is still being written .*"


@pytest.mark.parametrize("background", [True, False], ids=["background", "in-process"])
def test_hostile_manifests_and_a_corrupt_key_mid_cell_never_abort_it(
    open_kernel: Any, tmp_path: Path, background: bool
) -> None:
    directory = tmp_path / "store"
    k = open_kernel(IPYCKPT_STORE=str(directory))
    k.run("%load_ext ipyckpt")
    k.run(f"%config Checkpointer.background = {background}")
    out = k.run(INJECTING_CELL.format())
    assert out.error is None
    assert "cell finished 66" in out.stdout
    failures = [line for line in problem_lines(out.stderr) if "ipyckpt" in line]
    key_failures = [line for line in failures if not re.fullmatch(SKIPPED, line)]
    assert key_failures, "the snapshots after the key was damaged failed"
    for line in key_failures:
        assert re.fullmatch(failed("the signing key .* is damaged .*"), line), line
    assert "Traceback" not in out.stderr
    k.kill()
    k2 = open_kernel(IPYCKPT_STORE=str(directory))
    loaded = k2.run("%load_ext ipyckpt")
    assert loaded.error is None
    assert [line for line in loaded.stderr.splitlines() if line.strip()] == [
        line for line in loaded.stderr.splitlines() if "signing key" in line
    ], "one line about the key, no traceback"
    assert "could not restore the state checkpoint" in loaded.stderr
    k2.kill()
    key = Path(k2.env["JUPYTER_DATA_DIR"]) / "ipyckpt" / "signing.key"
    key.write_bytes(key.with_name("key.bak").read_bytes())  # the user repairs the key
    good = max(i.id for i in Store(directory).generations() if i.problem is None)
    doc = json.loads((directory / "generations" / f"{good:08d}.json").read_text())
    for n, build in enumerate(HOSTILE.values()):  # hostile files newer than every good one
        (directory / "generations" / f"{good + 1 + n:08d}.json").write_bytes(build(dict(doc)))
    k3 = open_kernel(IPYCKPT_STORE=str(directory))
    restored = k3.run("%load_ext ipyckpt")
    assert f"from state checkpoint {good} " in restored.stdout, restored.text
    assert restored.stderr.strip() == ""
    step, total = k3.value("(step, total)")
    assert total == step * (step - 1) // 2, "taken at the top of an iteration: consistent"


HUNG_CELL = """%%checkpoint every=0.2s
import time
class Stuck:
    def __reduce__(self):
        time.sleep(10**6)
stuck = Stuck()
total = 0
for i in range(10):
    total += i
    time.sleep(0.1)
total
"""


@pytest.mark.parametrize("background", [True, False], ids=["background", "in-process"])
def test_a_hung_reduce_abandons_the_snapshot_and_the_cell_finishes(
    open_kernel: Any, tmp_path: Path, background: bool
) -> None:
    directory = tmp_path / "store"
    k = open_kernel(IPYCKPT_STORE=str(directory))
    k.run("%load_ext ipyckpt")
    k.run(f"%config Checkpointer.background = {background}")
    k.run("%config Checkpointer.snapshot_deadline = '1s'")
    out = k.run("%%checkpoint\nbefore = 1")
    out = k.run(HUNG_CELL, timeout=120)
    assert out.error is None and out.value == "45", out.text
    failures = problem_lines(out.stderr)
    abandoned = failed(
        r"snapshot abandoned: pickling variable 'stuck' took longer than the 1 s snapshot "
        r"deadline .*"
    )
    assert failures and all(
        re.fullmatch(abandoned, line) or re.fullmatch(SKIPPED, line) for line in failures
    ), out.stderr
    assert any(re.fullmatch(abandoned, line) for line in failures), out.stderr
    assert k.value("total") == 45
    assert Store(directory).load().values == {"before": 1}, "the previous generation is intact"
