"""One option system for %%checkpoint and %%condor: parser, usage, --help and docstrings."""

from __future__ import annotations

import pytest

from ipyckpt.condor.options import CONDOR_OPTIONS, CondorOptionError, parse_condor_options
from ipyckpt.magicargs import CHECKPOINT_OPTIONS, OptionError, parse_cell_options
from tests.conftest import run_python


@pytest.mark.parametrize("table", [CHECKPOINT_OPTIONS, CONDOR_OPTIONS])
def test_help_usage_and_errors_come_from_one_table(table: object) -> None:
    from ipyckpt.magicargs import OptionTable

    assert isinstance(table, OptionTable)
    text = table.help()
    assert text.startswith(f"usage: {table.usage}")
    for option in table.options:
        assert f"[{option.shown}]" in table.usage
        assert option.shown in text
        assert option.help in text
    with pytest.raises(table.error, match=r"unknown option 'colour'; usage: %%"):
        table.parse("colour=red")


def test_error_texts_stay_the_same() -> None:
    with pytest.raises(OptionError, match=r"keep=0: use a whole number of generations, e\.g\."):
        parse_cell_options("keep=0")
    with pytest.raises(OptionError, match="resume=maybe: use resume=yes or resume=no"):
        parse_cell_options("resume=maybe")
    with pytest.raises(CondorOptionError, match="request_cpus=0: use a whole number >= 1"):
        parse_condor_options("request_cpus=0")


def test_help_works_for_every_magic_in_a_shell() -> None:
    proc = run_python(
        """
        from IPython.core.interactiveshell import InteractiveShell

        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "ipyckpt")
        print("== condor line")
        ip.run_line_magic("condor", "--help")
        print("== condor cell")
        ip.run_cell_magic("condor", "--help", "x = 1")
        print("== checkpoint cell")
        ip.run_cell_magic("checkpoint", "--help", "never_run = 1")
        assert "never_run" not in ip.user_ns and "x" not in ip.user_ns
        print("== docstring")
        print(ip.find_cell_magic("condor").__doc__)
        """
    )
    out = proc.stdout
    line, cell, checkpoint, doc = out.split("== ")[1:]
    assert "usage: %condor" in line and "--timeout" in line
    assert "usage: %%condor [name=NAME]" in cell and "backend=schedd|local" in cell
    assert "usage: %%checkpoint [every=DURATION|auto]" in checkpoint
    assert "request_memory=4GB: request_memory of the job" in doc
    assert "UsageError" not in proc.stderr


def test_every_checkpoint_subcommand_has_a_parser_and_a_function() -> None:
    import argparse

    from ipyckpt.kernel.commands import SUBCOMMANDS, build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == set(SUBCOMMANDS)
