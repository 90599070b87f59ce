"""The outside corpus: example scripts of public projects, fetched from their source distributions.

Nobody on this team wrote them. They are downloaded at test time with the ordinary package client
(``pip download --no-deps --no-binary :all: PKG==VER``), pinned, cached outside the repository
(``IPYCKPT_CORPUS_CACHE``, default ``~/.cache/ipyckpt-corpus``) and never committed. Each one
runs offline in seconds: its data is generated, built in, or shipped beside it in the sdist.

A script becomes notebook cells at ``# %%`` markers when it has them, else at every blank line
between top-level statements (a paragraph of statements is a cell, as people write notebooks).
"""

from __future__ import annotations

import ast
import itertools
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

#: (distribution, pinned version) -> example files inside the sdist's ``examples/`` folder
CORPUS: dict[tuple[str, str], list[str]] = {
    ("networkx", "3.6.1"): [
        "algorithms/plot_beam_search.py",
        "algorithms/plot_cycle_detection.py",
        "algorithms/plot_iterated_dynamical_systems.py",
        "algorithms/plot_trust_rank.py",
        "basic/plot_properties.py",
        "basic/plot_read_write.py",
        "drawing/plot_clusters.py",
        "drawing/plot_degree.py",
        "drawing/plot_unix_email.py",
        "graph/plot_erdos_renyi.py",
        "graph/plot_karate_club.py",
        "subclass/plot_antigraph.py",
    ],
    ("lmfit", "1.3.4"): [
        "doc_builtinmodels_stepmodel.py",
        "doc_confidence_basic.py",
        "doc_fitting_withreport.py",
        "doc_model_composite.py",
        "doc_model_gaussian.py",
        "example_diffev.py",
        "example_expression_model.py",
        "example_fit_multi_datasets.py",
    ],
}


@dataclass(frozen=True)
class Example:
    """One example script, unpacked, with the folder it runs in (its data files sit beside it)."""

    dist: str
    version: str
    relpath: str
    folder: Path

    @property
    def name(self) -> str:
        """``lmfit/doc_model_gaussian``: the id shown in results."""
        return f"{self.dist}/{Path(self.relpath).stem}"

    @property
    def script(self) -> Path:
        """The unpacked script."""
        return self.folder / Path(self.relpath).name


def cache_dir() -> Path:
    """Where sdists are downloaded and unpacked (outside the repository)."""
    default = Path.home() / ".cache" / "ipyckpt-corpus"
    return Path(os.environ.get("IPYCKPT_CORPUS_CACHE", default)).expanduser()


def fetch(dist: str, version: str) -> Path:
    """Download (once) and unpack the sdist of ``dist==version``; return its ``examples/`` folder."""
    root = cache_dir()
    unpacked = root / f"{dist}-{version}"
    if not (unpacked / "examples").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        archive = _download(dist, version, root)
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/examples/" in m.name and m.isreg()]
            tar.extractall(root, members=members, filter="data")
    return unpacked / "examples"


def _download(dist: str, version: str, root: Path) -> Path:
    found = sorted(root.glob(f"{dist}-{version}.tar.gz"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--no-binary", ":all:", f"{dist}=={version}", "-d", str(root)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        found = sorted(root.glob(f"{dist}-{version}.tar.gz"))
    if not found:
        raise FileNotFoundError(f"pip download left no sdist of {dist}=={version} in {root}")
    return found[0]


def examples(work: Path) -> list[Example]:
    """Every example of :data:`CORPUS`, each copied with its folder into ``work``."""
    out = []
    for (dist, version), paths in CORPUS.items():
        source = fetch(dist, version)
        for rel in paths:
            folder = work / dist / Path(rel).stem
            shutil.copytree(source / Path(rel).parent, folder)
            out.append(Example(dist, version, rel, folder))
    return out


def split_cells(source: str) -> list[str]:
    """Notebook cells of a script: at ``# %%`` markers, else at blank lines between statements."""
    lines = source.splitlines()
    if any(line.startswith("# %%") for line in lines):
        cells, current = [], []
        for line in lines:
            if line.startswith("# %%"):
                cells.append("\n".join(current))
                current = []
            else:
                current.append(line)
        cells.append("\n".join(current))
        return [c for c in cells if _has_code(c)]
    return _paragraphs(source, lines)


def _paragraphs(source: str, lines: list[str]) -> list[str]:
    starts = []
    previous_end = 0
    for stmt in ast.parse(source).body:
        first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        gap = lines[previous_end : first - 1]
        if not starts or any(not line.strip() for line in gap):
            starts.append(first)
        previous_end = stmt.end_lineno or first
    bounds = [*starts, len(lines) + 1]
    return [
        "\n".join(lines[a - 1 : b - 1]).strip("\n")
        for a, b in itertools.pairwise(bounds)
        if _has_code("\n".join(lines[a - 1 : b - 1]))
    ]


def _has_code(cell: str) -> bool:
    try:
        return bool(ast.parse(cell).body)
    except SyntaxError:
        return True  # let the kernel report it
