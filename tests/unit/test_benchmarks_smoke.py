"""A tiny run of the benchmark suite, so it cannot rot (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import TOOLS

ROOT = Path(__file__).resolve().parents[2]
TINY = ("--workloads", "small", "--scale", "0.01", "--repeat", "1")  # the smallest run


def bench(*args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` in the project root; it must succeed (its stderr tail says why not)."""
    command = [sys.executable, "-m", *args]
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_benchmark_script_measures_every_tool_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = bench(
        "benchmarks.run",
        *TINY,
        "--iterations",
        "200",
        "--json",
        str(out),
    )
    doc = json.loads(out.read_text())
    rows = {r["tool"]: r for r in doc["rows"]}
    assert set(rows) == set(TOOLS)
    for row in rows.values():
        assert row["save"] > 0 and row["restore"] > 0 and row["size"] > 0
    assert rows["raw"]["save_ratio"] == 1.0
    assert rows["raw"]["size"] >= rows["ipyckpt"]["size"] > 0  # raw wrote as many bytes
    for key in ("unchanged", "one_element", "small_var"):
        assert rows["ipyckpt"][key] > 0
    assert set(doc["overhead"]) == {
        "check_us",
        "body_us",
        "loop_overhead_pct",
        "direct_pct",
        "cell_overhead_ms",
    }
    assert "| small | ipyckpt |" in run.stdout and "per cell" in run.stdout


def test_autosave_benchmark_measures_every_cell_in_every_mode(tmp_path: Path) -> None:
    run = bench(
        "benchmarks.autosave",
        *TINY,
        "--disk",
        "3",
    )
    cells, disk = (json.loads(line) for line in run.stdout.splitlines() if line.startswith("{"))
    assert set(cells["seconds"]) == {"pass", "small += 1", "read array", "arr[0] += 1"}
    assert all(t["due"] > 0 for t in cells["seconds"].values())
    assert disk["generations"] >= 2 and disk["store_bytes"] > disk["state_bytes"] > 0
    assert "+idle ms" in run.stdout


def test_background_figures_script_runs(tmp_path: Path) -> None:
    """The issue 13 worker on the small workload (the 320 MB / 1 GB parts run for medium only)."""
    run = bench("benchmarks.background", "small", "0.01", str(tmp_path), "1")
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert 0 < figures["stopped"] < figures["published"]
    assert 0 < figures["unchanged_stopped"] < figures["unchanged_published"]


@pytest.mark.timeout(600)  # the first run installs Kishu into its cached venv (~1 min)
def test_side_by_side_with_kishu_measures_every_cell_and_the_disk(tmp_path: Path) -> None:
    out = tmp_path / "sidebyside.json"
    run = bench(
        "benchmarks.sidebyside",
        *TINY,
        "--disk",
        "2",
        "--kishu-disk",
        "1",
        "--disk-workload",
        "small",
        "--json",
        str(out),
        timeout=580,
    )
    doc = json.loads(out.read_text())
    samples = doc["rows"][0]["samples"]
    assert set(samples) == {"pass", "small += 1", "read array", "arr[0] += 1"}
    assert all(len(t) == 1 and t[0] > 0 for by_tool in samples.values() for t in by_tool.values())
    disk = doc["disk"]
    assert len(disk["bytes"]) == 2 and disk["bytes"][-1] > disk["first_bytes"] > 0
    assert disk["kishu_bytes"][0] > disk["kishu_first_bytes"] > 0  # Kishu really committed
    assert disk["day"]["kept"] >= 2 and disk["day"]["bytes"] >= disk["day"]["state_bytes"]
    assert "| small (" in run.stdout and "Kishu 0.3.4" in run.stdout and "A day of" in run.stdout


def test_parts_benchmark_measures_with_and_without_parts(tmp_path: Path) -> None:
    run = bench("benchmarks.parts", "small", "0.01", str(tmp_path), "1")
    doc = json.loads(run.stdout.splitlines()[-1])
    for label in ("parts", "noparts"):
        assert doc[f"{label}_published"] >= doc[f"{label}_stopped"] > 0
        assert doc[f"{label}_inprocess"] > 0
