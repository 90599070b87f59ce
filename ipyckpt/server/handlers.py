"""REST handlers under ``<base_url>ipyckpt/``; every one requires Jupyter's authentication.

``GET    generations?path=NB``       the notebook's generations, newest first
``POST   verify?path=NB``            check every manifest, signature and blob
``DELETE generations/GEN?path=NB``   delete one generation and the blobs only it used

``NB`` is a notebook path relative to the server root (as JupyterLab names it). Its store is
where the notebook's kernel keeps it (:func:`ipyckpt.location.store_location`): ``IPYCKPT_STORE``
(the kernels inherit the server's environment), else ``c.Checkpointer.directory`` read from the
IPython configuration the kernels load, else ``.ipyckpt/<notebook file name>`` beside the
notebook. The server reads the configuration rather than asking a kernel because it must work
while the kernel is dead or busy. A notebook path (or default store) that resolves outside the
root is refused with 403. Store work runs in a thread: a busy store never blocks the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ipyckpt._version import __version__
from ipyckpt.location import STORE_ENV, configured_folder, store_location
from ipyckpt.store import fsio
from ipyckpt.store.errors import IpyckptError, NoCheckpoint, StoreBusy, StoreUnsafe

LOCK_TIMEOUT_S = 5
MAX_PATH_CHARS = 4096
MAX_GENERATION_DIGITS = 12  # generation files are named with at most 12 digits
AUTH_RESOURCE = "contents"


def store_dir(root: Path, notebook: str, folder: str = "") -> Path:
    """The store of ``notebook`` (relative to ``root``), found as the kernel finds it.

    :func:`ipyckpt.location.store_location` decides, with ``folder`` (the configured
    ``c.Checkpointer.directory``) and ``IPYCKPT_STORE``. A configured store may be anywhere;
    the default one (``.ipyckpt`` beside the notebook) must resolve inside ``root``.
    PermissionError if the notebook or the default store is outside ``root``.
    """
    root = root.resolve()
    if not notebook or not notebook.endswith(".ipynb") or "\0" in notebook:
        raise ValueError(f"not a notebook path: {notebook!r}")
    path = (root / notebook.lstrip("/")).resolve()
    if not path.is_relative_to(root) or path == root:
        raise PermissionError(f"{notebook!r} is outside the server root")
    store = store_location(path, folder=folder)
    if store is None:  # pragma: no cover - a notebook path always names a store
        raise ValueError(f"not a notebook path: {notebook!r}")
    if folder or os.environ.get(STORE_ENV):
        return store  # configured by the user, as the kernels see it
    store = store.resolve()
    if not store.is_relative_to(root):
        raise PermissionError(f"the state checkpoints of {notebook!r} are outside the server root")
    return store


def generations(directory: Path) -> list[dict[str, Any]]:
    """The store's generations as JSON, newest first (an absent store has none), each with the
    ``cell`` it follows (the panel's timeline); the cell history's sources stay on disk."""
    from ipyckpt.history import INFO_KEY, snapshot_cell
    from ipyckpt.store import Store

    if not (directory / "generations").is_dir():
        return []
    listed = []
    for g in Store(directory, lock_timeout=LOCK_TIMEOUT_S).generations():
        doc = dataclasses.asdict(g)
        doc["cell"] = snapshot_cell(g.info)
        doc["info"] = {k: v for k, v in g.info.items() if k != INFO_KEY}
        listed.append(doc)
    return listed


def verify(directory: Path) -> dict[str, Any]:
    """Verify the store; problems are listed per generation."""
    from ipyckpt.store import Store

    if not (directory / "generations").is_dir():
        return {
            "ok": True,
            "generations": 0,
            "blobs": 0,
            "problems": [],
            "text": "no state checkpoints",
        }
    report = Store(directory, lock_timeout=LOCK_TIMEOUT_S).verify()
    return {
        "ok": report.ok,
        "generations": report.generations,
        "blobs": report.blobs,
        "problems": [{"generation": p.generation, "message": p.message} for p in report.problems],
        "text": str(report),
    }


def delete_generation(directory: Path, generation: int) -> dict[str, Any]:
    """Delete one generation (its manifest) and every blob no remaining generation uses."""
    from ipyckpt.store import Store

    report = Store(directory, lock_timeout=LOCK_TIMEOUT_S).delete(generation)
    return {
        "deleted": generation,
        "removed_blobs": report.removed_blobs,
        "freed_bytes": report.freed_bytes,
    }


class _StoreHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def _store(self) -> Path:
        notebook = self.get_query_argument("path", "")
        if len(notebook) > MAX_PATH_CHARS:
            raise tornado.web.HTTPError(
                400, f"the notebook path is longer than {MAX_PATH_CHARS} characters"
            )
        root = Path(self.settings.get("server_root_dir") or self.contents_manager.root_dir)
        try:
            directory = store_dir(Path(root).expanduser(), notebook, configured_folder())
        except PermissionError as exc:
            raise tornado.web.HTTPError(403, str(exc)) from None
        except (ValueError, OSError) as exc:  # OSError: e.g. a name too long for the filesystem
            raise tornado.web.HTTPError(400, f"not a usable notebook path: {exc}") from None
        lexical = store_location(
            Path(root).expanduser().absolute() / notebook.lstrip("/"), folder=configured_folder()
        )
        problem = fsio.unsafe_dir_reason(lexical) if lexical is not None else None
        if problem is not None:  # the store's rules: never through a link, never another's
            raise tornado.web.HTTPError(403, f"refusing to use the state checkpoints: {problem}")
        return directory

    async def _run(self, func: Any, *args: Any) -> None:
        try:
            result = await asyncio.to_thread(func, *args)
        except NoCheckpoint as exc:
            raise tornado.web.HTTPError(404, str(exc)) from None
        except StoreBusy as exc:
            raise tornado.web.HTTPError(409, str(exc)) from None
        except StoreUnsafe as exc:
            raise tornado.web.HTTPError(403, str(exc)) from None
        except IpyckptError as exc:
            raise tornado.web.HTTPError(500, str(exc)) from None
        self.finish(json.dumps(result))


class GenerationsHandler(_StoreHandler):
    """``GET generations?path=NB``."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        directory = self._store()

        def listing() -> dict[str, Any]:
            return {
                "store": str(directory),
                "version": __version__,
                "generations": generations(directory),
            }

        await self._run(listing)


class GenerationHandler(_StoreHandler):
    """``DELETE generations/GEN?path=NB``."""

    @tornado.web.authenticated
    @authorized
    async def delete(self, generation: str) -> None:
        if len(generation) > MAX_GENERATION_DIGITS:
            raise tornado.web.HTTPError(400, f"{generation[:20]}… is not a generation number")
        await self._run(delete_generation, self._store(), int(generation))


class VerifyHandler(_StoreHandler):
    """``POST verify?path=NB``."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self._run(verify, self._store())


def setup_handlers(web_app: Any) -> None:
    """Add the handlers to the server's tornado application."""
    base = url_path_join(web_app.settings["base_url"], "ipyckpt")
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "generations"), GenerationsHandler),
            (url_path_join(base, r"generations/(\d+)"), GenerationHandler),
            (url_path_join(base, "verify"), VerifyHandler),
        ],
    )
