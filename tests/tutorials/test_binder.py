"""What can be checked of the Binder set-up without Docker: the base image pin, that what
``binder/Dockerfile`` installs matches pyproject.toml and covers what the tutorials import, the
README's launch badge, and the tutorials' pool detection when there is no pool."""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "binder" / "Dockerfile"
TUTORIALS = REPO / "tutorials"
BASE_IMAGE = "htcondor/htc-minimal-notebook"
BINDER_URL = (
    "https://mybinder.org/v2/gh/ipyckpt/ipyckpt/HEAD"
    "?urlpath=lab/tree/tutorials/01-first-checkpoint.ipynb"
)
#: installed on Binder only, for Binder itself (not a requirement of ipyckpt or its tutorials)
BINDER_ONLY = {"notebook": "BinderHub starts the server as `jupyter notebook`"}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _pip_installs() -> list[str]:
    """Every argument of every ``pip install`` in a RUN instruction (options left out)."""
    args: list[str] = []
    for keyword, rest in _instructions():
        if keyword != "RUN":
            continue
        for command in rest.split("&&"):
            words = shlex.split(command)
            if "pip" in words and "install" in words:
                tail = words[words.index("install") + 1 :]
                args += [w for w in tail if not w.startswith("-")]
    return args


def _pyproject() -> dict[str, list[Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {name: [Requirement(r) for r in reqs] for name, reqs in groups.items()}


def test_base_image_is_htcondors_notebook_image_pinned_to_a_date() -> None:
    froms = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert len(froms) == 1, froms
    image, _, tag = froms[0].partition(":")
    assert image == BASE_IMAGE
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tag), f"pin a dated tag, not {tag or 'latest'!r}"


def test_installed_requirements_match_pyproject() -> None:
    groups = _pyproject()
    declared: dict[str, set[str]] = {}
    for reqs in groups.values():
        for r in reqs:
            declared.setdefault(canonicalize_name(r.name), set()).add(str(r.specifier))
    installs = _pip_installs()
    package = [a for a in installs if a.startswith("/home/jovyan/ipyckpt[")]
    assert len(package) == 1, f"install this package (with extras) exactly once: {installs}"
    extras = package[0].removeprefix("/home/jovyan/ipyckpt[").removesuffix("]").split(",")
    assert {"lab", "condor"} <= set(extras), extras
    assert set(extras) <= set(groups), f"extras not in pyproject: {set(extras) - set(groups)}"
    copies = [rest for keyword, rest in _instructions() if keyword == "COPY"]
    assert ". /home/jovyan/ipyckpt" in copies, "the package installed is this repository"
    for arg in installs:
        if arg in package:
            continue
        req = Requirement(arg)
        name = canonicalize_name(req.name)
        if name in BINDER_ONLY:
            continue
        assert name in declared, f"binder installs {arg}, which pyproject.toml does not declare"
        assert str(req.specifier) in declared[name], (
            f"binder installs {arg}, pyproject.toml says {req.name} {sorted(declared[name])}"
        )


def _tutorial_imports() -> list[str]:
    """The third-party modules the tutorials import."""
    imported = set()
    for path in sorted(TUTORIALS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                imported |= set(re.findall(r"^\s*(?:from|import)\s+(\w+)", cell.source, re.M))
    third_party = sorted(imported - set(sys.stdlib_module_names))
    assert "matplotlib" in third_party, third_party  # the scan sees the tutorials' imports
    return third_party


def _not_provided(
    extras: list[str], also: set[str], optional: frozenset[str] = frozenset()
) -> list[str]:
    """Tutorial imports (but ``optional``) that ipyckpt with ``extras`` (+ ``also``) lacks."""
    groups = _pyproject()
    provided = {"ipyckpt"} | also
    provided |= {canonicalize_name(r.name) for group in ["", *extras] for r in groups[group]}
    dists = packages_distributions()
    missing = []
    for module in sorted(set(_tutorial_imports()) - optional):
        names = {canonicalize_name(d) for d in dists.get(module, [module])}
        if not names & provided:
            missing.append(f"{module} ({', '.join(sorted(names))})")
    return missing


def test_binder_installs_what_the_tutorials_import() -> None:
    installs = _pip_installs()
    package = next(a for a in installs if a.startswith("/home/jovyan/ipyckpt["))
    extras = package.removeprefix("/home/jovyan/ipyckpt[").removesuffix("]").split(",")
    others = {canonicalize_name(Requirement(a).name) for a in installs if a != package}
    missing = _not_provided(extras, others)
    assert not missing, f"the tutorials import modules binder does not install: {missing}"


def test_the_readme_launch_command_installs_what_the_tutorials_import() -> None:
    """``bash dev/lab.sh`` installs ipyckpt with the extras it passes to build-extension.sh."""
    script = (REPO / "dev" / "lab.sh").read_text()
    found = re.findall(r"^\s*bash dev/build-extension\.sh (\S+)", script, re.M)
    assert len(found) == 1, "dev/lab.sh no longer installs through build-extension.sh"
    # without HTCondor's bindings the tutorials use the local emulation (the import is guarded)
    missing = _not_provided(found[0].split(","), set(), optional=frozenset({"htcondor2"}))
    assert not missing, f"the tutorials import modules dev/lab.sh does not install: {missing}"


def test_readme_has_the_binder_badge_and_still_exactly_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Tutorials" in readme
    badge = f"[![Binder](https://mybinder.org/badge_logo.svg)]({BINDER_URL})"
    assert badge in readme
    # Binder's file browser starts in the Dockerfile's WORKDIR, the repository's copy
    workdirs = [rest for keyword, rest in _instructions() if keyword == "WORKDIR"]
    assert workdirs[-1:] == ["/home/jovyan/ipyckpt"], workdirs
    opened = BINDER_URL.partition("?urlpath=lab/tree/")[2]
    assert (REPO / opened).is_file(), f"the badge opens {opened}, which does not exist"
    shell_blocks = re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", readme, re.S)
    commands = [
        line.strip()
        for block in shell_blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert commands == ["bash dev/lab.sh", "bash dev/test.sh"], commands


@pytest.mark.parametrize("name", ["04-a-cell-on-htcondor", "05-many-jobs"])
def test_pool_detection_says_local_in_one_line_without_a_pool(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The notebooks' backend cell, run where no pool exists (no condor_who, no schedd)."""
    cells = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4).cells
    source = next(c.source for c in cells if "def find_backend" in c.source)
    monkeypatch.delenv("IPYCKPT_TUTORIAL_BACKEND", raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.setenv("CONDOR_CONFIG", os.devnull)
    namespace: dict[str, object] = {"os": os}
    exec(compile(source, f"{name} backend cell", "exec"), namespace)
    assert namespace["BACKEND"] == "local"
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "backend=local: no HTCondor pool reachable here, so the jobs run in ipyckpt's local "
        "emulation of an HTCondor slot"
    ]
