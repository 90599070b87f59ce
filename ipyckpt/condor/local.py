"""``backend=local``: an emulation of an HTCondor execute slot on this machine (not a pool).

A detached supervisor process plays the schedd, shadow and starter for one job, following
HTCondor's documented self-checkpointing semantics:

- the job runs in a sandbox holding the ``transfer_input_files``, created as a transfer under
  umask 002 creates them (group-writable: directories 0775, files 0664), as pools may do;
- exit 85 (the ``checkpoint_exit_code``): the ``transfer_checkpoint_files`` are copied to a spool
  directory (staged, then committed by an atomic rename; entries the new checkpoint lacks stay)
  and the job is started again **in the same sandbox**; a listed file that is missing holds the
  job (HoldReasonCode 36);
- vacate: SIGTERM, then SIGKILL after ``job_max_vacate_time``; nothing is transferred
  (``when_to_transfer_output = ON_EXIT``); the next run gets a **fresh** sandbox with the input
  files and the spooled checkpoint on top;
- any other exit: the ``transfer_output_files`` come back to the job's directory (a missing one
  holds the job, code 12), created as the shadow creates them under a user's umask 002
  (0775/0664), unless ``max_retries`` requeues the job into a fresh sandbox;
- everything is written to an HTCondor-format user log, read back like a real pool's.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from ipyckpt.condor.description import expand, file_list
from ipyckpt.condor.eventlog import EventWriter
from ipyckpt.condor.record import TERMINAL, JobRecord, read_events, summarize
from ipyckpt.exitcodes import EXIT_CHECKPOINT, NO_RETRY_EXIT_CODES

POLL_S = 0.05
LOCAL = "local"  # <job dir>/local/: spool, execute, requests, pids
#: Requests the supervisor polls for, by the action names of ``htcondor2.JobAction``.
REQUESTS = {"Remove": "rm", "Vacate": "vacate", "Hold": "hold", "Release": "release"}
USER_HOLD = ("Via condor_hold (by user ipyckpt)", 1, 0)  # HoldReason, Code, Subcode
#: Test hook of the emulation: a file holding a seed; the next transfer on eviction is cut off
#: at a random byte (whole files before the cut are committed, in a random order).
CUT_TRANSFER = "cut-evict-transfer"
#: The umask the emulated transfers create entries with: into a sandbox (as some pools do), and
#: back to the job's directory (the shadow uses the user's umask; 002 with user-private groups).
TRANSFER_UMASK = 0o002


def local_dir(record: JobRecord, proc: int) -> Path:
    """The emulation's files for job ``proc``: spool, sandboxes, requests, pids."""
    return record.job_dir(proc) / LOCAL


def request(record: JobRecord, action: str, proc: int = 0) -> None:
    """Ask the supervisor of job ``proc`` to act (``Remove``, ``Vacate``, ``Hold``, ``Release``).

    Removing a held job (or one whose supervisor is gone) is logged at once, as the schedd
    would; the held job's supervisor sees it and ends.
    """
    state = summarize(read_events(record.log), proc).state
    alive = supervisor_alive(record, proc)
    if action == "Remove" and (state == "held" or not alive):
        if state not in TERMINAL:
            EventWriter(record.log, record.cluster or 0, proc).aborted(
                f"via %condor rm ({state} job)"
            )
        return
    if not alive or state in TERMINAL:
        return
    if action == "Vacate" and state != "running":
        return  # nothing to evict (a stale request would evict a later run)
    if action in ("Hold", "Release") and (action == "Hold") == (state == "held"):
        return
    folder = local_dir(record, proc) / "requests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REQUESTS[action]).touch()


def supervisor_alive(record: JobRecord, proc: int = 0) -> bool:
    """False if the supervisor of job ``proc`` has gone (e.g. the machine rebooted)."""
    pid_file = local_dir(record, proc) / "supervisor.pid"
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
    """Log the submit events and start one detached supervisor per job (they outlive the kernel)."""
    for proc in record.procs:
        desc = (
            expand(record.description, record.items[proc]) if record.items else record.description
        )
        EventWriter(record.log, record.cluster or 0, proc).submit(desc["submit_event_notes"])
    for proc in record.procs:
        local_dir(record, proc).mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "ipyckpt.condor.local",
            "--detach",
            str(record.path),
            str(proc),
        ]
        subprocess.run(cmd, check=True, timeout=60)


def _copy(src: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        shutil.copy2(src, dest)


def _as_transferred(path: Path) -> None:
    """Give ``path`` and everything in it the modes a transfer under :data:`TRANSFER_UMASK`
    creates: directories 0775, files 0664 (0775 if executable); symlinks are left alone."""
    items = [path]
    if path.is_dir() and not path.is_symlink():
        for top, dirs, files in os.walk(path):  # does not follow symlinks
            items += [Path(top, name) for name in (*dirs, *files)]
    for item in items:
        mode = item.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        full = 0o777 if stat.S_ISDIR(mode) or mode & stat.S_IXUSR else 0o666
        item.chmod(full & ~TRANSFER_UMASK)


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


def _cut_commit(sandbox: Path, entries: list[str], spool: Path, seed: int) -> int:
    """A transfer cut off at a random byte: whole files before the cut land, in a random order.

    Files already in the spool stay (as HTCondor keeps spooled entries); each transferred file
    replaces its namesake whole, and the file being sent at the cut never lands. Returns the
    byte at which the transfer was cut.
    """
    rng = random.Random(seed)
    files = [f for e in entries for f in sorted((sandbox / e).rglob("*")) if f.is_file()]
    files += [sandbox / e for e in entries if (sandbox / e).is_file()]
    rng.shuffle(files)
    cut = rng.randrange(max(1, sum(f.stat().st_size for f in files)))
    staged = sandbox.parent / f".cut-{secrets.token_hex(4)}"
    for entry in entries:  # start from what the spool holds
        if (spool / entry).exists():
            _copy((spool / entry).resolve(), staged / entry)
    sent = 0
    for f in files:
        sent += f.stat().st_size
        if sent > cut:
            break
        target = staged / f.relative_to(sandbox)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    _commit(staged, [e for e in entries if (staged / e).exists()], spool)
    shutil.rmtree(staged, ignore_errors=True)
    return cut


class Supervisor:
    """Runs job ``proc`` of a cluster to its end, as the pool would."""

    def __init__(self, record: JobRecord, proc: int = 0) -> None:
        self.record = record
        self.proc = proc
        self.desc = (
            expand(record.description, record.items[proc]) if record.items else record.description
        )
        self.iwd = record.job_dir(proc)
        self.local = local_dir(record, proc)
        self.spool = self.local / "spool"
        self.log = EventWriter(record.log, record.cluster or 0, proc)
        self.ckpt_files = file_list(self.desc["transfer_checkpoint_files"])
        self.out_files = file_list(self.desc["transfer_output_files"])
        self.on_evict = self.desc["when_to_transfer_output"] == "ON_EXIT_OR_EVICT"
        self.starts = self.completions = self.checkpoints = 0

    def fresh_sandbox(self) -> Path:
        """A new sandbox: the input files, then every spool entry on top."""
        sandbox = self.local / "execute" / f"dir_{self.starts}"
        shutil.rmtree(sandbox, ignore_errors=True)
        sandbox.mkdir(parents=True, mode=0o700)
        for item in file_list(self.desc["transfer_input_files"]):
            src = self.iwd / item
            _copy(src, sandbox / src.name)
            _as_transferred(sandbox / src.name)
        if self.spool.is_dir():
            for entry in self.spool.iterdir():
                if not entry.name.startswith("."):
                    _copy(entry.resolve(), sandbox / entry.name)
                    _as_transferred(sandbox / entry.name)
        self.log.execute(f"slot1@{os.uname().nodename} (ipyckpt local emulation)")
        return sandbox

    def _take_request(self, *wanted: str) -> str | None:
        for action in wanted:
            path = self.local / "requests" / action
            if path.exists():
                path.unlink()
                return action
        return None

    def run_once(self, sandbox: Path) -> tuple[str, int | None, int | None]:
        """Run the job once: ("exit", code, signal) or (request, None, None) if stopped."""
        ad = f"CheckpointNumber = {self.checkpoints}\nClusterId = {self.record.cluster}\n"
        ad += f"NumJobStarts = {self.starts}\nProcId = {self.proc}\n"
        (sandbox / ".job.ad").write_text(ad)
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
            action = self._take_request("rm", "hold", "vacate")
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

    def _transfer_on_evict(self, sandbox: Path) -> None:
        """``ON_EXIT_OR_EVICT``: spool what the evicted job left (maybe cut off mid-way)."""
        entries = [e for e in self.ckpt_files if (sandbox / e).exists()]
        cut_file = self.local / CUT_TRANSFER
        if cut_file.exists():
            seed = int(cut_file.read_text() or "0")
            cut_file.unlink()
            at = _cut_commit(sandbox, entries, self.spool, seed)
            (self.local / "cut-at").write_text(str(at))
        else:
            _commit(sandbox, entries, self.spool)

    def _held(self, reason: str, code: int, subcode: int) -> bool:
        """Log the hold and wait: True once released, False when removed."""
        self.log.held(reason, code, subcode)
        while True:
            if self._take_request("release"):
                self.log.released("Via condor_release (by user ipyckpt)")
                return True
            removed = self._take_request("rm") is not None
            if removed or summarize(read_events(self.record.log), self.proc).state == "removed":
                if removed:
                    self.log.aborted("via %condor rm (held job)")
                return False
            time.sleep(POLL_S)

    def _stopped(self, outcome: str, sandbox: Path) -> bool:
        """After rm, hold or vacate: False if the job is over, True to run it again."""
        if outcome == "rm":
            self.log.aborted("via %condor rm (ipyckpt local emulation)")
            return False
        if self.on_evict:
            self._transfer_on_evict(sandbox)
        if outcome == "vacate":
            self.log.evicted()
            return True
        return self._held(*USER_HOLD)

    def _exited(
        self, sandbox: Path, code: int | None, sig: int | None
    ) -> str | tuple[str, int, int]:
        """After the job exited: "again" (same sandbox), "fresh" (new sandbox), "end", or why
        it is to be held (reason, code, subcode)."""
        if code == EXIT_CHECKPOINT:
            if missing := self._missing(sandbox, self.ckpt_files):
                reason = f"Checkpoint upload failed: {', '.join(missing)}: (errno 2) No such file or directory"
                return (reason, 36, -1)
            _commit(sandbox, self.ckpt_files, self.spool)
            self.checkpoints += 1
            self.log.checkpoint_transfer()
            return "again"
        self.completions += 1
        no_retry = code in NO_RETRY_EXIT_CODES
        if code != 0 and not no_retry and self.completions <= int(self.desc["max_retries"]):
            self.log.requeued(code, sig)
            return "fresh"
        if missing := self._missing(sandbox, self.out_files):
            reason = (
                f"Transfer output files failure at execution point: failed to send "
                f"{', '.join(missing)}: (errno 2) No such file or directory"
            )
            return (reason, 12, 2)
        for entry in self.out_files:  # the shadow creates them with the user's umask
            _copy(sandbox / entry, self.iwd / entry)
            _as_transferred(self.iwd / entry)
        self.log.checkpoint_transfer()  # the final output transfer pair
        self.log.terminated(code, sig)
        return "end"

    def run(self) -> None:
        """Run until the job terminates or is removed (a held job waits for its release)."""
        sandbox: Path | None = None
        while True:
            if sandbox is None:
                if self._take_request("hold") and not self._held(*USER_HOLD):
                    return
                sandbox = self.fresh_sandbox()
            outcome, code, sig = self.run_once(sandbox)
            next_: str | tuple[str, int, int]
            if outcome != "exit":
                next_ = "fresh" if self._stopped(outcome, sandbox) else "end"
            else:
                next_ = self._exited(sandbox, code, sig)
            if isinstance(next_, tuple):
                next_ = "fresh" if self._held(*next_) else "end"
            if next_ != "again":
                shutil.rmtree(sandbox, ignore_errors=True)
                sandbox = None
            if next_ == "end":
                return


def main(argv: list[str]) -> int:
    """``python -m ipyckpt.condor.local [--detach] JOBDIR [PROC]``."""
    if argv and argv[0] == "--detach":
        folder, proc = Path(argv[1]), int(argv[2]) if len(argv) > 2 else 0
        record = JobRecord.load(folder)
        with open(local_dir(record, proc) / "supervisor.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "ipyckpt.condor.local", str(folder), str(proc)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return 0
    record = JobRecord.load(Path(argv[0]))
    proc = int(argv[1]) if len(argv) > 1 else 0
    (local_dir(record, proc) / "supervisor.pid").write_text(str(os.getpid()))
    Supervisor(record, proc).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
