"""Tutorial 1's images load in JupyterLab served as the README's launch command serves it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.ui.conftest import Lab

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"


def test_the_images_of_tutorial_1_load(lab: Lab, page: Any) -> None:
    """`bash dev/lab.sh` serves `tutorials/` as the root: every image must load from there."""
    for item in TUTORIALS.iterdir():  # the notebooks and their images, as dev/lab.sh serves them
        if item.suffix == ".ipynb" or item.name == "images":
            copy = shutil.copytree if item.is_dir() else shutil.copy
            copy(item, lab.root / item.name)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(lab.page_url("01-first-checkpoint.ipynb", "images"))
    page.locator(".jp-Notebook").first.wait_for()
    images = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown img")
    for _ in range(200):  # scroll through the notebook: JupyterLab renders cells as they show
        if images.count() >= 2:
            break
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer").hover()
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(100)
    assert images.count() >= 2, "tutorial 1 shows two images"
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=image.element_handle())
        width = image.evaluate("img => img.naturalWidth")
        assert width > 0, f"image {image.get_attribute('src')} did not load"
    assert not [url for url in failed if "/files/" in url or "images" in url], failed
