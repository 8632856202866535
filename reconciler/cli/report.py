"""``reconciler report``: merge the account reports of ``--report-dir`` into one summary."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.files import write_public
from reconciler.cli.options import FORMAT_OPTION, docs, local_options
from reconciler.cli.output import command
from reconciler.errors import ConfigError


@click.command(epilog=docs("docs/fleet.md#reports"))
@click.argument(
    "directories",
    nargs=-1,
    required=True,
    metavar="DIR...",
    type=click.Path(file_okay=False, path_type=Path),
)
@FORMAT_OPTION
@click.option(
    "--metrics",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write OpenMetrics text to FILE (node-exporter textfile collector, Pushgateway).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write JUnit XML to FILE: one test case per account.",
)
@local_options
@command
def report(
    directories: tuple[Path, ...], fmt: str, metrics: Path | None, junit: Path | None
) -> int:
    """Merge the account reports that --report-dir wrote (any number of shards' DIRs) into one
    summary: text, json, or markdown that fits one GitHub comment or issue.

    Exit with the most severe code of the accounts: 0 all in order, 2 changes or drift, 3 a
    refusal, 1 an error (docs/fleet.md).
    """
    from reconciler import report as reports

    summary = reports.summarise(reports.read_reports(directories))
    if not summary.reports:
        raise ConfigError(
            f"no account reports in {', '.join(str(d) for d in directories)}",
            hint="run validate, plan, apply or drift with --report-dir DIR first",
        )
    if metrics is not None:
        write_public(metrics, reports.render_metrics(summary))
    if junit is not None:
        write_public(junit, reports.render_junit(summary))
    if fmt == "json":
        click.echo(reports.render_json(summary), nl=False)
    elif fmt == "markdown":
        click.echo(reports.render_markdown(summary), nl=False)
    else:
        click.echo(reports.render_text(summary), nl=False)
    return summary.exit_code
