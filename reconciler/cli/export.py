"""``reconciler export``: the live account as desired-state YAML."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.options import PathArgument, current_settings, docs, global_options
from reconciler.cli.output import command, run_with_progress
from reconciler.errors import ConfigError
from reconciler.plan.grouping import plural
from reconciler.schemas import DESIRED_STATE_SCHEMA as SCHEMA_NAME
from reconciler.session import open_session


@click.command(epilog=docs("docs/commands.md#export"))
@click.argument("account", type=PathArgument(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write one file per section into DIR (a directory PATH for plan). "
    "Default: one YAML document on stdout.",
)
@click.option(
    "--relay-number",
    "relay_numbers",
    multiple=True,
    metavar="N",
    help="An aql number whose relay route to export (repeatable; aql has no list call).",
)
@click.option(
    "--relay-numbers-from",
    "relay_numbers_from",
    metavar="FILE",
    help="Read the aql numbers whose relay routes to export from FILE, one per line "
    "(# comments; '-' for stdin). Adds to --relay-number.",
)
@click.option(
    "--pools",
    is_flag=True,
    help="Group numbers into one pool per location (count = numbers there) instead of pins.",
)
@click.option("--overwrite", is_flag=True, help="Replace files export wrote before in DIR.")
@global_options
@command
def export(
    account: Path,
    out: Path | None,
    relay_numbers: tuple[str, ...],
    relay_numbers_from: str | None,
    pools: bool,
    overwrite: bool,
) -> int:
    """Write the live account as desired-state YAML that plans clean against it.

    ACCOUNT is a YAML file with the `aculab` (and `aql`) sections; the rest of it is
    ignored. Every secret is written as a ${PLACEHOLDER} and listed: set those variables
    before `reconciler plan`. Read-only. Exit 0, or 1 on any error.
    """
    from reconciler import operations
    from reconciler.export import normalise_relay_numbers

    settings = current_settings()
    numbers = normalise_relay_numbers(relay_numbers)
    if relay_numbers_from is not None:
        numbers += _relay_numbers_from(relay_numbers_from)
    with open_session(settings) as session:
        outcome = run_with_progress(
            "reading the account",
            lambda progress: operations.export(
                session,
                account,
                out=out,
                relay_numbers=numbers,
                pools=pools,
                overwrite=overwrite,
                progress=progress,
            ),
        )
    result = outcome.result
    # The YAML goes to stdout alone when it is the output; the report goes beside it.
    report_to_stderr = out is None
    if out is None:
        click.echo(result.files["-"], nl=False)
    else:
        click.echo(f"Wrote {', '.join(str(p) for p in outcome.written)}.")
        for other in outcome.others:
            click.echo(f"Note: {other} is in {out} too; `reconciler plan {out}` merges it.")
    c = result.counts
    click.echo(
        f"Exported {plural(c['numbers'], 'number')}"
        + (f" in {plural(c['pools'], 'pool')}" if pools else "")
        + f", {c['inbound_services']:,} inbound and {c['outbound_services']:,} outbound "
        f"{'service' if c['outbound_services'] == 1 else 'services'}, "
        f"{plural(c['relay_routes'], 'relay route')}.",
        err=report_to_stderr,
    )
    if out is None:
        click.echo(
            f"Its first line points at {SCHEMA_NAME} beside it (editors check the YAML "
            f"against it): write that with `reconciler schema --out {SCHEMA_NAME}` where you "
            "save the YAML.",
            err=True,
        )
    for note in result.notes:
        click.echo(f"Left out: {note}", err=report_to_stderr)
    if result.placeholders:
        click.echo(
            "Secrets written as placeholders (set these before `plan`):", err=report_to_stderr
        )
        width = max(len(p.name) for p in result.placeholders)
        for p in result.placeholders:
            click.echo(f"  {p.name:<{width}}  {p.where}", err=report_to_stderr)
    return 0


def _relay_numbers_from(source: str) -> list[str]:
    """The aql numbers listed in the file ``source`` ('-': stdin), one per line."""
    from reconciler.export import read_relay_numbers

    if source == "-":
        return read_relay_numbers(source, sys.stdin.read())
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ConfigError(
            f"--relay-numbers-from {source}: cannot read it: {reason}",
            hint="give a text file with one aql number per line, or - for stdin",
        ) from None
    return read_relay_numbers(source, text)


# --------------------------------------------------------------------------- schema
