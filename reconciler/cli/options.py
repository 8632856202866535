"""The options the commands share and the validators of their values.

:func:`global_options` are accepted before and after a command's name and land on the one
:class:`~reconciler.session.Settings` of the run (:func:`current_settings`); :func:`local_options`
are those of a command that reads no account; :func:`fleet_options` are those of a run over
several accounts (docs/fleet.md). Every numeric option is checked by :class:`Number`: one rule
for what a number of seconds, a count or a rate may be.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, DEFAULT_RETRY_BUDGET
from reconciler.errors import ReconcilerError
from reconciler.session import Settings

if TYPE_CHECKING:
    from reconciler.fleet import Shard

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    _NumberType = click.ParamType[float, Any]
else:  # older click versions (>=8.2 is supported) have no type parameters on ParamType
    _NumberType = click.ParamType


class Number(_NumberType):
    """A number an option takes: finite (``nan`` and ``inf`` are refused: ``float()`` accepts
    them, and a wait of ``inf`` never ends), whole if ``integer``, and at least ``minimum``
    (above it when ``above``), at most ``maximum``. ``what`` names it in the error, e.g. "a
    number of seconds"."""

    def __init__(
        self,
        what: str,
        *,
        integer: bool = False,
        minimum: float | None = 0,
        above: bool = False,
        maximum: float | None = None,
    ) -> None:
        self.what = what
        self.integer = integer
        self.minimum = minimum
        self.above = above
        self.maximum = maximum
        self.name = "integer" if integer else "number"

    def bounds(self) -> str:
        """What a valid value is, in words: "a finite number above 0"."""
        words = ["a whole number" if self.integer else "a finite number"]
        if self.minimum is not None and self.maximum is not None:
            words.append(f"from {self.minimum:g} to {self.maximum:g}")
        elif self.minimum is not None:
            words.append(
                f"above {self.minimum:g}" if self.above else f"of {self.minimum:g} or more"
            )
        elif self.maximum is not None:
            words.append(f"of {self.maximum:g} or less")
        return " ".join(words)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = int(value, 10) if self.integer else float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not {self.what} ({self.bounds()})", param, ctx)
        if (
            not math.isfinite(number)
            or (self.minimum is not None and number < self.minimum)
            or (self.minimum is not None and self.above and number == self.minimum)
            or (self.maximum is not None and number > self.maximum)
        ):
            self.fail(f"{value} is not {self.what} ({self.bounds()})", param, ctx)
        return int(number) if self.integer else float(number)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return "N" if self.integer else "NUMBER"


# The numbers the options take (each option's own help says what it means).
SECONDS = Number("a number of seconds", above=True)
WAIT_SECONDS = Number("a number of seconds")  # 0: don't wait
MILLISECONDS = Number("a number of milliseconds")
RATE = Number("a number of requests a second", above=True)
REQUESTS = Number("a number of requests", above=True)
COUNT = Number("a count", integer=True)  # 0 or more
AT_LEAST_ONE = Number("a count", integer=True, minimum=1)
PORT = Number("a port", integer=True, maximum=65535)
SEED = Number("a seed", integer=True, minimum=None)


def current_settings(ctx: click.Context | None = None) -> Settings:
    """The run's settings, kept on the root context (made on first use)."""
    root = (ctx or click.get_current_context()).find_root()
    if root.obj is None:
        root.obj = Settings()
    settings: Settings = root.obj
    return settings


def _set_simulate(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        current_settings(ctx).simulate = True


def _set_verbose(ctx: click.Context, _p: click.Parameter, value: int) -> None:
    if value:
        current_settings(ctx).verbose += value


def _set_no_color(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        current_settings(ctx).color = False


def _set_concurrency(ctx: click.Context, _p: click.Parameter, value: int | None) -> None:
    if value is not None:
        current_settings(ctx).concurrency = value


def _set_call_deadline(ctx: click.Context, _p: click.Parameter, value: float | None) -> None:
    if value is not None:
        current_settings(ctx).call_deadline = value


def _set_retry_budget(ctx: click.Context, _p: click.Parameter, value: int | None) -> None:
    if value is not None:
        current_settings(ctx).retry_budget = value


def global_options(f: F, *, account: bool = True) -> F:
    """The options every command accepts, before or after its name. ``account`` False: only
    those that mean something without an account to read (``-v``, ``--no-color``)."""
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
            type=AT_LEAST_ONE,
            default=None,
            expose_value=False,
            callback=_set_concurrency,
            help="Most API calls in flight at once (default 16).",
        ),
        click.option(
            "--call-deadline",
            type=SECONDS,
            default=None,
            expose_value=False,
            metavar="SECONDS",
            callback=_set_call_deadline,
            help="The longest one API call may take, its retries included "
            f"(default {DEFAULT_CALL_DEADLINE:g}).",
        ),
        click.option(
            "--retry-budget",
            type=COUNT,
            default=None,
            expose_value=False,
            metavar="N",
            callback=_set_retry_budget,
            help=f"Most retries in one run, over all API calls (default {DEFAULT_RETRY_BUDGET}).",
        ),
    ]
    if not account:  # -v and --no-color (the second and third above)
        options = [options[1], options[2]]
    for option in reversed(options):
        f = option(f)
    return f


def local_options(f: F) -> F:
    """:func:`global_options` for a command that reads no account (``--simulate`` and
    ``--concurrency`` would do nothing there, so they are not offered)."""
    return global_options(f, account=False)


def docs(page: str) -> str:
    """The last line of a command's ``--help``: where its documentation is."""
    return f"Docs: {page} in the reconciler repository (docs/ has every topic)."


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)


class PathArgument(click.Path):
    """A PATH argument: ``''`` is refused (``Path('')`` would be the current directory)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("PATH is empty: give a YAML file or a directory of them", param, ctx)
        return super().convert(value, param, ctx)


PATHS = click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=PathArgument(path_type=Path)
)


def _parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard | None:
    from reconciler.fleet import Shard

    if value is None:
        return None
    try:
        return Shard.parse(value)
    except ReconcilerError as err:
        raise click.BadParameter(f"{err.message} ({err.hint})", ctx=ctx, param=param) from None


def fleet_options(f: F) -> F:
    """The options of a run over several accounts (several PATHs): docs/fleet.md."""
    options = [
        click.option(
            "--parallel",
            type=AT_LEAST_ONE,
            default=4,
            show_default=True,
            metavar="N",
            help="Accounts read, planned and applied at once (each with its own --concurrency).",
        ),
        click.option(
            "--shard",
            callback=_parse_shard,
            metavar="K/N",
            help="Only the K-th of N shards of the accounts (by name, the same on every "
            "machine): N jobs given the same PATHs cover them exactly once.",
        ),
        click.option(
            "--report-dir",
            type=click.Path(file_okay=False, path_type=Path),
            metavar="DIR",
            help="Write one JSON report per account into DIR, for `reconciler report`.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def is_fleet(paths: Sequence[Path], shard: Shard | None, report_dir: Path | None) -> bool:
    """One PATH, without --shard or --report-dir, runs exactly as it always did."""
    return len(paths) > 1 or shard is not None or report_dir is not None
