"""Everything a notebook binds comes back after a restore in a fresh interpreter, with its type:
imported modules, and the object families of issue 11 item 2."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_python

SAVE_MODULES = """
import sys, types, importlib
sys.path.insert(0, sys.argv[2])
import os.path, json as j, numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from os import path
from xml.dom import minidom
import onlyhere
built = types.ModuleType("built")
exec("def twice(x):\\n    return 2 * x\\nK = 21", built.__dict__)
from ipyckpt import Store
ns = {k: v for k, v in globals().items() if not k.startswith("__") and k not in ("sys", "types", "importlib", "Store")}
print(Store(sys.argv[1]).save(ns))
"""

LOAD_MODULES = """
import sys
from ipyckpt import Store
r = Store(sys.argv[1]).load()
v = r.values
assert v["np"] is sys.modules["numpy"] and v["np"].arange(3).sum() == 3
assert v["j"] is sys.modules["json"] and v["os"] is sys.modules["os"]
assert v["path"] is sys.modules["os"].path
assert v["plt"] is sys.modules["matplotlib.pyplot"] and v["matplotlib"] is sys.modules["matplotlib"]
assert v["minidom"] is sys.modules["xml.dom.minidom"]
assert v["built"].twice(v["built"].K) == 42 and "built" not in sys.modules
assert set(r.failed) == {"onlyhere"}, r.failed
assert "No module named 'onlyhere'" in r.failed["onlyhere"], r.failed
assert "not restored: onlyhere: ModuleNotFoundError: No module named 'onlyhere'" in str(r)
print("OK")
"""


def test_imported_modules_come_back_and_an_unimportable_one_is_reported(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "onlyhere.py").write_text("VALUE = 1\n")
    saved = run_python(SAVE_MODULES, str(tmp_path / "store"), str(lib))
    assert "skipped" not in saved.stdout, saved.stdout
    (lib / "onlyhere.py").unlink()
    loaded = run_python(LOAD_MODULES, str(tmp_path / "store"))
    assert loaded.stdout.strip().endswith("OK")


def test_loading_ipyckpt_leaves_the_pure_python_pickler_as_it_was(tmp_path: Path) -> None:
    out = run_python(
        """
        import pickle, sys
        before = dict(pickle._Pickler.dispatch)
        from ipyckpt import Store
        Store(sys.argv[1]).save({"f": lambda x: x, "keys": {1: 2}.keys()})
        assert dict(pickle._Pickler.dispatch) == before, "dill's savers leaked into pickle"
        import dill  # the user's own import of dill is not undone
        print("OK")
        """,
        str(tmp_path / "store"),
    )
    assert out.stdout.strip() == "OK"


def test_the_manifest_stays_compact_and_the_earlier_record_form_still_loads(
    tmp_path: Path,
) -> None:
    import json

    from ipyckpt import Store

    store = Store(tmp_path / "s")
    store.save({f"v{i}": i for i in range(10_000)})
    path = tmp_path / "s" / "generations" / "00000001.json"
    assert path.stat().st_size / 10_000 < 150, "bytes of manifest per small variable"
    doc = json.loads(path.read_bytes())
    for segment in doc["segments"].values():  # rewrite it in the earlier, verbose form
        segment["variables"] = [
            {"name": n, "type": t, "span": [a, b], "buffers": bufs, "group": g}
            for n, t, a, b, bufs, g in segment["variables"]
        ]
    doc["variables"] = {
        n: {"segment": s, "index": i, "written_by": w} for n, (s, i, w) in doc["variables"].items()
    }
    path.write_text(json.dumps(doc))
    values = store.load(trust=True).values
    assert len(values) == 10_000 and values["v9999"] == 9999
