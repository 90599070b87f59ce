"""Consistent points, resume, and %%checkpoint line parsing, without a kernel."""

from __future__ import annotations

import copy
import types
from typing import Any

import pytest

from ipyckpt.magicargs import OptionError, parse_cell_options
from ipyckpt.safepoints import RUNTIME_NAME, ResumePoint, SafepointRuntime, instrument

LOOP = "total = 0\nfor i in range(10):\n    total += i\n    other = total * 2\nresult = total\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0  # every consistent-point check sees time pass
        return self.now


def run(
    source: str, ns: dict[str, Any], resume: ResumePoint | None = None
) -> list[tuple[ResumePoint, dict[str, Any]]]:
    snaps: list[tuple[ResumePoint, dict[str, Any]]] = []
    cell = instrument(source, resume=resume)

    def on_snapshot(pos: ResumePoint, trigger: str) -> None:
        snaps.append(
            (
                pos,
                copy.deepcopy(
                    {
                        k: v
                        for k, v in ns.items()
                        if not k.startswith("__") and not isinstance(v, types.ModuleType)
                    }
                ),
            )
        )

    runtime = SafepointRuntime(interval=1.5, on_snapshot=on_snapshot, resume=resume, clock=Clock())
    ns[RUNTIME_NAME] = runtime
    with runtime.activate():
        exec(compile(cell.body, "<cell>", "exec"), ns)
    return snaps


def test_snapshots_are_never_torn_and_resume_matches_an_uninterrupted_run() -> None:
    snaps = run(LOOP, {})
    in_loop = [(p, s) for p, s in snaps if p.iteration is not None]
    assert len(in_loop) >= 3
    for pos, state in in_loop:
        assert (
            state["total"] == sum(range(pos.iteration))
            and state["other"] in (None, state["total"] * 2)
        ) or pos.iteration == 0
        assert state["i"] == pos.iteration
    pos, state = in_loop[len(in_loop) // 2]
    run(LOOP, state, resume=pos)
    assert state["result"] == sum(range(10))


def test_resume_skips_statements_but_reruns_imports() -> None:
    ns: dict[str, Any] = {"log": []}
    run(
        "import math\nlog.append('a')\nlog.append('b')\n_ = log.append(math.pi > 3)",
        ns,
        resume=ResumePoint(2),
    )
    assert ns["log"] == ["b", True]
    with pytest.raises(ValueError, match="outside"):
        instrument("x = 1", resume=ResumePoint(5))


def test_last_expression_is_separate_and_descriptions_read_like_the_source() -> None:
    cell = instrument("x = 1\nfor i in range(3):\n    pass\nx + 1")
    assert cell.last_expr is not None
    assert (
        ResumePoint(1, 2).describe(cell.statements)
        == "statement 2, iteration 2 of for i in range(3)"
    )


@pytest.mark.parametrize(
    ("line", "every", "names", "resume"),
    [
        ("", None, None, True),
        ("every=1h30m vars=a,b resume=no", 5400.0, ("a", "b"), False),
        ("--every 10m", 600.0, None, True),
    ],
)
def test_cell_options(
    line: str, every: float | None, names: tuple[str, ...] | None, resume: bool
) -> None:
    opts = parse_cell_options(line)
    assert (opts.every, opts.names, opts.resume) == (every, names, resume)


@pytest.mark.parametrize(
    "line", ["every=banana", "keep=0", "colour=red", "every=1h every=2h", "stray"]
)
def test_bad_cell_options(line: str) -> None:
    with pytest.raises(OptionError):
        parse_cell_options(line)
