"""``reconciler schema``: the JSON Schema of the desired-state YAML."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.files import write_report
from reconciler.cli.options import docs, global_options
from reconciler.cli.output import command
from reconciler.schemas import DESIRED_STATE_SCHEMA as SCHEMA_NAME


@click.command(epilog=docs("docs/commands.md#schema"))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=f"Write the schema to FILE (e.g. {SCHEMA_NAME} beside your YAML). Default: stdout.",
)
@global_options
@command
def schema(out: Path | None) -> int:
    """Print the JSON Schema of the desired-state YAML, for editors and CI.

    Put it beside your YAML and start each file with
    `# yaml-language-server: $schema=desired-state.schema.json`: the reference is relative,
    so it works on every machine the repository is checked out on. `export --out DIR` writes
    it there for you. Exit 0, or 1 when FILE can't be written.
    """
    from reconciler.desired.schema import schema_path

    text = schema_path().read_text(encoding="utf-8")
    if out is None:
        click.echo(text, nl=False)
        return 0
    write_report(out, text)
    click.echo(f"Wrote {out}.", err=True)
    return 0


# --------------------------------------------------------------------------- doctor
