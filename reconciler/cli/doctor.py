"""``reconciler doctor``: check every API assumption against the account, read-only."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import PathArgument, current_settings, docs, global_options
from reconciler.cli.output import command, run_with_progress
from reconciler.secret import redact
from reconciler.session import open_session


@click.command(epilog=docs("docs/doctor.md"))
@click.argument("account", type=PathArgument(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a document to attach to a bug report (secrets masked, counts not numbers).",
)
@click.option(
    "--relay-number",
    "relay_numbers",
    multiple=True,
    metavar="N",
    help="An aql number of the account to query (repeatable; ACCOUNT's relay_routes too).",
)
@global_options
@command
def doctor(account: Path, fmt: str, relay_numbers: tuple[str, ...]) -> int:
    """Check every API assumption reconciler makes against the account, read-only.

    One finding per assumption: what the vendors' pages say, what this account answered,
    and what reconciler does about it. ACCOUNT is a YAML file with the `aculab` (and `aql`)
    sections; when it is a whole desired state, its pools and relay routes are checked too.
    Never writes, buys or modifies anything. Exit 0 every assumption holds, 2 some differ
    and reconciler adapts, 1 a difference reconciler can't handle (or any error).
    """
    from reconciler.doctor import render_text, run_doctor

    settings = current_settings()
    with open_session(settings) as session:
        report = run_with_progress(
            "Asking the account",
            lambda _progress: run_doctor(session, account, relay_numbers=relay_numbers),
        )
    if fmt == "json":
        import json

        click.echo(redact(json.dumps(report.as_json(), indent=2)))
    else:
        click.echo(redact(render_text(report)), nl=False)
    code: int = report.exit_code
    return code


# --------------------------------------------------------------------------- simulator
