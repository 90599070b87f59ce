"""End to end in a real browser: status bar, restart + automatic restore, panel, older restore."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.ui.conftest import Lab, write_notebook
from tests.ui.pages import (
    cell,
    menu,
    open_notebook,
    record_status_texts,
    run_cell,
    shot,
    wait_idle,
)

CELLS = [
    "%load_ext ipyckpt",
    "%%checkpoint every=10m\nx = 41\ndata = list(range(200_000))",
    "%%checkpoint every=10m\nx = 42\nlog = (n for n in range(3))  # generators are skipped",
    "print('x is', x, 'and len(data) is', len(data))",
    "print('after the restore x is', x)",
]


def test_checkpoint_restart_restore_and_panel(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / "analysis.ipynb", CELLS)
    open_notebook(page, lab.page_url("analysis.ipynb", "ipyckpt-e2e"))
    status = page.locator("[data-ipyckpt='status']")
    status.wait_for()
    assert status.inner_text() == "State: none"

    # a %%checkpoint cell: the status bar shows the saved state
    run_cell(page, 0)
    run_cell(page, 1)
    page.wait_for_function(
        "() => document.querySelector(\"[data-ipyckpt='status']\")?.textContent.startsWith('State: saved')"
    )
    assert re.fullmatch(r"State: saved just now · [\d.]+ [KM]B · 2 vars", status.inner_text())
    assert status.get_attribute("data-level") == "ok"
    shot(page.locator("#jp-main-statusbar"), "statusbar.png")

    # an unpicklable variable: saved with a warning
    run_cell(page, 2)
    page.wait_for_function(
        "() => document.querySelector(\"[data-ipyckpt='status']\")?.dataset.level === 'warning'"
    )
    assert "2 vars" in status.inner_text()
    assert "log" in (status.get_attribute("title") or "")
    shot(page.locator("#jp-main-statusbar"), "statusbar-warning.png")

    # the notebook records that it uses ipyckpt (so the next kernel loads it silently)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1000)
    saved = json.loads((lab.root / "analysis.ipynb").read_text())
    assert saved["metadata"]["ipyckpt"] == {"used": True}

    # restart: the extension is loaded silently, the state comes back, a notification says so
    menu(page, "Kernel", "Restart Kernel")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    notice = page.get_by_text(
        re.compile(r"Kernel restarted: restored 2 variables from \d\d:\d\d \(1 skipped\)")
    )
    notice.wait_for()
    wait_idle(page)
    page.wait_for_timeout(1500)  # let the toast finish sliding in
    shot(page, "notification-full.png")
    shot(page.locator(".Toastify__toast").filter(has_text="Kernel restarted"), "notification.png")
    run_cell(page, 3)
    cell(page, 3).get_by_text("x is 42 and len(data) is 200000").wait_for()

    # the Details action lists what was not restored
    page.locator(".Toastify__toast").filter(has_text="Kernel restarted").get_by_role(
        "button", name="Details"
    ).click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_text(re.compile("Not restored log: .*generator")).wait_for()
    dialog.locator("button.jp-mod-accept").click()

    # the panel: generations newest first, verify, restore an older generation
    status.click()
    panel = page.locator("#ipyckpt-panel")
    panel.locator("[data-generation='1']").wait_for()
    ids = panel.locator("[data-generation]").evaluate_all(
        "nodes => nodes.map(n => Number(n.dataset.generation))"
    )
    # 1 and 2 from the cells, 3 the restart's final snapshot; autosave may add one after it
    assert ids in ([3, 2, 1], [4, 3, 2, 1]), ids
    final = panel.locator("[data-generation='3']")
    assert "shutdown" in final.inner_text(), "the restart took a final snapshot"
    assert "log" in final.locator(".jp-ipyckpt-skipped").inner_text()
    panel.locator("[data-ipyckpt='verify']").click()
    panel.locator("[data-ipyckpt='verify-result']").get_by_text("all good").wait_for()
    # restore only x from the oldest generation: choose it among the variables
    oldest = panel.locator("[data-generation='1']")
    oldest.locator("summary").click()
    oldest.locator("[data-ipyckpt='var-1-x']").check()
    for close in page.locator(".Toastify__toast .jp-toast-button, .Toastify__close-button").all():
        if close.is_visible() and "close" in (close.get_attribute("title") or "").lower():
            close.click()
    page.wait_for_timeout(800)
    shot(panel, "panel.png")
    shot(page, "panel-full.png")
    assert panel.locator("[data-ipyckpt='restore-1']").inner_text() == "Restore 1 variable"
    panel.locator("[data-ipyckpt='restore-1']").click()
    page.get_by_text(re.compile(r"Restored 1 variable from state checkpoint 1")).wait_for()
    run_cell(page, 4)
    cell(page, 4).get_by_text("after the restore x is 41").wait_for()

    # delete the older generation (through the server, confirmed in a dialog)
    panel.locator("[data-ipyckpt='delete-1']").click()
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    panel.locator("[data-generation='1']").wait_for(state="detached")
    assert panel.locator("[data-generation]").count() == len(ids) - 1

    # with the kernel shut down the panel still lists and verifies (through the server)
    menu(page, "Kernel", "Shut Down Kernel")
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
        state="detached"
    )
    panel.locator("[data-ipyckpt='refresh']").click()
    panel.locator("[data-generation='3']").wait_for()
    panel.locator("[data-ipyckpt='verify']").click()
    panel.locator("[data-ipyckpt='verify-result']").get_by_text("all good").wait_for()


def test_unsigned_checkpoint_is_offered_not_loaded(lab: Lab, page: Any, tmp_path: Any) -> None:
    """A notebook that used ipyckpt gets it loaded silently; an unsigned checkpoint is refused
    and a "Restore state" action loads it after the user confirms."""
    import os
    import subprocess
    import sys

    write_notebook(
        lab.root / "shared.ipynb", ["print('y is', y)"], metadata={"ipyckpt": {"used": True}}
    )
    store = lab.root / ".ipyckpt" / "shared.ipynb"
    other_key = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "someone-else")}
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from ipyckpt import Store; Store({str(store)!r}).save({{'y': 7}})",
        ],
        env=other_key,
        check=True,
    )
    open_notebook(page, lab.page_url("shared.ipynb", "ipyckpt-unsigned"))
    toast = page.locator(".Toastify__toast").filter(
        has_text="the state checkpoint was not restored"
    )
    toast.wait_for()
    page.wait_for_timeout(1500)
    shot(toast, "notification-refused.png")
    toast.get_by_role("button", name="Restore state").click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Load an unsigned state checkpoint?")
    dialog.locator("button.jp-mod-accept").click()
    page.get_by_text(re.compile(r"Restored 1 variable from state checkpoint 1")).wait_for()
    run_cell(page, 0)
    cell(page, 0).get_by_text("y is 7").wait_for()
    # the palette command saves now; the notebook toolbar button opens the panel
    page.keyboard.press("Control+Shift+c")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("Save state checkpoint now")
    page.locator(".lm-CommandPalette-item", has_text="Save state checkpoint now").first.click()
    saved = page.get_by_text(re.compile(r"Saved state checkpoint \d+: 1 variable"))
    saved.wait_for()  # 2, or 3 when autosave kept the restored state after the cell
    number = re.search(r"checkpoint (\d+)", saved.inner_text())
    assert number, saved.inner_text()
    generation = number[1]
    page.locator("[data-ipyckpt='toolbar']").click()
    panel = page.locator("#ipyckpt-panel")
    panel.locator(f"[data-generation='{generation}']").wait_for()
    assert "manual" in panel.locator(f"[data-generation='{generation}']").inner_text()


def test_settings_turn_off_status_bar_and_notifications(lab: Lab, page: Any) -> None:
    """With both settings off, state still comes back silently, but nothing is shown."""
    from ipyckpt import Store

    settings = lab.root.parent / "config" / "lab" / "user-settings" / "ipyckpt"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(
        json.dumps({"statusBar": False, "notifications": False})
    )
    write_notebook(
        lab.root / "quiet.ipynb", ["print('z is', z)"], metadata={"ipyckpt": {"used": True}}
    )
    Store(lab.root / ".ipyckpt" / "quiet.ipynb").save({"z": 3})
    open_notebook(page, lab.page_url("quiet.ipynb", "ipyckpt-quiet"))
    run_cell(page, 0)
    cell(page, 0).get_by_text("z is 3").wait_for()
    page.wait_for_timeout(1000)
    assert page.locator(".Toastify__toast").filter(has_text="restored").count() == 0
    assert not page.locator("[data-ipyckpt='status']").is_visible()


def test_status_bar_shows_saving_progress(lab: Lab, page: Any) -> None:
    """While a snapshot is written the item says "State: saving… N %", then "saved"."""
    write_notebook(
        lab.root / "progress.ipynb",
        [
            "%load_ext ipyckpt",
            "%%checkpoint every=0.2s\nimport numpy as np, time\nbig = np.zeros(20_000_000)\n"
            "for i in range(6):\n    big += 1\n    time.sleep(0.3)",
        ],
    )
    open_notebook(page, lab.page_url("progress.ipynb", "ipyckpt-progress"))
    record_status_texts(page)
    run_cell(page, 0)
    run_cell(page, 1)
    page.wait_for_function(
        "() => document.querySelector(\"[data-ipyckpt='status']\")?.textContent.startsWith('State: saved')"
    )
    texts = page.evaluate("() => window.ipyckptTexts")
    saving = [t for t in texts if t.startswith("State: saving… ")]
    assert saving, texts
    assert all(re.fullmatch(r"State: saving… (\d+ %|[\d.]+ [KMG]?B)", t) for t in saving), saving
    assert any(re.fullmatch(r"State: saving… \d+ %", t) for t in saving), (
        "a percentage once the size is known"
    )
