"""Work lost per eviction of a ``%%condor`` job, with and without ``transfer_on_evict``.

    python -m benchmarks.eviction_loss [--every 30] [--scale 0.03] [--evictions 8] [--seed 1]

A job loops over short steps and checkpoints every ``--every`` seconds; it is vacated at random
moments (uniform over 0.3 to 2.3 intervals after it started running again). Work lost = steps
that ran twice (each step prints one line, so it is what the job printed beyond its length).
Time is scaled by ``--scale`` so an ``every=30s`` job runs in seconds: the figures are given in
the unscaled seconds of the ``--every`` job. Runs in the local emulation (``backend=local``),
three ways: ``ON_EXIT`` (the default so far), ``ON_EXIT_OR_EVICT``, and ``ON_EXIT_OR_EVICT``
with every eviction transfer cut off at a random byte.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ipyckpt.condor import local, submit_cell
from ipyckpt.condor.job import CondorJob

STEPS_PER_INTERVAL = 100
LOOP = """
import time
done = 0
for i in range(n):
    time.sleep(step)
    done += 1
    print(i, flush=True)
"""


def _wait(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the job did not get there in time")
        time.sleep(0.01)


def _printed(job: CondorJob) -> int:
    path = job.record.path / "job.out"
    return len(path.read_text().splitlines()) if path.exists() else 0


def one_job(mode: str, every: float, evictions: int, rng: random.Random, root: Path) -> list[float]:
    """Vacate one job ``evictions`` times; return the seconds of work lost per eviction."""
    step = every / STEPS_PER_INTERVAL
    n = int(STEPS_PER_INTERVAL * 2.5 * (evictions + 1))
    job = submit_cell(
        LOOP, {"n": n, "step": step}, jobs_dir=root, backend="local", every=every,
        transfer_on_evict=mode != "ON_EXIT", announce=lambda _: None,
    )  # fmt: skip
    for k in range(evictions):
        _wait(lambda k=k: job.status().state == "running" and job.status().starts == k + 1)
        time.sleep(rng.uniform(0.3, 2.3) * every)
        if mode == "cut":
            cut = local.local_dir(job.record, 0) / local.CUT_TRANSFER
            cut.write_text(str(rng.randrange(1 << 30)))
        job.vacate()
        _wait(lambda k=k: job.status().evictions == k + 1)
    job.wait(timeout=600)
    assert job.fetch()["done"] == n
    repeated = repeated_steps(job)  # an eviction that repeated nothing leaves no trace
    assert len(repeated) <= evictions, repeated
    return [steps * step for steps in repeated + [0] * (evictions - len(repeated))]


def repeated_steps(job: CondorJob) -> list[int]:
    """Steps run twice after each restart: the printed step numbers go back that far."""
    printed = [int(line) for line in (job.record.path / "job.out").read_text().split()]
    return [a - b + 1 for a, b in itertools.pairwise(printed) if b <= a]


def main() -> None:
    """Run the three modes; print medians and means of the work lost per eviction."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=30.0, help="checkpoint interval (s)")
    parser.add_argument("--scale", type=float, default=0.03, help="time scale of the run")
    parser.add_argument("--evictions", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    every = args.every * args.scale
    print(f"work lost per eviction of an every={args.every:g}s job ({args.evictions} random "
          f"evictions per mode, local emulation, time scaled by {args.scale})")  # fmt: skip
    print(f"{'when_to_transfer_output':<40} {'median':>8} {'mean':>8} {'max':>8}")
    with tempfile.TemporaryDirectory(prefix="ipyckpt-evict-") as tmp:
        for mode, label in (
            ("ON_EXIT", "ON_EXIT"),
            ("ON_EXIT_OR_EVICT", "ON_EXIT_OR_EVICT (transfer_on_evict)"),
            ("cut", "ON_EXIT_OR_EVICT, every transfer cut off"),
        ):
            lost = one_job(mode, every, args.evictions, rng, Path(tmp) / mode)
            unscaled = [s / args.scale for s in lost]
            print(
                f"{label:<40} {statistics.median(unscaled):>7.1f}s "
                f"{statistics.mean(unscaled):>7.1f}s {max(unscaled):>7.1f}s"
            )


if __name__ == "__main__":
    main()
