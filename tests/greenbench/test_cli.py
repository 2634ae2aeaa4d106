"""One command line (issue #23): ``greenbench --help`` lists every subcommand; errors name the flag given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.__main__ import COMMANDS, HELP, main, parser

HERE = Path(__file__).parent


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: greenbench")
    for name in COMMANDS:
        assert name in out and HELP[name].split()[0] in out
    assert set(HELP) == set(COMMANDS)  # a new subcommand needs its help line


def test_subcommands_are_argparse_subparsers() -> None:
    import argparse

    actions = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert actions and set(actions[0].choices) == set(COMMANDS)


def test_unknown_command_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown command 'nope'") and err.count("\n") == 1
    assert main([]) == 2


def test_report_errors_name_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    assert main(["report", str(HERE / "golden_results.json"), "--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "--energy-report" not in err
    assert (foreign / "keep.txt").read_text() == "not ours"


def test_console_script_help_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "greenbench", "--help"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0 and "explain" in proc.stdout
