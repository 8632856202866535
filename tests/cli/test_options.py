"""The command line's own surface: every numeric option goes through the one validator
(reconciler/cli/options.py), and no command or group makes click warn."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.cli.options import Number

from .test_bad_input import _assert_error, _run


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The words of every command and subcommand, the root (``()``) included."""
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def _command(words: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for word in words:
        assert isinstance(command, click.Group)
        command = command.commands[word]
    return command


def _numeric_options() -> list[tuple[tuple[str, ...], click.Option]]:
    found = []
    for words in _commands(cli):
        for param in _command(words).params:
            if (
                isinstance(param, click.Option)
                and not param.count  # -v: how often it is given, never typed as a number
                and isinstance(
                    param.type, (Number, click.types.IntParamType, click.types.FloatParamType)
                )
            ):
                found.append((words, param))
    return found


def test_every_numeric_option_refuses_nan_and_infinity() -> None:
    options = _numeric_options()
    names = {p.opts[0] for _words, p in options}
    assert {"--purchase-wait", "--call-deadline", "--parallel", "--rate-limit"} <= names
    for words, option in options:
        # One validator for all: a plain click INT/FLOAT (or a range of them) takes nan or inf.
        assert isinstance(option.type, Number), (words, option.opts)
        for value in ("nan", "inf", "-inf"):
            with pytest.raises(click.BadParameter):
                option.type.convert(value, option, None)


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_purchase_wait_is_a_finite_number_of_seconds(tmp_path: Path, value: str) -> None:
    """`--purchase-wait nan` was taken (click's FloatRange(min=0) lets nan and inf through):
    an unknown purchase outcome would then wait for ever, or not at all."""
    (tmp_path / "x.yaml").write_text("version: 1\n", encoding="utf-8")
    run = _run(tmp_path, "apply", "x.yaml", "--simulate", "--yes", "--purchase-wait", value)
    _assert_error(run, "Invalid value for '--purchase-wait'", "a number of seconds")
    assert not (tmp_path / ".reconciler").exists()  # refused before anything ran


def test_purchase_wait_zero_does_not_wait() -> None:
    option = next(p for _w, p in _numeric_options() if p.opts[0] == "--purchase-wait")
    assert isinstance(option.type, Number)
    assert option.type.convert("0", option, None) == 0.0


@pytest.mark.parametrize("words", _commands(cli), ids=lambda w: " ".join(w) or "reconciler")
def test_no_command_or_group_makes_click_warn(words: tuple[str, ...]) -> None:
    """click warns (UserWarning) when a command declares a parameter twice, and the later
    declaration silently wins; as errors here, over each command's --help and a parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for args in ([*words, "--help"], [*words, "-h"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, (args, result.output, result.exception)
            assert "Usage:" in result.output


def test_simulator_serve_with_verbose_makes_click_warn_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A bad port ends the run at parsing, after every option (-v too) was taken.
        result = CliRunner().invoke(cli, ["-v", "simulator", "-v", "serve", "-v", "--port", "x"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Invalid value for '--port'" in result.output
