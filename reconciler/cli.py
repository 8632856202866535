"""The command line: thin, and the only place that prints.

Each command parses its options, calls the domain modules (which return values or raise
:class:`~reconciler.errors.ReconcilerError`), hands results to a renderer, prints, and exits
with the code of DESIGN.md §3: 0 nothing to change, 2 changes pending, 3 refused by a safety
rule, 1 any error. Global options (``--simulate``, ``-v``, ``--no-color``, ``--concurrency``)
are accepted before and after the command name.

Heavy libraries (httpx, jsonschema, deepdiff, starlette) are imported inside the commands so
that ``reconciler --version`` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.errors import (
    EXIT_ERROR,
    ReconcilerError,
    ValidationFailed,
)
from reconciler.session import Settings

F = TypeVar("F", bound=Callable[..., Any])


def use_color(settings: Settings, stream: Any = None) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR set."""
    if settings.color is not None:
        return settings.color
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _settings(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Settings()
    settings: Settings = root.obj
    return settings


def _set_simulate(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        _settings(ctx).simulate = True


def _set_verbose(ctx: click.Context, _p: click.Parameter, value: int) -> None:
    if value:
        _settings(ctx).verbose += value


def _set_no_color(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        _settings(ctx).color = False


def _set_concurrency(ctx: click.Context, _p: click.Parameter, value: int | None) -> None:
    if value is not None:
        if value < 1:
            raise click.BadParameter("must be at least 1", ctx=ctx, param=_p)
        _settings(ctx).concurrency = value


def global_options(f: F) -> F:
    """The options every command accepts, before or after its name."""
    options = [
        click.option(
            "--simulate",
            is_flag=True,
            expose_value=False,
            callback=_set_simulate,
            help="Run against the embedded simulator (state in .reconciler/simulator.json).",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_set_verbose,
            help="Log more (repeat for more detail). Secrets are never logged.",
        ),
        click.option(
            "--no-color",
            is_flag=True,
            expose_value=False,
            callback=_set_no_color,
            help="No colour in output (also: NO_COLOR set in the environment).",
        ),
        click.option(
            "--concurrency",
            type=int,
            default=None,
            expose_value=False,
            callback=_set_concurrency,
            help="Most API calls in flight at once (default 16).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _fail(err: ReconcilerError) -> NoReturn:
    """Print an error the way every command does, and exit with its code."""
    if isinstance(err, ValidationFailed):
        for d in err.diagnostics:
            click.echo(str(d), err=True)
    click.echo(f"Error: {err.message}", err=True)
    if err.hint:
        click.echo(f"  hint: {err.hint}", err=True)
    sys.exit(err.exit_code)


def handle_errors(f: F) -> F:
    """Turn a ReconcilerError into a message and its exit code; never a traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ReconcilerError as err:
            _fail(err)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reconciler")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """GitOps for telephony: Aculab Cloud numbers and services, aql SMS relay routes.

    Exit codes: 0 success, nothing to change; 2 changes pending; 3 refused by a safety rule;
    1 any error.
    """
    _settings(ctx)


def main() -> None:
    """Console-script entry point.

    Click's own usage errors exit 1 here, not click's default 2: exit code 2 means "changes
    pending" in reconciler (DESIGN.md §3).
    """
    try:
        rv = cli.main(prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except ReconcilerError as err:  # pragma: no cover - commands handle their own
        _fail(err)
    except Exception as err:  # the last guard: report, never a bare traceback
        if os.environ.get("RECONCILER_DEBUG"):
            raise
        # Only the type: an exception's text could carry a value we must not print.
        click.echo(f"Error: internal error: {type(err).__name__}", err=True)
        click.echo("  hint: set RECONCILER_DEBUG=1 and report the traceback", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else 0)
