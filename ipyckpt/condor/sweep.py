"""Sweeps: one cell run once per parameter combination, as the jobs of one HTCondor cluster.

``%%condor map lr=0.1,0.01 seed=1,2`` runs the cell for every combination (a grid);
``%%condor map=NAME`` once per element of a list (dict elements give several variables,
others the variable ``item``), per entry of a dict (variables ``key`` and ``item``, or the
entry's own dict) or per row of a DataFrame (one variable per column). Each job gets its
parameters as variables; results are gathered into a dict keyed by the parameters.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import shlex
import time
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Any

from ipyckpt.condor.description import item_label
from ipyckpt.condor.job import CondorJob
from ipyckpt.condor.record import JobRecord, JobStatus
from ipyckpt.store.errors import IpyckptError

KEYS = "ipyckpt-keys"  # a sweep's result keys, kept beside its record (never transferred)


@dataclass(frozen=True)
class SweepItem:
    """One job of a sweep: the variables it gets, the key of its results, a label in words."""

    params: dict[str, Any]
    key: Hashable
    label: str


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _hashable(value: Any) -> Hashable:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value  # type: ignore[no-any-return]


def _label(params: dict[str, Any]) -> str:
    return item_label(" ".join(f"{k}={v}" for k, v in params.items()))


def _check_names(names: Collection[Any], where: str) -> None:
    for name in names:
        if not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"{where} {name!r} is not a Python variable name")


def split_map_line(line: str, options: Collection[str]) -> tuple[str, dict[str, list[Any]] | None]:
    """``map a=1,2 every=5s`` -> (``every=5s``, ``{"a": [1, 2]}``); (line, None) without ``map``.

    After the word ``map``, every ``key=values`` whose key is not an option of ``%%condor`` is
    a parameter; its comma-separated values are Python literals (else strings).
    """
    tokens = shlex.split(line)
    if not tokens or tokens[0] != "map":
        return line, None
    rest: list[str] = []
    grid: dict[str, list[Any]] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if sep and key not in options and not token.startswith("--"):
            _check_names([key], "parameter")
            grid[key] = [_literal(v.strip()) for v in value.split(",") if v.strip()]
            if not grid[key]:
                raise ValueError(f"{key}= has no values: write {key}=1,2,3")
        else:
            rest.append(token)
    if not grid:
        raise ValueError("map needs parameters, e.g. map lr=0.1,0.01 seed=1,2, or map=NAME")
    return shlex.join(rest), grid


def grid_items(grid: dict[str, list[Any]]) -> list[SweepItem]:
    """Every combination of the parameters' values; keys are value tuples (or the value)."""
    items = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        key = values[0] if len(values) == 1 else tuple(values)
        items.append(SweepItem(params, _hashable(key), _label(params)))
    return items


def items_from(value: Any, name: str) -> list[SweepItem]:
    """The jobs of ``map=NAME``: one per list element, dict entry or DataFrame row."""
    if hasattr(value, "iterrows") and hasattr(value, "columns"):  # a pandas DataFrame
        _check_names(list(value.columns), f"column of {name}")
        rows = [(index, dict(row.items())) for index, row in value.iterrows()]
        return [SweepItem(params, _hashable(index), _label(params)) for index, params in rows]
    if isinstance(value, dict):
        items = []
        for key, entry in value.items():
            params = dict(entry) if isinstance(entry, dict) else {"key": key, "item": entry}
            _check_names(params, f"key in {name}[{key!r}]:")
            items.append(SweepItem(params, _hashable(key), _label({"key": key})))
        return items
    if isinstance(value, list | tuple | range):
        items = []
        for element in value:
            params = dict(element) if isinstance(element, dict) else {"item": element}
            _check_names(params, f"key in an element of {name}:")
            values = tuple(params.values())
            key = values[0] if len(values) == 1 else values
            items.append(SweepItem(params, _hashable(key), _label(params)))
        return items
    raise ValueError(f"map={name}: give a list, a dict or a DataFrame (got {type(value).__name__})")


class SweepResults(dict[Hashable, dict[str, Any]]):
    """Returned variables keyed by parameters, with the jobs that gave none in ``errors``."""

    def __init__(self) -> None:
        super().__init__()
        self.params: dict[Hashable, dict[str, Any]] = {}
        self.errors: dict[Hashable, str] = {}

    def frame(self) -> Any:
        """A pandas DataFrame: one row per job, its parameters, returned variables and error."""
        pd = importlib.import_module("pandas")
        rows = []
        for key, params in self.params.items():
            row = dict(params) | self.get(key, {})
            row["error"] = self.errors.get(key)
            rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str | None:
        try:
            return str(self.frame().to_html())
        except ImportError:
            return None


class Sweep:
    """The jobs of one sweep (one cluster): status, wait, fetch, hold, release, remove."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self.jobs = [CondorJob(record, proc) for proc in record.procs]

    @property
    def name(self) -> str:
        """The sweep's name; its jobs are ``NAME/0``, ``NAME/1``, ..."""
        return self.record.name

    def statuses(self) -> list[JobStatus]:
        """Each job's status, in job order."""
        return [job.status() for job in self.jobs]

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for status in self.statuses():
            counts[status.state] = counts.get(status.state, 0) + 1
        states = ", ".join(f"{n} {state}" for state, n in counts.items())
        label = self.jobs[0].backend_label
        return (
            f"{self.name} (cluster {self.record.cluster}, {label}): {len(self.jobs)} jobs: {states}"
        )

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> list[JobStatus]:
        """Block until every job is done, failed, removed, held or lost."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            job.wait(timeout=left, poll=poll)
        return self.statuses()

    def keys(self) -> list[Hashable]:
        """The result key of each job (its parameters), in job order."""
        from ipyckpt.condor import payload as p

        store = p.store(self.record.path / KEYS, bytes.fromhex(self.record.key))
        keys: list[Hashable] = store.load().values["keys"]
        return keys

    def params(self, proc: int) -> dict[str, Any]:
        """The variables job ``proc`` was given."""
        from ipyckpt.condor import payload as p

        job = self.jobs[proc]
        store = p.store(job.folder / p.PARAMS, bytes.fromhex(self.record.key))
        values: dict[str, Any] = store.load().values
        return values

    def fetch(self) -> SweepResults:
        """What every job returned, keyed by its parameters; failed jobs go to ``errors``."""
        results = SweepResults()
        for job, key in zip(self.jobs, self.keys(), strict=True):
            results.params[key] = self.params(job.proc)
            try:
                results[key] = job.fetch()
            except IpyckptError as exc:
                results.errors[key] = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        return results

    def _each(self, action: str) -> None:
        for job in self.jobs:
            getattr(job, action)()

    def hold(self) -> None:
        """Hold every job of the sweep."""
        self._each("hold")

    def release(self) -> None:
        """Release every held job of the sweep."""
        self._each("release")

    def remove(self) -> None:
        """Remove every job of the sweep."""
        self._each("remove")

    def vacate(self) -> None:
        """Evict every running job of the sweep."""
        self._each("vacate")
