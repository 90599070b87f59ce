"""A time bound on pickling: a ``__reduce__`` that never returns must not hang the snapshot.

The bound is a real-time interval timer (``SIGALRM``) whose handler raises inside whatever the
main thread is running, including a pickler calling a user's ``__reduce__``. It is armed only
in the main thread (signal handlers run nowhere else) and the previous handler and timer are
put back afterwards. A hang inside C code that never checks for signals cannot be interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType


class DeadlinePassed(BaseException):
    """Raised into the pickler when the deadline passes. A BaseException, so that the
    per-variable ``except Exception`` of the pickler does not take it for one bad variable."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DeadlinePassed` in the block if it runs longer than ``seconds``."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds is None or seconds <= 0 or not usable:
        yield
        return
    armed = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise DeadlinePassed

    previous = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay > 0:  # someone else's timer was running: let it go on
            left = max(old_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)
