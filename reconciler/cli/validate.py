"""``reconciler validate``: check desired-state YAML offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.fleet import Fleet
from reconciler.cli.options import (
    PATHS,
    current_settings,
    docs,
    fleet_options,
    global_options,
    is_fleet,
)
from reconciler.cli.output import command, use_color
from reconciler.secret import redact
from reconciler.session import Settings

if TYPE_CHECKING:
    from reconciler import operations
    from reconciler.fleet import Account, Shard
    from reconciler.operations import Validation


@click.command(epilog=docs("docs/commands.md#validate"))
@PATHS
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people; json ({file, line, column, message, severity} and a summary) "
    "for editors and CI.",
)
@fleet_options
@global_options
@command
def validate(
    paths: tuple[Path, ...],
    fmt: str,
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    """Check PATH (a YAML file, or a directory of *.yaml files) offline: schema, names,
    references, numbers, secrets. Every problem at once, each at file:line:column.

    Several PATHs are several accounts (docs/fleet.md). Exit 0 when valid (warnings are
    printed), 1 when there is any error. Under --simulate an environment variable that is
    not set is no error.
    """
    from reconciler import operations

    settings = current_settings()
    if not is_fleet(paths, shard, report_dir):
        result = operations.validate(paths[0], simulate=settings.simulate)
        # The loader never quotes a secret; redact() is the last line of defence.
        click.echo(redact(_render_validation(result, fmt, settings)))
        return result.exit_code

    run = Fleet("validate", paths, parallel, shard, report_dir, fmt)

    async def work(account: Account) -> operations.Validation:
        return operations.validate(account.path, simulate=settings.simulate)

    runs = run.run(
        run.accounts(),
        work,
        lambda r: r.exit_code,
        lambda r: _render_validation(r, fmt, settings),
    )
    return run.finish(runs)


def _render_validation(result: Validation, fmt: str, settings: Settings) -> str:
    from reconciler.desired.render import render_json, render_text

    if fmt == "json":
        return render_json(result.diagnostics, state=result.state)
    return render_text(
        result.diagnostics, path=str(result.path), state=result.state, color=use_color(settings)
    )


# --------------------------------------------------------------------------- plan
