"""What the README promises about the command line itself: --version, and click's shell
completion for the installed `reconciler` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

import reconciler

SCRIPT = Path(sys.executable).parent / "reconciler"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_version() -> None:
    run = _run("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"reconciler, version {reconciler.__version__}"


def test_bash_completion_script_and_completions() -> None:
    source = _run(_RECONCILER_COMPLETE="bash_source")
    assert source.returncode == 0
    assert "_reconciler_completion()" in source.stdout
    commands = _run(COMP_WORDS="reconciler ", COMP_CWORD="1", _RECONCILER_COMPLETE="bash_complete")
    names = {line.split(",", 1)[1] for line in commands.stdout.splitlines()}
    assert {"validate", "plan", "apply", "drift", "export"} <= names
    formats = _run(
        COMP_WORDS="reconciler drift x.yaml --format ",
        COMP_CWORD="4",
        _RECONCILER_COMPLETE="bash_complete",
    )
    assert {"plain,text", "plain,json", "plain,markdown"} <= set(formats.stdout.splitlines())


def test_zsh_and_fish_completion_scripts() -> None:
    assert "#compdef reconciler" in _run(_RECONCILER_COMPLETE="zsh_source").stdout
    assert (
        "complete --no-files --command reconciler"
        in _run(_RECONCILER_COMPLETE="fish_source").stdout
    )


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


def test_no_command_declares_an_option_twice() -> None:
    # click only warns (UserWarning) when two parameters share a name or a flag, and the
    # later one silently wins: a decorator applied twice would go unnoticed otherwise.
    from reconciler.cli import cli

    for name, command in [("", cli), *_commands(cli)]:
        names = [p.name for p in command.params]
        flags = [o for p in command.params for o in p.opts]
        assert len(names) == len(set(names)), (name, sorted(names))
        assert len(flags) == len(set(flags)), (name, sorted(flags))
