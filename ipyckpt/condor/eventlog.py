"""HTCondor user event logs: writing them (local emulation) and a small fallback reader.

The format is HTCondor's classic one: ``NNN (cluster.proc.subproc) YYYY-MM-DD HH:MM:SS text``,
tab-indented body lines, and a ``...`` line closing each event. ``htcondor2.JobEventLog``
parses what :class:`EventWriter` writes (a test checks it); :func:`parse` reads the same fields
when the bindings are not installed.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

SUBMIT, EXECUTE, EVICTED, TERMINATED, ABORTED, HELD, RELEASED, FILE_TRANSFER = (
    0, 1, 4, 5, 9, 12, 13, 40
)  # fmt: skip
OUT_STARTED, OUT_FINISHED = 5, 6  # FileTransferEvent types
HOST = "<127.0.0.1:0?emulated=ipyckpt-local>"
_USAGE = "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n" + (
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n"
)
_BYTES = "\t0  -  Run Bytes Sent By Job\n\t0  -  Run Bytes Received By Job\n"
_TOTAL_USAGE = _USAGE.replace("Run ", "Total ")
_TOTAL_BYTES = _BYTES.replace("Run ", "Total ")
_HEAD = re.compile(r"^(\d{3}) \((\d+)\.(\d+)\.(\d+)\) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.*)$")


def _termination(code: int | None, signal: int | None) -> str:
    if signal is not None:
        return f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file\n"
    return f"\t(1) Normal termination (return value {code})\n"


class EventWriter:
    """Appends events for one job to a user log (each event in one ``write``, then fsync).

    The jobs of a sweep (one cluster, ``proc`` 0, 1, ...) share one log, as on a pool.
    """

    def __init__(self, path: Path, cluster: int, proc: int = 0) -> None:
        self.path = path
        self.cluster = cluster
        self.proc = proc

    def _write(self, number: int, text: str, body: str = "") -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        event = f"{number:03d} ({self.cluster:03d}.{self.proc:03d}.000) {stamp} {text}\n{body}...\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, event.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def submit(self, notes: str) -> None:
        """``000`` Job submitted, with ``submit_event_notes``."""
        self._write(SUBMIT, f"Job submitted from host: {HOST}", f"    {notes}\n")

    def execute(self, slot: str) -> None:
        """``001`` Job executing (a new sandbox)."""
        self._write(EXECUTE, f"Job executing on host: {HOST}", f"\tSlotName: {slot}\n")

    def checkpoint_transfer(self) -> None:
        """The ``040`` pair HTCondor logs when a checkpoint is uploaded."""
        self._write(
            FILE_TRANSFER, "Started transferring output files", f"\tTransferring to host: {HOST}\n"
        )
        self._write(FILE_TRANSFER, "Finished transferring output files")

    def evicted(self) -> None:
        """``004`` Job was evicted (vacated, not checkpointed by HTCondor)."""
        self._write(
            EVICTED, "Job was evicted.", "\t(0) Job was not checkpointed.\n" + _USAGE + _BYTES
        )

    def requeued(self, code: int | None, signal: int | None) -> None:
        """``004`` Job terminated and was requeued (``max_retries``)."""
        body = (
            "\t(0) Job terminated and was requeued\n" + _USAGE + _BYTES + _termination(code, signal)
        )
        self._write(EVICTED, "Job was evicted.", body)

    def terminated(self, code: int | None, signal: int | None) -> None:
        """``005`` Job terminated."""
        body = _termination(code, signal) + _USAGE + _TOTAL_USAGE + _BYTES + _TOTAL_BYTES
        self._write(TERMINATED, "Job terminated.", body)

    def held(self, reason: str, code: int, subcode: int) -> None:
        """``012`` Job was held."""
        self._write(HELD, "Job was held.", f"\t{reason}\n\tCode {code} Subcode {subcode}\n")

    def released(self, reason: str) -> None:
        """``013`` Job was released."""
        self._write(RELEASED, "Job was released.", f"\t{reason}\n")

    def aborted(self, reason: str) -> None:
        """``009`` Job was aborted (removed)."""
        self._write(ABORTED, "Job was aborted.", f"\t{reason}\n")


def _body_fields(number: int, text: str, lines: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    joined = "\n".join(lines)
    if number == SUBMIT and lines:
        fields["LogNotes"] = lines[0].strip()
    elif number == FILE_TRANSFER:
        fields["Type"] = OUT_STARTED if text.startswith("Started") else OUT_FINISHED
    elif number in (TERMINATED, EVICTED):
        if m := re.search(r"\(1\) Normal termination \(return value (-?\d+)\)", joined):
            fields["ReturnValue"], fields["TerminatedNormally"] = int(m.group(1)), True
        elif m := re.search(r"Abnormal termination \(signal (\d+)\)", joined):
            fields["TerminatedBySignal"], fields["TerminatedNormally"] = int(m.group(1)), False
        if number == EVICTED:
            fields["TerminatedAndRequeued"] = "terminated and was requeued" in joined
    elif number == HELD and lines:
        fields["HoldReason"] = lines[0].strip()
        if m := re.search(r"Code (-?\d+) Subcode (-?\d+)", joined):
            fields["HoldReasonCode"], fields["HoldReasonSubCode"] = map(int, m.groups())
    elif number in (ABORTED, RELEASED) and lines:
        fields["Reason"] = lines[0].strip()
    return fields


def parse(path: Path) -> list[dict[str, Any]]:
    """Complete events of a user log (an event still being written is not returned)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    events: list[dict[str, Any]] = []
    head: re.Match[str] | None = None
    body: list[str] = []
    for line in text.splitlines(keepends=True):
        if head is None:
            head = _HEAD.match(line.rstrip("\n"))
            body = []
        elif line == "...\n":
            number = int(head.group(1))
            stamp = time.mktime(time.strptime(head.group(5), "%Y-%m-%d %H:%M:%S"))
            event = {"EventTypeNumber": number, "Cluster": int(head.group(2))}
            event |= {"Proc": int(head.group(3)), "Timestamp": int(stamp)}
            events.append(event | _body_fields(number, head.group(6), body))
            head = None
        else:
            body.append(line.rstrip("\n"))
    return events
