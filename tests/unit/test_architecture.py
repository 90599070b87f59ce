"""The README's architecture section lists every module of the package, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_module_once() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([\w/]+\.py)`:", section, flags=re.MULTILINE)
    package = ROOT / "ipyckpt"
    modules = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "labextension" not in p.parts
        and not (p.name == "__init__.py" and p.parent != package)  # subpackage markers
    }
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert set(listed) == modules, {
        "missing": sorted(modules - set(listed)),
        "gone": sorted(set(listed) - modules),
    }


def test_every_top_level_module_has_a_layer() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    in_layers = {name.strip() for row in layers["layers"] for name in row.split("|")}
    package = ROOT / "ipyckpt"
    top = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    top |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert top - in_layers == set(), "add these to the layers in pyproject.toml"
