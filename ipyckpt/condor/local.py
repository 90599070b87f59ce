"""``backend=local``: an emulation of an HTCondor execute slot on this machine (not a pool).

A detached supervisor process plays the schedd, shadow and starter for one job, following
HTCondor's documented self-checkpointing semantics:

- the job runs in a sandbox holding the ``transfer_input_files``;
- exit 85 (the ``checkpoint_exit_code``): the ``transfer_checkpoint_files`` are copied to a spool
  directory (staged, then committed by an atomic rename; entries the new checkpoint lacks stay)
  and the job is started again **in the same sandbox**; a listed file that is missing holds the
  job (HoldReasonCode 36);
- vacate: SIGTERM, then SIGKILL after ``job_max_vacate_time``; nothing is transferred
  (``when_to_transfer_output = ON_EXIT``); the next run gets a **fresh** sandbox with the input
  files and the spooled checkpoint on top;
- any other exit: the ``transfer_output_files`` come back to the job's directory (a missing one
  holds the job, code 12) unless ``max_retries`` requeues the job into a fresh sandbox;
- everything is written to an HTCondor-format user log, read back like a real pool's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ipyckpt.condor.eventlog import EventWriter
from ipyckpt.condor.jobs import TERMINAL, JobRecord, read_events, summarize
from ipyckpt.exitcodes import EXIT_CHECKPOINT, NO_RETRY_EXIT_CODES

POLL_S = 0.05
LOCAL = "local"  # <job dir>/local/: spool, execute, requests, pids
ACTIONS = ("vacate", "rm")


def _files(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def request(record: JobRecord, action: str) -> None:
    """Ask the supervisor to ``vacate`` or ``rm`` the job (it polls for request files).

    A held job has no supervisor any more: removing it logs the abort directly, as the schedd
    would.
    """
    state = summarize(read_events(record.log)).state
    if state == "held" or not supervisor_alive(record):  # no supervisor to ask any more
        if action == "rm" and state not in TERMINAL:
            EventWriter(record.log, record.cluster or 0).aborted(f"via %condor rm ({state} job)")
        return
    if action == "vacate" and state != "running":
        return  # nothing to evict (a stale request would evict a later run)
    folder = record.path / LOCAL / "requests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / action).touch()


def supervisor_alive(record: JobRecord) -> bool:
    """False if the job's supervisor process has gone (e.g. the machine rebooted)."""
    pid_file = record.path / LOCAL / "supervisor.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except FileNotFoundError:
        return True  # not started yet
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def spawn(record: JobRecord) -> None:
    """Start the detached supervisor (it outlives the kernel) and log the submit event."""
    EventWriter(record.log, record.cluster or 0).submit(record.description["submit_event_notes"])
    (record.path / LOCAL).mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "ipyckpt.condor.local", "--detach", str(record.path)]
    subprocess.run(cmd, check=True, timeout=60)


def _copy(src: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        shutil.copy2(src, dest)


def _commit(sandbox: Path, entries: list[str], spool: Path) -> None:
    """Stage the checkpoint entries in a new spool version, then switch each entry to it.

    Each spool entry is a symlink into a version directory; switching is an atomic rename of a
    new symlink over the old one, so the spool always holds a complete copy of every entry.
    """
    version = spool / f".v-{time.time_ns()}-{secrets.token_hex(2)}"
    version.mkdir(parents=True)
    for entry in entries:
        _copy(sandbox / entry, version / entry)
    for entry in entries:
        link = spool / f".link-{secrets.token_hex(4)}"
        link.symlink_to(version.name + "/" + entry)
        os.replace(link, spool / entry)
    in_use = {(spool / e).resolve().parent for e in spool.iterdir() if e.is_symlink()}
    for old in spool.glob(".v-*"):
        if old.resolve() not in in_use:
            shutil.rmtree(old, ignore_errors=True)


class Supervisor:
    """Runs one job to its end, as the pool would."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self.desc = record.description
        self.iwd = record.path
        self.local = record.path / LOCAL
        self.spool = self.local / "spool"
        self.log = EventWriter(record.log, record.cluster or 0)
        self.ckpt_files = _files(self.desc["transfer_checkpoint_files"])
        self.out_files = _files(self.desc["transfer_output_files"])
        self.starts = self.completions = self.checkpoints = 0

    def fresh_sandbox(self) -> Path:
        """A new sandbox: the input files, then every spool entry on top."""
        sandbox = self.local / "execute" / f"dir_{self.starts}"
        shutil.rmtree(sandbox, ignore_errors=True)
        sandbox.mkdir(parents=True, mode=0o700)
        for item in _files(self.desc["transfer_input_files"]):
            src = self.iwd / item
            _copy(src, sandbox / src.name)
        if self.spool.is_dir():
            for entry in self.spool.iterdir():
                if not entry.name.startswith("."):
                    _copy(entry.resolve(), sandbox / entry.name)
        self.log.execute(f"slot1@{os.uname().nodename} (ipyckpt local emulation)")
        return sandbox

    def _take_request(self) -> str | None:
        for action in ACTIONS:
            path = self.local / "requests" / action
            if path.exists():
                path.unlink()
                return action
        return None

    def run_once(self, sandbox: Path) -> tuple[str, int | None, int | None]:
        """Run the job once: ("exit", code, signal) or (action, None, None) if stopped."""
        ad = f"CheckpointNumber = {self.checkpoints}\nClusterId = {self.record.cluster}\n"
        (sandbox / ".job.ad").write_text(ad + f"NumJobStarts = {self.starts}\nProcId = 0\n")
        env = dict(os.environ, _CONDOR_SCRATCH_DIR=str(sandbox), _CONDOR_JOB_IWD=str(self.iwd))
        env["_CONDOR_JOB_AD"] = str(sandbox / ".job.ad")
        cmd = [self.desc["executable"], *self.desc["arguments"].split()]
        self.starts += 1
        with (
            open(self.iwd / self.desc["output"], "ab") as out,
            open(self.iwd / self.desc["error"], "ab") as err,
        ):
            proc = subprocess.Popen(
                cmd, cwd=sandbox, env=env, stdout=out, stderr=err, start_new_session=True
            )
        (self.local / "job.pid").write_text(str(proc.pid))
        while proc.poll() is None:
            action = self._take_request()
            if action is not None:
                self._stop(proc)
                return action, None, None
            time.sleep(POLL_S)
        code = proc.returncode
        return ("exit", code, None) if code >= 0 else ("exit", None, -code)

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM, then SIGKILL after ``job_max_vacate_time``."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=int(self.desc["job_max_vacate_time"]))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _missing(self, sandbox: Path, entries: list[str]) -> list[str]:
        return [e for e in entries if not (sandbox / e).exists()]

    def run(self) -> None:
        """Run until the job terminates, is held or is removed."""
        sandbox: Path | None = None
        while True:
            if sandbox is None:
                sandbox = self.fresh_sandbox()
            outcome, code, sig = self.run_once(sandbox)
            if outcome == "rm":
                self.log.aborted("via %condor rm (ipyckpt local emulation)")
                return
            if outcome == "vacate":
                self.log.evicted()
                shutil.rmtree(sandbox, ignore_errors=True)
                sandbox = None
                continue
            if code == EXIT_CHECKPOINT:
                if missing := self._missing(sandbox, self.ckpt_files):
                    reason = f"Checkpoint upload failed: {', '.join(missing)}: (errno 2) No such file or directory"
                    self.log.held(reason, 36, -1)
                    return
                _commit(sandbox, self.ckpt_files, self.spool)
                self.checkpoints += 1
                self.log.checkpoint_transfer()
                continue
            self.completions += 1
            no_retry = code in NO_RETRY_EXIT_CODES
            if code != 0 and not no_retry and self.completions <= int(self.desc["max_retries"]):
                self.log.requeued(code, sig)
                shutil.rmtree(sandbox, ignore_errors=True)
                sandbox = None
                continue
            if missing := self._missing(sandbox, self.out_files):
                reason = (
                    f"Transfer output files failure at execution point: failed to send "
                    f"{', '.join(missing)}: (errno 2) No such file or directory"
                )
                self.log.held(reason, 12, 2)
                return
            for entry in self.out_files:
                _copy(sandbox / entry, self.iwd / entry)
            self.log.checkpoint_transfer()  # the final output transfer pair
            self.log.terminated(code, sig)
            shutil.rmtree(sandbox, ignore_errors=True)
            return


def main(argv: list[str]) -> int:
    """``python -m ipyckpt.condor.local [--detach] JOBDIR``."""
    if argv and argv[0] == "--detach":
        folder = Path(argv[1])
        with open(folder / LOCAL / "supervisor.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "ipyckpt.condor.local", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return 0
    record = JobRecord.load(Path(argv[0]))
    (record.path / LOCAL / "supervisor.pid").write_text(str(os.getpid()))
    Supervisor(record).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
