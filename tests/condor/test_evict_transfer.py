"""transfer_on_evict: the checkpoint written on SIGTERM is transferred, and a transfer cut off
mid-way never restores a torn store (the previous generation wins)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ipyckpt.condor import local, restart, submit_cell
from ipyckpt.condor import payload as p
from ipyckpt.condor.job import CondorJob

from .conftest import LOOP, wait_for


def _submit(jobs_dir: Path, n: int, every: float, **kw: Any) -> CondorJob:
    return submit_cell(
        LOOP, {"n": n, "pause": 0.02}, jobs_dir=jobs_dir, backend="local", every=every,
        announce=lambda _: None, **kw,
    )  # fmt: skip


def _out(job: CondorJob, name: str) -> str:
    path = job.record.path / name
    return path.read_text() if path.exists() else ""


def test_the_eviction_checkpoint_is_transferred_and_resumed(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=150, every=1.0, transfer_on_evict=True)
    assert job.record.description["when_to_transfer_output"] == "ON_EXIT_OR_EVICT"
    wait_for(lambda: job.status().checkpoints >= 1, what="a periodic checkpoint")
    seen = _out(job, "job.out").count("step")
    wait_for(lambda: _out(job, "job.out").count("step") >= seen + 10, what="mid-interval")
    job.vacate()
    wait_for(lambda: job.status().evictions == 1, what="the eviction")
    assert job.wait(timeout=90).state == "done", job.log()
    values = job.fetch()
    assert values["done"] == list(range(150)) and values["total"] == sum(range(150))
    err = _out(job, "job.err")
    evicted = re.search(r"checkpoint (\d+) \(eviction\) at statement \d+, iteration (\d+)", err)
    if evicted:  # else SIGTERM came while a run was restarting, right after a checkpoint
        resumed = re.search(r"resuming from checkpoint (\d+)", err[evicted.end() :])
        assert resumed and resumed.group(1) == evicted.group(1), err  # not the periodic one
    # only the iterations in flight when SIGTERM came are run twice (ON_EXIT: about 10 or more)
    assert _out(job, "job.out").count("step") - 150 <= 2, err


def _store_with_two_generations(sandbox: Path, spool: Path, key: bytes) -> dict[int, Any]:
    """Generation 1 spooled (a periodic checkpoint), generation 2 written on SIGTERM."""
    ckpt = p.store(sandbox / p.CHECKPOINT, key)
    first = {"step": 1, "weights": os.urandom(50_000), "log": list(range(3000))}
    ckpt.save(first, trigger="periodic", info={"versions": p.versions()})
    local._commit(sandbox, [p.CHECKPOINT], spool)
    second = {"step": 2, "weights": os.urandom(80_000), "log": list(range(6000))}
    ckpt.save(second, trigger="eviction", info={"versions": p.versions()})
    return {1: first, 2: second}


def test_a_cut_off_transfer_never_restores_a_torn_store(tmp_path: Path) -> None:
    key = p.new_key()
    sandbox, spool = tmp_path / "sandbox", tmp_path / "spool"
    sandbox.mkdir()
    saved = _store_with_two_generations(sandbox, spool, key)
    p.store(sandbox / p.INPUTS, key).save({"step": 0}, info={"versions": p.versions()})
    restored: dict[int, int] = {}
    for seed in range(40):  # 40 cuts at random bytes, files sent in a random order
        trial = tmp_path / f"spool-{seed}"
        shutil.copytree(spool, trial, symlinks=True)
        local._cut_commit(sandbox, [p.CHECKPOINT], trial, seed)
        fresh = tmp_path / f"next-sandbox-{seed}"  # what the next run gets: inputs + spool
        shutil.copytree(sandbox / p.INPUTS, fresh / p.INPUTS)
        shutil.copytree((trial / p.CHECKPOINT).resolve(), fresh / p.CHECKPOINT)
        start = restart.starting_point(fresh, key, lambda _: None)
        assert start.generation in saved, (seed, start)
        assert start.values == saved[start.generation], seed  # whole, never a mix
        restored[start.generation] = restored.get(start.generation, 0) + 1
    assert restored.get(1, 0) >= 5 and restored.get(2, 0) >= 1, restored  # both cases seen
