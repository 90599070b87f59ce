"""The REST handlers of the server extension, in a real jupyter_server (pytest-jupyter)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from ipyckpt import Store

EVERY_ENDPOINT = (  # (method, URL parts after /ipyckpt, body) of each handler
    ("GET", ("generations",), None),
    ("POST", ("verify",), ""),
    ("DELETE", ("generations", "1"), None),
)


def make_store(root: Path, notebook: str = "work/analysis.ipynb", saves: int = 2) -> Store:
    nb = root / notebook
    nb.parent.mkdir(parents=True, exist_ok=True)
    nb.write_text("{}")
    store = Store(nb.parent / ".ipyckpt" / nb.name)
    gen = (n for n in range(3))  # a generator cannot be stored: skipped with a reason
    for i in range(saves):
        store.save({"x": i, "data": list(range(1000 * (i + 1))), "gen": gen}, trigger="manual")
    return store


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    assert response.code == 200
    return json.loads(response.body)


async def test_lists_generations_newest_first(jp_fetch: Any, jp_root_dir: Path) -> None:
    make_store(jp_root_dir, saves=3)
    body = await get_json(
        jp_fetch, "ipyckpt", "generations", params={"path": "work/analysis.ipynb"}
    )
    gens = body["generations"]
    assert [g["id"] for g in gens] == [3, 2, 1]
    newest = gens[0]
    assert newest["trigger"] == "manual"
    assert set(newest["variables"]) == {"x", "data"}
    assert "gen" in newest["skipped"] and newest["skipped"]["gen"]
    assert newest["bytes"] > 0 and newest["time"] > 0
    assert newest["problem"] is None
    assert body["store"].endswith("work/.ipyckpt/analysis.ipynb")


async def test_notebook_without_checkpoints_has_none(jp_fetch: Any) -> None:
    body = await get_json(jp_fetch, "ipyckpt", "generations", params={"path": "fresh.ipynb"})
    assert body["generations"] == []
    verified = await get_json(
        jp_fetch, "ipyckpt", "verify", method="POST", body="", params={"path": "fresh.ipynb"}
    )
    assert verified["ok"] is True


async def test_verify_finds_a_damaged_blob(jp_fetch: Any, jp_root_dir: Path) -> None:
    store = make_store(jp_root_dir, saves=1)
    verify = functools.partial(
        get_json, jp_fetch, "ipyckpt", "verify", method="POST", body="",
        params={"path": "work/analysis.ipynb"},
    )  # fmt: skip
    ok = await verify()
    assert ok["ok"] is True and ok["generations"] == 1
    blob = max((p for p in (store.directory / "blobs").glob("*/*")), key=lambda p: p.stat().st_size)
    blob.write_bytes(blob.read_bytes()[:-10])
    bad = await verify()
    assert bad["ok"] is False
    assert bad["problems"] and bad["problems"][0]["generation"] == 1


async def test_delete_one_generation_keeps_the_others(jp_fetch: Any, jp_root_dir: Path) -> None:
    store = make_store(jp_root_dir, saves=3)
    response = await jp_fetch(
        "ipyckpt", "generations", "2", method="DELETE", params={"path": "work/analysis.ipynb"}
    )
    assert json.loads(response.body)["deleted"] == 2
    assert store.generation_ids() == [3, 1]
    assert store.load(1).values["x"] == 0
    assert store.load(3).values["x"] == 2
    assert store.verify().ok
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch(
            "ipyckpt", "generations", "2", method="DELETE", params={"path": "work/analysis.ipynb"}
        )
    assert missing.value.code == 404


@pytest.mark.parametrize("path", ["../outside.ipynb", "/../../etc/x.ipynb", "work/../../x.ipynb"])
async def test_paths_outside_the_root_are_refused(
    jp_fetch: Any, jp_root_dir: Path, path: str
) -> None:
    make_store(jp_root_dir.parent, notebook="outside.ipynb", saves=1)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("ipyckpt", "generations", params={"path": path})
    assert refused.value.code in (403, 404)


async def test_store_symlinked_outside_the_root_is_refused(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    outside = make_store(jp_root_dir.parent, notebook="elsewhere/analysis.ipynb", saves=1)
    (jp_root_dir / "analysis.ipynb").write_text("{}")
    (jp_root_dir / ".ipyckpt").symlink_to(outside.directory.parent)
    for method, parts, body in EVERY_ENDPOINT:
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch(
                "ipyckpt", *parts, method=method, body=body, params={"path": "analysis.ipynb"}
            )
        assert refused.value.code == 403
    assert outside.generation_ids() == [1], "nothing outside the root was deleted"


async def test_not_a_notebook_is_a_bad_request(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ipyckpt", "generations", params={"path": "notes.txt"})
    assert bad.value.code == 400


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        (("generations",), "a" * 5000 + ".ipynb"),
        (("generations",), "/".join(["d"] * 2500) + "/x.ipynb"),
        (("generations", "9" * 5000), "work/analysis.ipynb"),
    ],
    ids=["5000-char-name", "5000-char-path", "5000-digit-generation"],
)
async def test_absurd_paths_and_generations_are_bad_requests_with_a_message(
    jp_fetch: Any, jp_root_dir: Path, parts: tuple[str, ...], path: str
) -> None:
    store = make_store(jp_root_dir, saves=1)
    method = "DELETE" if len(parts) > 1 else "GET"
    with pytest.raises(HTTPClientError) as bad:
        await jp_fetch("ipyckpt", *parts, method=method, params={"path": path})
    assert bad.value.code == 400
    assert bad.value.response is not None
    message = json.loads(bad.value.response.body)["message"]
    assert "not a generation number" in message or "path" in message
    assert store.generation_ids() == [1]


async def test_delete_refuses_a_store_that_is_a_symlink_inside_the_root(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    real = make_store(jp_root_dir, notebook="real/analysis.ipynb", saves=2)
    (jp_root_dir / "analysis.ipynb").write_text("{}")
    (jp_root_dir / ".ipyckpt").mkdir()
    (jp_root_dir / ".ipyckpt" / "analysis.ipynb").symlink_to(real.directory)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "ipyckpt", "generations", "1", method="DELETE", params={"path": "analysis.ipynb"}
        )
    assert refused.value.code == 403
    assert "symbolic link" in json.loads(refused.value.response.body)["message"]
    assert real.generation_ids() == [2, 1], "nothing was deleted through the link"


@pytest.mark.parametrize("auth", ["", "token not-the-token"])
async def test_unauthenticated_requests_are_refused(
    jp_fetch: Any, jp_root_dir: Path, auth: str
) -> None:
    store = make_store(jp_root_dir, saves=1)
    for method, parts, body in EVERY_ENDPOINT:
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch(
                "ipyckpt",
                *parts,
                method=method,
                body=body,
                params={"path": "work/analysis.ipynb"},
                headers={"Authorization": auth},
            )
        assert refused.value.code in (401, 403)
    assert store.generation_ids() == [1]


async def test_extension_is_enabled_by_the_server(jp_serverapp: Any) -> None:
    assert "ipyckpt" in jp_serverapp.extension_manager.extensions
    assert jp_serverapp.extension_manager.extensions["ipyckpt"].enabled
