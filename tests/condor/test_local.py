"""The runner under the local emulation: checkpoint exits, vacate, SIGKILL, errors, signatures."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ipyckpt.condor import bootstrap, eventlog, local, schedd, submit_cell
from ipyckpt.condor import payload as p
from ipyckpt.condor import record as jobs
from ipyckpt.condor.api import write_inputs
from ipyckpt.condor.job import CondorJob
from ipyckpt.exitcodes import (
    EXIT_BAD_PAYLOAD,
    EXIT_CHECKPOINT,
    EXIT_MISSING_DEPENDENCY,
    EXIT_OK,
)
from ipyckpt.store.errors import CheckpointCorrupt, CheckpointUntrusted, StoreUnsafe

from .conftest import LOOP, wait_for


def _submit(jobs_dir: Path, code: str = LOOP, **kw: Any) -> CondorJob:
    ns = {"n": kw.pop("n", 20), "pause": kw.pop("pause", 0.02)}
    kw.setdefault("every", 0.15)
    return submit_cell(code, ns, jobs_dir=jobs_dir, backend="local", announce=lambda _: None, **kw)


def _err(job: CondorJob) -> str:
    path = job.record.path / "job.err"
    return path.read_text() if path.exists() else ""


def _steps(job: CondorJob) -> int:
    path = job.record.path / "job.out"
    return path.read_text().count("step") if path.exists() else 0


def _check_loop_result(job: CondorJob, n: int) -> None:
    status = job.wait(timeout=90)
    assert status.state == "done", (status, _err(job))
    values = job.fetch()
    assert values["done"] == list(range(n))
    assert values["total"] == sum(range(n))


def test_checkpoint_exits_resume_and_finish(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=40)
    _check_loop_result(job, 40)
    status = job.status()
    assert status.checkpoints >= 3, _err(job)
    assert status.starts == 1  # exit 85 re-runs in the same sandbox: no new EXECUTE event
    assert _err(job).count("resuming from checkpoint") == status.checkpoints
    assert job.result()["value"] == repr(sum(range(40)))  # type: ignore[index]
    # the same log drives both readers: htcondor2.JobEventLog and the fallback parser
    ours = eventlog.parse(job.record.log)
    theirs = schedd.read_log(job.record.log)
    assert theirs is not None
    assert [e["EventTypeNumber"] for e in ours] == [e["EventTypeNumber"] for e in theirs]
    assert jobs.summarize(ours) == jobs.summarize(theirs) == status
    assert theirs[0]["LogNotes"] == job.name


def _vacate_while_the_loop_runs(job: CondorJob, attempts: int = 6) -> None:
    """Vacate ``job`` until the runner's own SIGTERM handler answers: an eviction checkpoint.

    The job is "running" for the schedd also while it restarts after an exit 85, and a vacate
    then stops the new run before the runner handles SIGTERM (a vacate during a periodic
    checkpoint is answered by that checkpoint, which is not spooled): the job is evicted with
    no eviction checkpoint and loses nothing. A pool does the same, so each attempt waits for
    the loop to run again and vacates again until one lands mid-interval.
    """
    for _ in range(attempts):
        evicted, written, seen = job.status().evictions, _err(job).count("(eviction)"), _steps(job)
        wait_for(lambda s=seen: _steps(job) >= s + 3, what="the loop to run")  # a run's loop
        job.vacate()
        wait_for(lambda e=evicted: job.status().evictions == e + 1, what="the eviction")
        if _err(job).count("(eviction)") > written:  # written before the eviction is logged
            return
    raise AssertionError(f"{attempts} vacates all landed between two runs:\n{_err(job)}")


def test_vacate_twice_resumes_from_the_spooled_checkpoint(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=150, pause=0.03, every=0.5, transfer_on_evict=False)  # ON_EXIT
    for round_ in (1, 2):
        wait_for(lambda r=round_: job.status().checkpoints >= 2 * r, what="checkpoints")
        _vacate_while_the_loop_runs(job)
    _check_loop_result(job, 150)
    status = job.status()
    assert status.starts == status.evictions + 1  # each eviction: a fresh sandbox
    err = _err(job)
    assert err.count("(eviction)") == 2  # real SIGTERM: the runner checkpointed in its sandbox
    # ... which HTCondor does not transfer (ON_EXIT): the next sandbox resumes from the spool
    for evicted in re.finditer(r"checkpoint (\d+) \(eviction\)", err):
        resumed = re.search(r"resuming from checkpoint (\d+)", err[evicted.end() :])
        assert resumed and int(resumed.group(1)) == int(evicted.group(1)) - 1


def test_sigkill_at_random_moments_loses_at_most_one_interval(jobs_dir: Path) -> None:
    rng = random.Random(6)
    job = _submit(jobs_dir, n=400, pause=0.01, every=0.1, max_retries=100)
    pid_file = job.record.path / "local" / "job.pid"
    wait_for(pid_file.exists, what="the first run")
    kills = 0
    for _ in range(30):  # 30 seeded trials: SIGKILL whatever run is current at a random moment
        time.sleep(rng.uniform(0.05, 0.4))
        assert not job.status().finished, "the job is too short for 30 trials"
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            kills += 1
        except (ProcessLookupError, ValueError):
            pass  # between two runs (the checkpoint is being spooled): nothing to kill
    assert kills >= 15
    _check_loop_result(job, 400)
    assert job.status().retries >= kills * 0.7, (job.status(), kills)
    last = 0
    for line in _err(job).splitlines():
        if m := re.search(r"checkpoint (\d+) \(periodic\)", line):
            last = int(m.group(1))
        elif m := re.search(r"resuming from checkpoint (\d+)", line):
            assert last - 1 <= int(m.group(1)) <= last, line  # at most one interval lost


def test_user_error_returns_the_traceback_without_retries(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, "values = [1, 2]\nratio = values[0] / (values[1] - 2)\n")
    status = job.wait(timeout=60)
    assert (status.state, status.exit_code, status.retries) == ("failed", 1, 0), job.log()
    problem = job.problem() or ""
    assert "ZeroDivisionError: division by zero" in problem, (problem, job.log())
    assert "ratio = values[0] / (values[1] - 2)" in problem  # the cell's own line
    with pytest.raises(p.JobFailed, match="ZeroDivisionError"):
        job.fetch()


def test_tampered_results_are_refused(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, "answer = 42\n")
    assert job.wait(timeout=60).state == "done"
    assert job.fetch() == {"answer": 42}
    manifest = next((job.record.path / p.OUTPUTS / "generations").glob("*.json"))
    manifest.write_bytes(manifest.read_bytes().replace(b'"end"', b'"END"'))
    with pytest.raises((CheckpointUntrusted, CheckpointCorrupt)):
        job.fetch()
    result = job.record.path / p.RESULT
    result.write_bytes(result.read_bytes().replace(b'"ok"', b'"OK"'))
    with pytest.raises(CheckpointUntrusted, match="not signed by this job's key"):
        job.fetch()


def test_result_from_other_versions_is_refused(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, "answer = 42\n")
    assert job.wait(timeout=60).state == "done"
    key = bytes.fromhex(job.record.key)
    body = p.unseal(key, (job.record.path / p.RESULT).read_bytes(), "result")
    body["versions"]["dill"] = "0.0.1"
    p.write_sealed(job.record.path / p.RESULT, key, body)
    with pytest.raises(p.VersionMismatch, match=r"dill 0\.0\.1 there"):
        job.fetch()


def _sandbox(tmp_path: Path, code: str, **spec: Any) -> Path:
    key = p.new_key()
    doc = {"name": "t", "code": code, "every": None, "returns": ["x"], "inputs": []}
    doc |= {"grace": 5, "versions": p.versions(), "key": key.hex()} | spec
    folder = tmp_path / "sandbox"
    write_inputs(folder, doc, {"start": 1})
    return folder


def _result(folder: Path) -> dict[str, Any]:
    key = p.read_key(folder / p.KEY)
    return p.unseal(key, (folder / p.RESULT).read_bytes(), "result")


def test_runner_refuses_inputs_from_other_versions(tmp_path: Path) -> None:
    versions = p.versions() | {"python": "2.7.18", "dill": "0.0.1"}
    folder = _sandbox(tmp_path, "x = start\n", versions=versions)
    proc = subprocess.run(
        [sys.executable, p.BOOTSTRAP], cwd=folder, capture_output=True, text=True, check=False
    )
    assert proc.returncode == EXIT_BAD_PAYLOAD
    message = _result(folder)["message"]
    assert "version mismatch" in message and "Python 2.7.18 there" in message, message
    assert "Traceback" not in proc.stderr


def test_runner_checkpoints_on_sigterm(tmp_path: Path) -> None:
    code = "import sys, time\nx = 0\nwhile True:\n    x += 1\n    print(x, flush=True)\n    time.sleep(0.01)\n"
    folder = _sandbox(tmp_path, code)
    with subprocess.Popen(
        [sys.executable, p.BOOTSTRAP], cwd=folder, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == EXIT_CHECKPOINT
    gens = p.store(folder / p.CHECKPOINT, p.read_key(folder / p.KEY)).generations()
    assert gens[0].trigger == "eviction" and "iteration" in gens[0].info["where"]


def test_missing_dependency_on_the_execute_node(jobs_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare-python"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S -I "$@"\n')  # no site-packages
    bare.chmod(0o755)
    job = _submit(jobs_dir, "x = 1\n", python=str(bare))
    status = job.wait(timeout=60)
    assert (status.state, status.exit_code) == ("failed", EXIT_MISSING_DEPENDENCY)
    problem = job.problem() or ""
    assert "missing on the execute node" in problem and "ipyckpt" in problem, problem


def test_missing_output_file_holds_the_job(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, "import os\nos.remove('ipyckpt-result.json')\nos._exit(0)\n")
    status = job.wait(timeout=60)
    assert status.state == "held"
    assert "ipyckpt-result.json" in (status.hold_reason or "")
    assert "is held" in (job.problem() or "")
    job.remove()  # a held job has no supervisor: the removal is logged at once
    assert job.status().state == "removed"


def test_missing_checkpoint_file_holds_the_job(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, "import os, shutil\nshutil.rmtree('ipyckpt-ckpt')\nos._exit(85)\n")
    status = job.wait(timeout=60)
    assert status.state == "held"
    assert "Checkpoint upload failed: ipyckpt-ckpt" in (status.hold_reason or "")


def test_remove_a_running_job(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=1000, pause=0.05)
    wait_for(lambda: _steps(job) >= 2, what="the job to run")
    job.remove()
    assert job.wait(timeout=60).state == "removed"
    with pytest.raises(p.JobFailed, match=r"is removed.*nothing to fetch"):
        job.fetch()


def test_sigkill_during_checkpoint_writes_in_the_same_sandbox(tmp_path: Path) -> None:
    """Worst case for the runner: killed while writing a checkpoint, restarted in place."""
    code = (
        "import os\ndone = []\nfor i in range(60):\n"
        "    pad = os.urandom(4_000_000)  # every checkpoint writes new data\n"
        "    done.append(i)\n"
    )
    folder = _sandbox(tmp_path, code, every=0.05, returns=["done"])
    temp = folder / p.CHECKPOINT / "tmp"
    hits, runs = 0, 0
    while True:
        runs += 1
        assert runs < 200, "the job never finished"
        with subprocess.Popen([sys.executable, p.BOOTSTRAP], cwd=folder) as proc:
            while hits < 5 and proc.poll() is None:
                if temp.is_dir() and any(temp.iterdir()):  # a checkpoint is being written
                    proc.kill()
                    hits += 1
                    break
            code_ = proc.wait(timeout=60)
        if code_ == EXIT_OK:
            break
        assert code_ in (EXIT_CHECKPOINT, -signal.SIGKILL), code_
    assert hits == 5
    key = p.read_key(folder / p.KEY)
    assert p.store(folder / p.OUTPUTS, key).load().values["done"] == list(range(60))
    assert p.store(folder / p.CHECKPOINT, key).verify().ok


def test_lost_supervisor_is_reported(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=1000, pause=0.05)
    wait_for(lambda: _steps(job) >= 1, what="the job to run")
    local = job.record.path / "local"
    os.kill(int((local / "supervisor.pid").read_text()), signal.SIGKILL)
    os.killpg(int((local / "job.pid").read_text()), signal.SIGKILL)  # the orphaned job
    status = job.wait(timeout=30)
    assert status.state == "lost"
    assert "supervisor process is gone" in (job.problem() or "")
    job.remove()
    assert job.status().state == "removed"


def test_first_checkpoint_killed_before_its_marker_is_reused(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir(mode=0o700)
    # what a first save killed while writing its marker leaves (the marker is written first)
    (folder / "ipyckpt-store.json.0123456789abcdef.tmp").write_bytes(b"{")
    store = p.store(folder, p.new_key())
    assert store.generation_ids() == []
    store.save({"a": 1})
    assert store.load().values == {"a": 1}


def test_unpicklable_and_undefined_names_are_reported(jobs_dir: Path) -> None:
    said: list[str] = []
    ns = {"numbers": (i for i in range(3)), "k": 2}  # a generator cannot be saved
    code = "x = k * 21\nnumbers\n"
    job = submit_cell(
        code, ns, jobs_dir=jobs_dir, backend="local", returns=["x", "nope"],
        inputs=["numbers", "k", "absent"], announce=said.append,
    )  # fmt: skip
    assert "inputs: numbers, k, absent; returns: x, nope" in said[0], said
    assert "not sent (unpicklable): numbers (cannot pickle 'generator'" in said[0], said
    assert "not defined here: absent" in said[0]
    status = job.wait(timeout=60)
    assert status.state == "failed"  # the cell reads numbers, which could not be sent
    assert "NameError: name 'numbers' is not defined" in (job.problem() or "")
    job = submit_cell(
        "gen = (i for i in range(k))\nx = k * 21\n", {"k": 2}, jobs_dir=jobs_dir,
        backend="local", returns=["gen", "x", "nope"], announce=said.append,
    )  # fmt: skip
    assert job.wait(timeout=60).state == "done"
    assert job.fetch() == {"x": 42}
    result = job.result() or {}
    assert "gen" in result["skipped"] and result["not_defined"] == ["nope"]


def test_retries_run_out(jobs_dir: Path) -> None:
    code = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    job = _submit(jobs_dir, code, max_retries=2)
    status = job.wait(timeout=60)
    assert (status.state, status.signal, status.retries, status.starts) == ("failed", 9, 2, 3)
    assert "failed (signal 9)" in repr(job)


def test_input_whose_module_is_missing_on_the_execute_node(
    jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "onlyhere.py").write_text(
        "class Model:\n    def __init__(self):\n        self.w = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import onlyhere  # type: ignore[import-not-found]

    job = submit_cell(
        "y = model.w * 2\n", {"model": onlyhere.Model()}, jobs_dir=jobs_dir, backend="local",
        announce=lambda _: None,
    )  # fmt: skip
    status = job.wait(timeout=60)
    assert (status.state, status.exit_code, status.retries) == ("failed", EXIT_BAD_PAYLOAD, 0)
    problem = job.problem() or ""
    assert "could not restore the inputs on the execute node" in problem, problem
    assert "No module named 'onlyhere'" in problem and "Install what is missing" in problem


def test_local_backend_refuses_container_images(jobs_dir: Path) -> None:
    with pytest.raises(ValueError, match="image= needs a pool"):
        _submit(jobs_dir, "x = 1\n", image="docker://python:3.11")
    assert not jobs_dir.exists() or not any(jobs_dir.iterdir())


def test_broken_installation_on_the_execute_node_is_reported(
    jobs_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dill.py").write_text("raise RuntimeError('broken dill installation')\n")
    python = tmp_path / "python-with-broken-dill"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={broken} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    job = _submit(jobs_dir, "x = 1\n", python=str(python), max_retries=1)
    status = job.wait(timeout=60)
    assert (status.state, status.exit_code, status.retries) == ("failed", 4, 1), job.log()
    problem = job.problem() or ""
    assert "ipyckpt failed" in problem and "RuntimeError: broken dill installation" in problem


def test_a_group_writable_transfer_is_made_private_before_the_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _sandbox(tmp_path, "x = start\n")
    key = p.read_key(folder / p.KEY)
    p.store(folder / p.CHECKPOINT, key).save({"x": 1}, trigger="periodic")
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)
    (folder / p.CHECKPOINT / "tmp" / "link").symlink_to(outside)
    foreign = folder / p.CHECKPOINT / "tmp" / "foreign"
    foreign.write_text("")
    os.chown(foreign, 12345, 12345)  # we are root in the tests: a file of another user
    for entry in folder.iterdir():  # as the emulated pool transfers them (umask 002)
        local._as_transferred(entry)
    assert (folder / p.CHECKPOINT).stat().st_mode & 0o777 == 0o775
    with pytest.raises(StoreUnsafe, match="writable by other users"):
        p.store(folder / p.CHECKPOINT, key)
    monkeypatch.chdir(folder)
    bootstrap.ensure_transfer_files()  # what the job does first
    ours = [folder / p.KEY, *(folder / p.CHECKPOINT).rglob("*"), *(folder / p.INPUTS).rglob("*")]
    modes = {str(q): q.lstat().st_mode & 0o777 for q in ours if q.name not in ("link", "foreign")}
    assert set(modes.values()) == {0o700, 0o600}, modes
    assert outside.stat().st_mode & 0o777 == 0o777, "a symlink was followed"
    assert foreign.stat().st_mode & 0o777 == 0o664, "another user's file was changed"
    assert p.store(folder / p.CHECKPOINT, key).load().values == {"x": 1}


def test_a_vacated_job_resumes_from_a_group_writable_transfer(jobs_dir: Path) -> None:
    job = _submit(jobs_dir, n=100, pause=0.03, every=0.3, transfer_on_evict=False)
    wait_for(lambda: job.status().checkpoints >= 1 or job.status().finished, what="a checkpoint")
    assert not job.status().finished, _err(job)  # its inputs came group-writable too
    _vacate_while_the_loop_runs(job)  # the next sandbox gets the spool as the pool transfers it
    status = job.wait(timeout=90)
    assert status.state == "done" and status.starts == status.evictions + 1, (status, _err(job))
    assert "resuming from checkpoint" in _err(job).split("(eviction)")[-1]  # the fresh sandbox
    assert job.fetch()["done"] == list(range(100))


def test_outputs_returned_group_writable_are_made_private_when_fetched(
    jobs_dir: Path, tmp_path: Path
) -> None:
    job = _submit(jobs_dir, "x = list(range(5))\n", returns=["x"])
    assert job.wait(timeout=60).state == "done", _err(job)
    outputs = job.folder / p.OUTPUTS
    returned = [job.folder / p.RESULT, outputs, *outputs.rglob("*")]
    modes = {q.lstat().st_mode & 0o777 for q in returned}
    assert modes == {0o775, 0o664}, modes  # as the shadow creates them under umask 002
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)
    (outputs / "tmp" / "link").symlink_to(outside)
    foreign = outputs / "tmp" / "foreign"
    foreign.write_text("")
    foreign.chmod(0o664)
    os.chown(foreign, 12345, 12345)  # we are root in the tests: a file of another user
    assert job.fetch() == {"x": [0, 1, 2, 3, 4]}
    ours = [q for q in returned if q.name not in ("link", "foreign")]
    assert {q.lstat().st_mode & 0o777 for q in ours} == {0o700, 0o600}
    assert outside.stat().st_mode & 0o777 == 0o777, "a symlink was followed"
    assert foreign.stat().st_mode & 0o777 == 0o664, "another user's file was changed"
