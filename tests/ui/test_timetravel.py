"""Issue 14 in JupyterLab: the panel's timeline by cell and going back to a cell, and the
restore notification's Recompute button after a restart (real JupyterLab, real kernels, no magic:
the kernel loads ipyckpt from its config and autosaves after cells)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import Lab, write_notebook
from tests.ui.pages import STATUS, cell, menu, open_notebook, run_cell, shot, wait_idle

AUTOSAVE_CONFIG = """
c.InteractiveShellApp.extensions = ['ipyckpt']
c.Checkpointer.autosave = '1s'
"""


@pytest.fixture
def autosave_lab(lab: Lab) -> Lab:
    """``lab`` whose kernels load ipyckpt from their config and autosave a second after a cell."""
    profile = lab.root.parent / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(AUTOSAVE_CONFIG)
    return lab


def open_panel(page: Any) -> Any:
    page.locator(STATUS).click()
    panel = page.locator("#ipyckpt-panel")
    panel.wait_for()
    return panel


def run_and_wait_for_row(page: Any, panel: Any, index: int, label: str) -> Any:
    """Run cell ``index``; wait until the timeline lists a snapshot right after it."""
    run_cell(page, index)
    row = panel.locator(".jp-ipyckpt-generation").filter(
        has=page.locator(".jp-ipyckpt-gen-cell", has_text=re.compile("^" + re.escape(label)))
    )
    row.first.wait_for(timeout=30_000)
    return row.first


def timeline(panel: Any) -> list[str]:
    return [
        str(t)
        for t in panel.locator(".jp-ipyckpt-gen-cell").evaluate_all(
            "nodes => nodes.map(n => n.textContent)"
        )
    ]


def close_toasts(page: Any) -> None:
    for close in page.locator(".Toastify__close-button").all():
        if close.is_visible():
            close.click()


def test_timeline_by_cell_and_going_back_to_a_cell(autosave_lab: Lab, page: Any) -> None:
    write_notebook(
        autosave_lab.root / "travel.ipynb",
        [
            "x = 1",
            "x = 2\ny = [x]",
            "y.append(3)\nz = 'new'",
            "print('now', x, y, 'z' in globals())",
        ],
    )
    open_notebook(page, autosave_lab.page_url("travel.ipynb", "ipyckpt-travel"))
    panel = open_panel(page)
    run_and_wait_for_row(page, panel, 0, "[1] x = 1")
    second = run_and_wait_for_row(page, panel, 1, "[2] x = 2")
    run_and_wait_for_row(page, panel, 2, "[3] y.append(3)")
    # newest first, each snapshot under the cell it follows, as %checkpoint list shows them
    assert timeline(panel) == ["[3] y.append(3)", "[2] x = 2", "[1] x = 1"], timeline(panel)
    generation = second.get_attribute("data-generation")
    close_toasts(page)
    wait_idle(page)
    shot(panel, "panel-timeline.png")

    # go back to the state right after cell [2]: its values, z (made later) removed
    second.locator(f"[data-ipyckpt='restore-{generation}']").click()
    page.get_by_text(
        re.compile(
            rf"Restored 2 variables from state checkpoint {generation} .*1 made later removed"
        )
    ).wait_for()
    second.locator("[data-ipyckpt='restored-mark']").wait_for(state="visible")
    run_cell(page, 3)
    cell(page, 3).get_by_text("now 2 [2] False").wait_for()
    # the newer snapshot is still there
    assert "[3] y.append(3)" in timeline(panel), timeline(panel)


def test_going_back_offers_to_save_changes_no_snapshot_holds(lab: Lab, page: Any) -> None:
    """The cell after the last snapshot is unsaved (autosave is minutes away), so going back
    first offers to save it; that snapshot, after the same cell, brings the changes back."""
    write_notebook(
        lab.root / "unsaved.ipynb",
        [
            "%load_ext ipyckpt\n%config Checkpointer.autosave = '10m'",
            "%%checkpoint\nx = 1",
            "x = 2\nz = 3",
            "print('now', x, 'z' in globals())",
        ],
    )
    open_notebook(page, lab.page_url("unsaved.ipynb", "ipyckpt-unsaved"))
    panel = open_panel(page)
    run_cell(page, 0)
    first = run_and_wait_for_row(page, panel, 1, "[2] x = 1")
    run_cell(page, 2)  # changes the state; the next autosave is minutes away
    wait_idle(page)
    first.locator("[data-ipyckpt='restore-1']").click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Go back to the state after cell [2]?")
    dialog.get_by_text("Cells changed the state since the last state checkpoint").wait_for()
    dialog.get_by_role("button", name="Save, then go back").click()
    page.get_by_text(
        re.compile(r"Restored 1 variable from state checkpoint 1 .*1 made later removed")
    ).wait_for()
    run_cell(page, 3)
    cell(page, 3).get_by_text("now 1 False").wait_for()

    # the snapshot taken first holds the changes (the state after cell [3]): back to it
    saved = panel.locator("[data-generation='2']")
    assert "manual" in saved.inner_text()
    assert saved.locator(".jp-ipyckpt-gen-cell").inner_text() == "[3] x = 2"
    saved.locator("[data-ipyckpt='restore-2']").click()
    again = page.locator(".jp-Dialog").filter(has_text="Go back to the state after cell [3]?")
    again.get_by_role("button", name="Go back without saving").click()  # [4] only printed
    page.get_by_text(re.compile(r"Restored 2 variables from state checkpoint 2")).wait_for()
    run_cell(page, 3)
    cell(page, 3).get_by_text("now 2 True").wait_for()


def test_recompute_button_recreates_a_connection_and_a_generator(
    autosave_lab: Lab, page: Any
) -> None:
    write_notebook(
        autosave_lab.root / "conn.ipynb",
        [
            "import sqlite3",
            "path = 'data.sqlite'",
            "conn = sqlite3.connect(path)",
            "rows = (v for v in range(3))\nopen('ran.txt', 'a').write('ran\\n')",
            "print('defined:', [n for n in ('conn', 'rows') if n in globals()])",
            "print('conn', conn.execute('select 7').fetchone(), 'rows', list(rows))",
        ],
    )
    ran = autosave_lab.root / "ran.txt"
    open_notebook(page, autosave_lab.page_url("conn.ipynb", "ipyckpt-recompute"))
    for index in range(4):
        run_cell(page, index)
    # the autosave after cell [4] skipped both (the one after [3] only conn)
    page.wait_for_function(
        "sel => /not saved: conn .*; rows /.test(document.querySelector(sel)?.title ?? '')",
        arg=STATUS,
        timeout=30_000,
    )
    assert ran.read_text() == "ran\n"

    menu(page, "Kernel", "Restart Kernel")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    toast = page.locator(".Toastify__toast").filter(has_text="Kernel restarted: restored")
    toast.wait_for()
    recompute = toast.get_by_role("button", name="Recompute")
    recompute.wait_for()
    wait_idle(page)
    page.wait_for_timeout(1500)  # let the toast finish sliding in (for the screenshot)
    shot(toast, "notification-recompute.png")
    shot(page, "notification-recompute-full.png")

    # nothing is re-run before the click
    run_cell(page, 4)
    cell(page, 4).get_by_text("defined: []").wait_for()
    assert ran.read_text() == "ran\n"

    recompute.click()
    done = page.locator(".Toastify__toast").filter(
        has_text="Recomputed conn, rows (re-ran cells [3], [4])"
    )
    done.wait_for()
    done.get_by_role("button", name="Details").click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Recomputed")
    dialog.get_by_text(
        re.compile(r"^re-ran cell \[3\] conn = sqlite3.connect\(path\).*: re-created conn$")
    ).wait_for()
    dialog.get_by_text("re-ran cell [4] rows = (v for v in range(3)): re-created rows").wait_for()
    dialog.locator("button.jp-mod-accept").click()
    run_cell(page, 5)
    cell(page, 5).get_by_text("conn (7,) rows [0, 1, 2]").wait_for()
    assert ran.read_text() == "ran\nran\n", "each defining cell ran once more, on the click"
