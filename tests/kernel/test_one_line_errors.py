"""Every ipyckpt error in a magic is one line that says what to do: no traceback (real kernels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def one_line_error(kernel: Any, code: str) -> str:
    """Run ``code``: IPython must show one ``UsageError: ...`` line and nothing else.

    (IPython prints a UsageError to stderr without a traceback; subclasses would get one.)
    """
    result = kernel.run(code, allow_error=True)
    assert result.error is None, "\n".join(result.error["traceback"])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{code!r} did not fail in one line: {result.text}"
    assert lines[0].startswith("UsageError: "), lines[0]
    assert "Traceback" not in result.text
    return lines[0]


@pytest.fixture
def loaded(open_kernel: Any) -> Any:
    kernel = open_kernel()
    kernel.run("%load_ext ipyckpt")
    return kernel


def test_restore_or_diff_of_a_missing_generation(loaded: Any) -> None:
    message = one_line_error(loaded, "%checkpoint diff 1")
    assert "generation 1" in message and "does not exist" in message and "%%checkpoint" in message
    loaded.run("%%checkpoint\nx = 1")
    message = one_line_error(loaded, "%checkpoint restore --generation 999")
    assert "999" in message and "%checkpoint list" in message


def test_kernel_without_a_notebook_path(open_kernel: Any) -> None:
    kernel = open_kernel(JPY_SESSION_NAME="")
    kernel.run("%load_ext ipyckpt")
    message = one_line_error(kernel, "%%checkpoint\nx = 1")
    assert "ipyckpt run" in message and "IPYCKPT_STORE" in message
    assert kernel.value("'x' in globals()") is False, "the cell did not run"
    assert "ipyckpt run" in one_line_error(kernel, "%checkpoint list")


def test_a_bad_ipyckpt_store(open_kernel: Any, tmp_path: Path) -> None:
    not_a_store = tmp_path / "data"
    not_a_store.mkdir()
    (not_a_store / "results.csv").write_text("a,b\n")
    kernel = open_kernel(IPYCKPT_STORE=str(not_a_store))
    kernel.run("%load_ext ipyckpt")
    message = one_line_error(kernel, "%%checkpoint\nx = 1")
    assert f"IPYCKPT_STORE={not_a_store}" in message and "not an ipyckpt" in message
    assert (not_a_store / "results.csv").read_text() == "a,b\n"
    assert sorted(p.name for p in not_a_store.iterdir()) == ["results.csv"]


def test_unbalanced_quote_in_the_cell_line(loaded: Any) -> None:
    message = one_line_error(loaded, '%%checkpoint every="1h\nx = 1')
    assert "quotation" in message and "usage: %%checkpoint" in message


def test_a_name_too_long_or_with_a_separator_is_refused_up_front(loaded: Any) -> None:
    message = one_line_error(loaded, "%checkpoint name " + "n" * 300)
    assert "300 characters" in message
    assert "/" in one_line_error(loaded, "%checkpoint name a/b")
    # the refused names were not taken: the store is still the notebook's own
    loaded.run("%%checkpoint\nx = 1")
    assert (loaded.notebook.parent / ".ipyckpt" / loaded.notebook.name).is_dir()


def test_save_of_undefined_names_is_refused(loaded: Any) -> None:
    message = one_line_error(loaded, "%checkpoint save modle")
    assert "modle" in message and "not defined" in message


def test_vars_naming_undefined_variables_warns_and_saves_nothing_when_none_exist(
    loaded: Any,
) -> None:
    loaded.run("%config Checkpointer.autosave = 'off'")  # only %%checkpoint saves here
    out = loaded.run("%%checkpoint vars=modle\nmodel = 1")
    assert "vars=: modle is not defined" in out.text
    assert "nothing saved" in out.text
    assert not (loaded.notebook.parent / ".ipyckpt" / loaded.notebook.name / "generations").exists()
    out = loaded.run("%%checkpoint vars=model,typo\nmodel = 2")
    assert "vars=: typo is not defined" in out.text
    assert "saved 1 variable" in out.text


def test_a_users_own_exception_is_unchanged(loaded: Any) -> None:
    from ipyckpt import NoCheckpoint

    assert NoCheckpoint  # the user's cell raises an ipyckpt error itself: it stays theirs
    result = loaded.run(
        "%%checkpoint\nfrom ipyckpt import NoCheckpoint\nraise NoCheckpoint('mine')",
        allow_error=True,
    )
    assert result.error is not None and result.error["ename"] == "NoCheckpoint"
    assert result.error["evalue"] == "mine"
