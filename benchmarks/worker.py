"""One measurement in a fresh interpreter: ``python -m benchmarks.worker OP TOOL ...``.

``save TOOL WORKLOAD SCALE DIR REPEAT`` builds the workload in this ``__main__`` (like a
notebook), saves it REPEAT times into fresh folders under DIR and prints one JSON line;
``restore TOOL DIR`` loads DIR's first save and prints the load time. Tools: ipyckpt, dill
(dump_module), store (IPython %store), pickle (protocol 5 + fsync + rename), raw (the same
bytes with write + fsync + rename; read back into numpy).
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.workloads import UNPICKLABLE, build

MB = 1 << 20


class TrainingConfig:
    """A class defined in the "notebook"."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS counter; return the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return _rss("VmRSS")


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _picklable(ns: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """What stdlib pickle and %store can take: no unpicklables, no lambdas."""
    return {n: ns[n] for n in names if n not in UNPICKLABLE and n != "scale_fn"}


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def save_once(tool: str, ns: dict[str, Any], names: list[str], out: Path, nbytes: int) -> None:
    """One save of the workload with ``tool`` into the new folder ``out``."""
    out.mkdir(parents=True)
    if tool == "ipyckpt":
        from ipyckpt import Store

        Store(out / "store").save({n: ns[n] for n in names})
    elif tool == "dill":
        import dill

        for n in UNPICKLABLE:  # one unpicklable aborts dump_module: it only gets the rest
            ns.pop(n, None)
        dill.dump_module(str(out / "session.pkl"), module="__main__")
    elif tool == "store":
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        shell.user_ns.update(_picklable(ns, names))
        shell.run_line_magic("load_ext", "storemagic")
        for n in _picklable(ns, names):
            shell.run_line_magic("store", n)
    elif tool == "pickle":
        with open(out / "ns.tmp", "wb") as f:
            pickle.dump(_picklable(ns, names), f, protocol=5)
        _fsync_replace(out / "ns.tmp", out / "ns.pkl")
    elif tool == "raw":
        data = memoryview(bytearray(nbytes))
        with open(out / "raw.tmp", "wb") as f:
            f.write(data)
        _fsync_replace(out / "raw.tmp", out / "raw.bin")


def do_save(
    tool: str, workload: str, scale: float, root: Path, repeat: int, nbytes: int
) -> dict[str, Any]:
    """Build the workload, save it ``repeat`` times; ipyckpt also re-saves three ways."""
    main = sys.modules["__main__"].__dict__
    names = build(workload, scale, main, TrainingConfig)
    if tool == "store":
        os.environ["IPYTHONDIR"] = str(root / "ipython")
    times, peak = [], 0
    for rep in range(repeat):
        out = root / f"rep{rep}"
        base = _reset_peak()
        started = time.perf_counter()
        save_once(tool, main, names, out, nbytes)
        times.append(time.perf_counter() - started)
        peak = max(peak, _rss("VmHWM") - base)
    result: dict[str, Any] = {"save": statistics.median(times), "peak": peak}
    first = root / "rep0"
    result["size"] = _du(first) if tool != "store" else _du(root / "ipython")
    if tool == "ipyckpt":
        result.update(_resaves(main, names, first / "store", repeat))
    return result


def _resaves(ns: dict[str, Any], names: list[str], where: Path, repeat: int) -> dict[str, float]:
    from ipyckpt import Store

    store = Store(where, keep=2)
    timings: dict[str, list[float]] = {"unchanged": [], "one_element": [], "small_var": []}
    for rep in range(repeat):
        for kind, samples in timings.items():
            if kind == "one_element":
                ns["big"][rep] += 1.0
            elif kind == "small_var":
                ns["step"] += 1
            started = time.perf_counter()
            store.save({n: ns[n] for n in names})
            samples.append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in timings.items()}


def do_restore(tool: str, where: Path) -> dict[str, Any]:
    """Load the first save in ``where`` (this is a fresh interpreter) and time only the load."""
    import numpy as np
    import pandas  # noqa: F401 - imports are not disk time: done before the clock starts
    import sklearn.linear_model  # noqa: F401

    import ipyckpt.store  # noqa: F401

    if tool == "store":
        os.environ["IPYTHONDIR"] = str(where / "ipython")
    first = where / "rep0"
    started = time.perf_counter()
    if tool == "ipyckpt":
        from ipyckpt import Store

        report = Store(first / "store").load()
        if report.failed or not report.values:
            raise RuntimeError(f"restore failed: {report.failed}")
    elif tool == "dill":
        import dill

        dill.load_module(str(first / "session.pkl"))
    elif tool == "store":
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "storemagic")
        shell.run_line_magic("store", "-r")
    elif tool == "pickle":
        with open(first / "ns.pkl", "rb") as f:
            pickle.load(f)
    elif tool == "raw":
        path = first / "raw.bin"
        buf = np.empty(path.stat().st_size, dtype=np.uint8)
        with open(path, "rb", buffering=0) as f:
            f.readinto(memoryview(buf))
    return {"restore": time.perf_counter() - started}


def main(argv: list[str]) -> None:
    """Entry point (see the module docstring)."""
    if argv[0] == "save":
        tool, workload, scale, root, repeat, nbytes = argv[1:7]
        result = do_save(tool, workload, float(scale), Path(root), int(repeat), int(nbytes))
    else:
        result = do_restore(argv[1], Path(argv[2]))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
