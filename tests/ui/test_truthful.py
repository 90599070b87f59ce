"""The lab extension's state is always true (issue 16 item 1, issue 15's panel selection bug).

Each test waits for real events (kernel pushes, listings, toasts), never for time to pass.
"""

from __future__ import annotations

import re
from typing import Any

from tests.ui.conftest import Lab, write_notebook
from tests.ui.pages import (
    STATUS,
    cell,
    menu,
    open_notebook,
    record_status_texts,
    run_cell,
    shot,
    wait_idle,
)

FAST = 20_000  # ms: what the fixed extension does at once; the old one never did


def status_title_contains(page: Any, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.title ?? '').includes(text)",
        arg=[STATUS, text],
        timeout=FAST,
    )


def status_text_is(page: Any, pattern: str) -> None:
    page.wait_for_function(
        "([sel, p]) => new RegExp(p).test(document.querySelector(sel)?.textContent ?? '')",
        arg=[STATUS, pattern],
        timeout=FAST,
    )


def open_panel(page: Any) -> Any:
    page.locator(STATUS).click()
    panel = page.locator("#ipyckpt-panel")
    panel.wait_for()
    return panel


def close_toasts(page: Any) -> None:
    for close in page.locator(".Toastify__close-button").all():
        if close.is_visible():
            close.click()


def test_ticked_variables_survive_a_progress_update_and_restore_only_them(
    lab: Lab, page: Any
) -> None:
    write_notebook(
        lab.root / "pick.ipynb",
        [
            "%load_ext ipyckpt",
            "%%checkpoint\na, b, c = 1, 2, 3",
            "a, b, c = 10, 20, 30\nimport numpy as np, ipyckpt.kernel.comm as kc\n"
            "kc.PROGRESS_EVERY_S = 0.0  # every progress callback is pushed\n"
            "big = np.ones(5_000_000)",
            "%checkpoint save",
            "print('now', a, b, c)",
        ],
    )
    open_notebook(page, lab.page_url("pick.ipynb", "ipyckpt-pick"))
    for index in range(3):
        run_cell(page, index)
    panel = open_panel(page)
    oldest = panel.locator("[data-generation='1']")
    oldest.locator("summary").click()
    oldest.locator("[data-ipyckpt='var-1-a']").check()
    oldest.locator("[data-ipyckpt='var-1-c']").check()
    assert oldest.locator("[data-ipyckpt='restore-1']").inner_text() == "Restore 2 variables"

    # a save while the user chooses: progress pushes, the saved event, a new listing
    record_status_texts(page)
    run_cell(page, 3)
    panel.locator("[data-generation='2']").wait_for()
    page.wait_for_function(
        "() => window.ipyckptTexts.some(t => /^State: saving… [1-9]\\d* %$/.test(t))"
    )
    status_text_is(page, "^State: saved")

    assert oldest.locator("[data-ipyckpt='var-1-a']").is_checked()
    assert oldest.locator("[data-ipyckpt='var-1-c']").is_checked()
    assert not oldest.locator("[data-ipyckpt='var-1-b']").is_checked()
    shot(panel, "panel-selection.png")
    oldest.locator("[data-ipyckpt='restore-1']").click()
    page.get_by_text(re.compile(r"Restored 2 variables from state checkpoint 1")).wait_for()
    run_cell(page, 4)
    cell(page, 4).get_by_text("now 1 20 3").wait_for()


def test_status_bar_and_panel_follow_saves_delete_restore_and_clear(lab: Lab, page: Any) -> None:
    write_notebook(
        lab.root / "truth.ipynb",
        [
            "%load_ext ipyckpt",
            "%%checkpoint\nx = 1",
            "%%checkpoint\nx = 2\nrows = list(range(100_000))\nready = True\n"
            "import pandas as pd, numpy as np\n"
            "frame = pd.DataFrame({'a': range(1_000_000), 'b': 0.0, 'c': 'x'})\n"
            "grid = np.zeros(40_000)",
            "%checkpoint clear --yes",
        ],
    )
    open_notebook(page, lab.page_url("truth.ipynb", "ipyckpt-truth"))
    record_status_texts(page)
    run_cell(page, 0)
    run_cell(page, 1)
    status = page.locator(STATUS)
    # the "ago" keeps counting, second by second while under a minute
    page.wait_for_function(
        """() => {
            const ages = window.ipyckptTexts.map(t => /saved (\\d+) s ago/.exec(t))
                .filter(m => m).map(m => Number(m[1]));
            return ages.some(a => ages.includes(a + 1));
        }""",
        timeout=FAST + 15_000,
    )

    run_cell(page, 2)
    status_title_contains(page, "State checkpoint 2 (end)")
    title = status.get_attribute("title") or ""
    assert re.search(r"saved \d\d:\d\d \(just now\): \d+ variables", title), title
    assert ".ipyckpt/truth.ipynb" in title, "the tooltip names the store"

    panel = open_panel(page)
    newest = panel.locator("[data-generation='2']")
    newest.wait_for()
    newest.locator("summary").click()
    summaries = dict(
        newest.locator(".jp-ipyckpt-var").evaluate_all(
            """nodes => nodes.map(n => [n.querySelector('code').textContent,
                                        n.querySelector('.jp-ipyckpt-var-summary').textContent])"""
        )
    )
    assert {name: summaries.get(name) for name in ("frame", "grid", "ready", "rows", "x")} == {
        "frame": "DataFrame 1,000,000 \N{MULTIPLICATION SIGN} 3",
        "grid": "ndarray float64 (40000,)",
        "ready": "bool",
        "rows": "list[100000]",
        "x": "int",
    }, summaries
    close_toasts(page)
    shot(panel, "panel-summaries.png")
    shot(page, "panel-summaries-full.png")

    # delete the newest generation: the status bar falls back to generation 1 at once
    newest.locator("[data-ipyckpt='delete-2']").click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    newest.wait_for(state="detached")
    status_title_contains(page, "State checkpoint 1 (end)")

    # restore: the tooltip and the panel say what was restored
    panel.locator("[data-ipyckpt='restore-1']").click()
    page.get_by_text(re.compile(r"Restored 1 variable from state checkpoint 1")).wait_for()
    status_title_contains(page, "Restored into this kernel: 1 variable from state checkpoint 1")
    panel.locator("[data-generation='1'] [data-ipyckpt='restored-mark']").wait_for(
        state="visible", timeout=FAST
    )
    wait_idle(page)

    # %checkpoint clear in the kernel: nothing is left, the UI says so without a reload
    run_cell(page, 3)
    status_text_is(page, "^State: none$")
    panel.locator("[data-generation]").first.wait_for(state="detached", timeout=FAST)
    assert panel.locator(".jp-ipyckpt-empty").is_visible()
    shot(page.locator("#jp-main-statusbar"), "statusbar-none.png")


def test_toasts_only_for_real_kernel_starts_once_and_they_close(lab: Lab, page: Any) -> None:
    write_notebook(
        lab.root / "toast.ipynb",
        [
            "%load_ext ipyckpt",
            "%%checkpoint\nx = 1\ny = 2",
            "%reset -f\n%unload_ext ipyckpt\n%load_ext ipyckpt",
        ],
    )
    url = lab.page_url("toast.ipynb", "ipyckpt-toast")
    open_notebook(page, url)
    for index in range(3):
        run_cell(page, index)
    cell(page, 2).get_by_text(re.compile("restored 2 variables")).wait_for()
    started = page.locator(".Toastify__toast").filter(has_text=re.compile("Kernel (re)?started"))

    # a later toast of this page proves the kernel's hello was handled before it
    panel = open_panel(page)
    panel.locator("[data-ipyckpt='save']").click()
    saved = page.locator(".Toastify__toast").filter(has_text="Saved state checkpoint 2")
    saved.wait_for()
    assert started.count() == 0, "no toast after %reset -f + %load_ext: no kernel started"
    page.mouse.move(5, 5)  # a hovered toast pauses
    saved.wait_for(state="detached", timeout=30_000)  # success toasts close by themselves

    # a real restart: one toast
    menu(page, "Kernel", "Restart Kernel")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    started.filter(has_text="Kernel restarted: restored 2 variables").wait_for()
    wait_idle(page)
    assert started.count() == 1

    # the same notebook in a new browser window: the restart was already told
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        other = context.new_page()
        other.set_default_timeout(60_000)
        open_notebook(other, url.replace("ipyckpt-toast", "ipyckpt-toast-2"))
        status_text_is(other, "^State: saved")
        other_panel = open_panel(other)
        other_panel.locator("[data-ipyckpt='save']").click()
        other.locator(".Toastify__toast").filter(has_text="Saved state checkpoint 4").wait_for()
        assert (
            other.locator(".Toastify__toast").filter(has_text=re.compile("Kernel")).count() == 0
        ), "a reloaded page does not repeat the restart's toast"
    finally:
        context.close()
