"""The top-level command line: every subcommand's --help renders (argparse %-formats help text)."""

import pytest

from harness.cli import SUBCOMMANDS, main


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_every_subcommand_help_renders(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m harness " + command in capsys.readouterr().out


def test_help_keeps_a_literal_percent_sign(capsys):
    # train's --first-snapshot-kimg help says "10% of the budget"; argparse would read "% o" as a format
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "10% of the budget" in " ".join(capsys.readouterr().out.split())
