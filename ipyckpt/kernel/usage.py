"""The one place where ipyckpt's own errors become one line in the notebook.

IPython shows exactly ``UsageError`` without a traceback (subclasses get a full one), so
:func:`one_line_errors` turns an :class:`~ipyckpt.IpyckptError`, a bad argument (ValueError) or a
file system error met by a magic into ``UsageError`` with a message that says what to do. The
magics wrap their own work in it, never the user's code: an exception the cell raises stays
unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from IPython.core.error import UsageError

from ipyckpt.session import one_line
from ipyckpt.store.errors import CheckpointUntrusted, IpyckptError, NoCheckpoint

#: What to do next, for errors whose message does not say it already.
_HINTS: dict[type[IpyckptError], str] = {
    NoCheckpoint: "`%checkpoint list` shows the state checkpoints; "
    "a `%%checkpoint` cell or `%checkpoint save` takes one",
    CheckpointUntrusted: "`%checkpoint restore --trust` loads it anyway, "
    "if you know where it came from",
}


def _message(exc: BaseException) -> str:
    """``exc`` on one line, with the hint for its kind when it has none."""
    text = " ".join(str(exc).split()) if isinstance(exc, ValueError) else one_line(exc)
    for kind, hint in _HINTS.items():
        if isinstance(exc, kind) and hint not in text:
            return f"{text} ({hint})"
    return text


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn ipyckpt's errors, bad arguments and OSErrors raised inside into one-line UsageErrors."""
    try:
        yield
    except UsageError:
        raise
    except (IpyckptError, ValueError, OSError) as exc:
        raise UsageError(f"ipyckpt: {_message(exc)}") from None
