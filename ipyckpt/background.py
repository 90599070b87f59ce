"""Background snapshots: fork, let the child write the copy-on-write image, keep running.

The shape of Redis's ``rdbSaveBackground``: at a consistent point the kernel forks; the child
holds an exact copy-on-write image of the namespace at that instant, writes the generation with
the same code as an in-process save (:class:`~ipyckpt.session.InProcessSaver`: atomic publish,
signing, per-chunk hashes), reports progress and its outcome through a pipe and leaves with
``os._exit``. The parent returns to the user's code at once. At most one child runs at a time:
a periodic snapshot due while one runs is skipped (and says so); any other snapshot (the end
of the cell, a manual save, SIGTERM, shutdown) waits for it and is written in-process. The parent collects the outcome (saved / failed and why) the next time a snapshot is due
or :meth:`ForkedSaver.collect` is called, and prints one line.

The child never touches the kernel's sockets, threads or display: its ``sys.stdout`` and
``sys.stderr`` are ``/dev/null``, signal handlers are the defaults, the garbage collector is off
(it would copy every page holding an object) and ``SIGALRM`` ends it at the deadline, so a
``__reduce__`` that crashes or never returns kills only the child; the previous generation and
the kernel are untouched (a killed save leaves only files in ``tmp/``, removed by the next one).

Fork is not used (the save runs in-process, and says why once) when: the platform has no
``fork`` (not Linux); a GPU runtime is loaded (CUDA contexts, TensorFlow and JAX runtimes do not
survive fork); or free memory is below the worst case, :func:`worst_case_growth`: every private
page of this process copied once because the cell writes it while the child lives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import gc
import json
import os
import random
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipyckpt.session import (
    DEFAULT_DEADLINE_S,
    InProcessSaver,
    PendingReport,
    Saver,
    SaveRequest,
    SnapshotSkipped,
    StateSession,
    one_line,
)
from ipyckpt.store import chunks, knowngood
from ipyckpt.store.parts import PartCache
from ipyckpt.store.reports import SaveReport, format_bytes, plural
from ipyckpt.store.serialize import discover_parts

#: Triggers a child may write: the snapshots taken while a cell runs, and autosaves between
#: cells. Everything else (the end of the cell, manual saves, SIGTERM, shutdown, the cost
#: measurement of every=auto) must be complete when ``save`` returns, so it waits for the child
#: and runs in-process.
BACKGROUND_TRIGGERS = frozenset({"periodic", "safepoint", "autosave"})
#: Triggers that are skipped, not waited for, while the previous child still writes.
SKIPPABLE_TRIGGERS = frozenset({"periodic", "safepoint", "autosave"})
CHILD_RESERVE = 128 << 20  # the child's own memory: pickle staging and chunk copies
_PROGRESS_EVERY_S = 0.2
_GRACE_S = 5.0  # after its deadline, a child has this long to report before it is killed
# the parent's walk of the variables holding parts it did not know (ipyckpt.store.parts) at
# the end of a background snapshot: copying a million-element object array takes ~10 ms
_DISCOVERY_BUDGET_S = 0.05
_GPU_MODULES = ("cupy", "pycuda.driver", "numba.cuda.cudadrv.driver", "tensorflow", "jax")


@dataclass
class BackgroundReport(PendingReport):
    """A snapshot handed to a child process: the generation it will publish (if nothing else
    saves into the store meanwhile) and the child's pid. The outcome is printed later."""

    pid: int = 0

    def __str__(self) -> str:
        return (
            f"state checkpoint {self.generation} ({self.trigger}): writing "
            f"{plural(len(self.saved), 'variable')} in the background (process {self.pid})"
        )


# ------------------------------------------------------------------------------ when to fork
def _meminfo_bytes(text: str, field: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable``, capped by a cgroup v2 limit."""
    try:
        available = _meminfo_bytes(Path("/proc/meminfo").read_text(), "MemAvailable")
    except OSError:
        return None
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max" and available is not None:
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = min(available, int(limit) - used)
    return available


def worst_case_growth() -> int:
    """Memory a background snapshot may add: this process's private (anonymous) resident pages,
    each copied once if the cell writes it while the child lives, plus the child's reserve."""
    try:
        anon = _meminfo_bytes(Path("/proc/self/status").read_text(), "RssAnon") or 0
    except OSError:
        anon = 0
    return anon + CHILD_RESERVE


def gpu_runtime_loaded() -> str | None:
    """The name of a loaded GPU runtime that does not survive fork, if any."""
    torch = sys.modules.get("torch")
    with contextlib.suppress(Exception):
        if torch is not None and torch.cuda.is_initialized():
            return "CUDA is initialised (torch)"
    for name in _GPU_MODULES:
        if name in sys.modules:
            return f"{name.split('.')[0]} is loaded (GPU runtimes do not survive fork)"
    return None


def fork_unavailable(
    *, memory: Callable[[], int | None] = available_memory, need: int | None = None
) -> str | None:
    """Why a snapshot cannot be taken by a forked child now (None: it can)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return "background snapshots need Linux (fork)"
    gpu = gpu_runtime_loaded()
    if gpu is not None:
        return gpu
    need = worst_case_growth() if need is None else need
    free = memory()
    if free is not None and free < need:
        return (
            f"not enough free memory for a background snapshot ({format_bytes(free)} free, "
            f"up to {format_bytes(need)} needed if the cell rewrites all its data meanwhile)"
        )
    return None


# ------------------------------------------------------------------------------------ child
def _send(fd: int, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the parent may be gone: finish the save anyway
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(fd, data) :]


def _isolate_child(deadline: float) -> None:
    """Make the child harmless to the kernel: no output, default signals, a hard deadline.

    The child leaves the kernel's process group: the kernel manager signals the whole group,
    and neither an interrupt (SIGINT) nor a kernel restart (SIGKILL) should stop a snapshot
    half-way; it publishes, and the next kernel's restore waits for it (the store's lock).
    """
    gc.disable()
    chunks.assume_frozen()  # no other thread: chunks need no private copy before hashing
    faulthandler.disable()  # a crash report would land in the kernel's own stderr
    os.setpgid(0, 0)
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.alarm(max(1, int(deadline + 0.999)))
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives until os._exit
    sys.stdout = sys.stderr = devnull


def _run_child(saver: Saver, request: SaveRequest, fd: int, deadline: float) -> None:
    """The child's whole life: write the snapshot, report, ``os._exit``. Never returns."""
    code = 1
    try:
        _isolate_child(deadline)
        last = [0.0]

        def progress(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= _PROGRESS_EVERY_S:
                last[0] = now
                _send(fd, {"progress": done})

        known = knowngood.known_paths()
        report = saver.save(dataclasses.replace(request, progress=progress))
        _send(fd, {"known": sorted(knowngood.known_paths() - known)})
        parts = _parts_of(saver)
        if parts is not None:  # which parts the parent may reuse (ipyckpt.store.parts)
            with contextlib.suppress(Exception):  # the snapshot is published: never fail it
                _send(fd, {"parts": parts.child_report()})
        _send(fd, {"report": dataclasses.asdict(report)})
        code = 0
    except BaseException as exc:  # everything ends here: the child must never return
        _send(fd, {"error": one_line(exc)})
    finally:
        os._exit(code)


# ----------------------------------------------------------------------------------- parent
@dataclass
class _Child:
    pid: int
    fd: int
    trigger: str
    generation: int
    started: float
    deadline: float
    buffer: bytes = b""
    done: int = 0
    report: SaveReport | None = None
    error: str | None = None
    namespace: dict[str, Any] = dataclasses.field(default_factory=dict)
    parts: dict[str, Any] | None = None


@dataclass
class Outcome:
    """How a background snapshot ended: its report, or why it failed."""

    trigger: str
    generation: int
    report: SaveReport | None
    error: str | None

    def __str__(self) -> str:
        if self.report is not None:
            return f"ipyckpt: {self.report} (in the background)"
        return (
            f"ipyckpt: background snapshot {self.generation} ({self.trigger}) failed, the "
            f"previous one is intact: {self.error}"
        )


class ForkedSaver:
    """A :class:`~ipyckpt.session.Saver` that writes in-cell snapshots in a forked child.

    ``enabled`` off, or :func:`fork_unavailable` giving a reason, makes it save in-process (the
    reason is printed once). ``on_outcome`` sees each finished background snapshot (in the
    thread that collects it); by default its one line is printed. ``deadline`` bounds a child.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        deadline: float = DEFAULT_DEADLINE_S,
        inprocess: Saver | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        unavailable: Callable[[], str | None] = fork_unavailable,
    ) -> None:
        self.enabled = enabled
        self.deadline = deadline
        self.inprocess = inprocess or InProcessSaver()
        self.on_outcome = on_outcome or _print_outcome
        self.unavailable = unavailable
        self.child: _Child | None = None
        self.said: set[str] = set()

    # -- the Saver protocol
    def save(self, request: SaveRequest) -> SaveReport:
        """Fork a child for in-cell snapshots; anything else waits and runs in-process."""
        reason = self._why_not_background(request.trigger)
        if reason is not None:
            self._say_once(reason)
            self.wait()
            return self.inprocess.save(request)
        self._skip_if_busy(request.trigger)
        self.wait()  # a snapshot that may not be skipped waits for the running child
        return self._fork(request)

    def check_ready(self, trigger: str) -> None:
        """See :class:`~ipyckpt.session.Saver`: skippable snapshots are skipped while a child
        writes (only when this one would be forked too; in-process ones wait instead)."""
        if self._why_not_background(trigger) is None:
            self._skip_if_busy(trigger)

    def _skip_if_busy(self, trigger: str) -> None:
        self.collect()
        if self.child is not None and trigger in SKIPPABLE_TRIGGERS:
            raise SnapshotSkipped(
                f"snapshots skipped while background snapshot {self.child.generation} is "
                f"still being written ({format_bytes(self.child.done)} so far)",
                self.child.generation,
            )

    def _why_not_background(self, trigger: str) -> str | None:
        """None to fork; otherwise why not ("" when in-process by design: nothing to say)."""
        if trigger not in BACKGROUND_TRIGGERS:
            return ""
        if not self.enabled:
            return ""  # the user's choice (and the default): nothing to explain
        return self.unavailable()

    def _say_once(self, reason: str) -> None:
        kind = reason.split(" (", maxsplit=1)[0]  # the figures in parentheses change
        if reason and kind not in self.said:
            self.said.add(kind)
            print(f"ipyckpt: saving in-process: {reason}", file=sys.stderr)

    def _fork(self, request: SaveRequest) -> SaveReport:
        generation = max(request.store.generation_ids(), default=0) + 1
        deadline = request.deadline or self.deadline
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        random_state = random.getstate()  # the random module reseeds itself in a forked child
        parts = _parts_of(self.inprocess)
        if parts is not None:
            parts.before_fork()  # re-copies the containers that changed (a pointer compare each)
        with warnings.catch_warnings():  # Python 3.12 warns about fork in threaded processes;
            warnings.simplefilter("ignore", DeprecationWarning)  # the child only runs our code
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage cannot follow os._exit
            random.setstate(random_state)
            if parts is not None:
                parts.after_fork_in_child()
            os.close(read_fd)
            _run_child(self.inprocess, request, write_fd, deadline)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.child = _Child(pid, read_fd, request.trigger, generation, time.monotonic(), deadline)
        self.child.namespace = request.namespace
        names = list(request.namespace)
        return BackgroundReport(generation, request.trigger, names, {}, [], [], 0, 0, 0.0, pid=pid)

    def settle(self, *, block: bool) -> None:
        """See :class:`~ipyckpt.session.Saver`: collect (``block``: wait for) the child."""
        if block:
            self.wait()
        else:
            self.collect()

    # -- learning the outcome
    @property
    def running(self) -> bool:
        """True while a child writes a snapshot (as far as this process knows)."""
        self.collect()
        return self.child is not None

    def collect(self) -> Outcome | None:
        """Read the child's news without blocking; report and return its outcome if it ended."""
        child = self.child
        if child is None:
            return None
        self._read(child)
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: the pipe says how it went
            pid, status = child.pid, 0
        if pid == 0:
            self._enforce_deadline(child)
            return None
        self._read(child, until_eof=True)
        return self._finish(child, status)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """Block until the running child (if any) ends, or ``timeout`` passes."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.child is not None:
            outcome = self.collect()
            if outcome is not None:
                return outcome
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return None
            with contextlib.suppress(OSError, ValueError):
                select.select([self.child.fd], [], [], min(0.1, left) if left else 0.1)
        return None

    @staticmethod
    def _enforce_deadline(child: _Child) -> None:
        """The child's own SIGALRM may not fire (a store deadline replaced it while pickling,
        and that one cannot interrupt C code): past its deadline, the parent kills it."""
        if time.monotonic() - child.started > child.deadline + _GRACE_S:
            with contextlib.suppress(OSError):
                os.kill(child.pid, signal.SIGKILL)
            child.error = (
                f"it took longer than the deadline of {child.deadline:.0f} s and was stopped"
            )

    def _read(self, child: _Child, *, until_eof: bool = False) -> None:
        while True:
            try:
                data = os.read(child.fd, 1 << 16)
            except BlockingIOError:
                if not until_eof:
                    return
                select.select([child.fd], [], [], 1.0)
                continue
            except OSError:
                return
            if not data:
                return
            child.buffer += data
            *lines, child.buffer = child.buffer.split(b"\n")
            for line in lines:
                self._note(child, line)

    @staticmethod
    def _note(child: _Child, line: bytes) -> None:
        with contextlib.suppress(ValueError, TypeError):
            message = json.loads(line)
            if "progress" in message:
                child.done = int(message["progress"])
            elif "known" in message:  # blobs the child wrote or verified: no re-hash later
                for path in message["known"]:
                    knowngood.remember(Path(str(path)))
            elif "parts" in message:
                child.parts = dict(message["parts"])
            elif "report" in message:
                child.report = SaveReport(**message["report"])
            elif "error" in message:
                child.error = str(message["error"])

    def _finish(self, child: _Child, status: int) -> Outcome:
        os.close(child.fd)
        self.child = None
        error = child.error
        if child.report is None and error is None:
            error = _death(status, child.deadline)
        outcome = Outcome(child.trigger, child.generation, child.report, error)
        parts = _parts_of(self.inprocess)
        if parts is not None and child.report is not None and child.parts is not None:
            with contextlib.suppress(Exception):  # learning is an optimisation, never an error
                unknown = parts.learn(child.parts)
                values = [child.namespace[n] for n in unknown if n in child.namespace]
                discover_parts(values, parts, _DISCOVERY_BUDGET_S)
        with contextlib.suppress(Exception):
            self.on_outcome(outcome)
        return outcome


def _parts_of(saver: Saver) -> PartCache | None:
    """The part cache of an in-process saver (the one a forked child saves with)."""
    return saver.parts if isinstance(saver, InProcessSaver) else None


def _death(status: int, deadline: float) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGALRM:
            return f"it took longer than the deadline of {deadline:.0f} s and was stopped"
        return f"the snapshot process was killed by {signal.Signals(sig).name}"
    return f"the snapshot process ended with exit code {os.WEXITSTATUS(status)} and no report"


def _print_outcome(outcome: Outcome) -> None:
    if outcome.report is not None and outcome.trigger == "autosave":
        return  # autosave is quiet when it works (%checkpoint status and the status bar show it)
    print(outcome, file=sys.stdout if outcome.report is not None else sys.stderr)


def attach(session: StateSession, *, enabled: bool) -> ForkedSaver:
    """Make ``session`` snapshot in the background: each outcome is printed, becomes the
    session's ``last_save`` and is told to its listeners (the JupyterLab channel)."""

    def report(outcome: Outcome) -> None:
        _print_outcome(outcome)
        if outcome.report is not None:
            session.saved(outcome.report)
        else:
            session.emit("save_failed", trigger=outcome.trigger, error=outcome.error)

    saver = ForkedSaver(enabled=enabled, on_outcome=report)
    session.saver = saver
    return saver
