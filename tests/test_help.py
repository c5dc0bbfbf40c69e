"""-h writes every value one way: an upper-case word (CONFIG, FILE, N, KEY=VALUE), never
typer's {CONFIG} or click's <path>, <int range>, x>=1; completion still installs."""

import os
import re
import subprocess
import sys

import click
import pytest
import typer.main

from nncli.cli import app
from tests.conftest import run_cli

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
WORD = re.compile(r"^\[?[A-Z][A-Z0-9_]*(=[A-Z][A-Z0-9_]*)?\]?(\.\.\.)?$")  # CONFIG, [DIR], KEY=VALUE, INPUT...


def sections(text):
    """The usage line and the lines of the Arguments and Options sections of a help text."""
    lines = text.splitlines()
    usage = next(line for line in lines if line.startswith("Usage:"))
    listed, inside = [], False
    for line in lines:
        if line in ("Arguments:", "Options:"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside:
            listed.append(line)
    return usage, listed


@pytest.mark.parametrize("command", COMMANDS)
def test_help_writes_values_as_upper_case_words(command):
    result = run_cli(command, "-h")
    assert result.exit_code == 0, result.stderr
    usage, listed = sections(result.stdout)
    assert listed, "no Options section"
    for text in [usage] + listed:
        assert not set("{}<>") & set(text), text
    for token in usage.split()[3:]:                    # after "Usage: nncli COMMAND"
        assert token == "[OPTIONS]" or WORD.match(token), usage
    ctx = click.Context(GROUP.commands[command], info_name=command, parent=click.Context(GROUP, info_name="nncli"))
    for param in GROUP.commands[command].params:
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "is_flag", False):
            continue
        metavar = record[0].split()[-1]
        assert WORD.match(metavar), f"{command} {record[0]}"


def test_root_help_and_completion_options_still_work(tmp_path):
    result = run_cli("-h")
    assert result.exit_code == 0 and "--install-completion" in result.stdout
    shown = nncli("--show-completion", "bash")
    assert shown.returncode == 0 and "complete -o default -F _nncli_completion nncli" in shown.stdout
    installed = nncli("--install-completion", "bash", home=tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert "bash completion installed" in installed.stdout
    assert "_NNCLI_COMPLETE" in next((tmp_path / ".bash_completions").glob("nncli*")).read_text()


def nncli(*args, home=None):
    """The real command (as a shell calls it, so named nncli), optionally with another HOME."""
    env = dict(os.environ, **({"HOME": str(home)} if home else {}))
    return subprocess.run([sys.executable, "-c", "import sys; from nncli.cli import app; app(prog_name='nncli')",
                           *args], capture_output=True, text=True, env=env, timeout=60)
