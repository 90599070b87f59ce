"""What the browser tests do on a JupyterLab page: open a notebook, run cells, use menus."""

from __future__ import annotations

import re
from typing import Any

from tests.ui.conftest import OUTPUT

STATUS = "[data-ipyckpt='status']"


def shot(target: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(OUTPUT / name))


def wait_idle(page: Any) -> None:
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()


def open_notebook(page: Any, url: str) -> None:
    """Open the notebook and wait for its kernel (accepting JupyterLab's kernel dialog if shown)."""
    page.goto(url)
    page.locator(".jp-Notebook").first.wait_for()
    kernel_dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    try:
        kernel_dialog.wait_for(timeout=4000)
    except Exception:  # usually JupyterLab starts the notebook's kernel without asking
        pass
    else:
        kernel_dialog.locator("button.jp-mod-accept").click()
    wait_idle(page)


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(index)


def run_cell(page: Any, index: int) -> None:
    """Select the cell, run it (Shift+Enter) and wait until it has a new execution count."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    for _ in range(3):
        cell(page, index).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(
                """([i, before]) => {
                    const cells = document.querySelectorAll(
                        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputArea-prompt');
                    const text = cells[i]?.textContent ?? '';
                    return /\\[\\d+\\]/.test(text) && text !== before;
                }""",
                arg=[index, before],
                timeout=20_000,
            )
            return
        except Exception:  # the first key press can be lost while the page settles
            continue
    raise AssertionError(f"cell {index} did not run")


def menu(page: Any, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def record_status_texts(page: Any) -> None:
    """Record every text the status bar item shows from now on (``window.ipyckptTexts``)."""
    page.evaluate(
        """() => {
            window.ipyckptTexts = [];
            const item = document.querySelector("[data-ipyckpt='status']");
            new MutationObserver(() => window.ipyckptTexts.push(item.textContent))
                .observe(item, {childList: true, characterData: true, subtree: true});
        }"""
    )
