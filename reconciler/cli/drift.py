"""``reconciler drift``: what changed on the live account by hand."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.files import check_report_target, out_directory, write_report
from reconciler.cli.fleet import Fleet
from reconciler.cli.options import (
    FORMAT_OPTION,
    PATHS,
    current_settings,
    docs,
    fleet_options,
    global_options,
    is_fleet,
)
from reconciler.cli.output import READING, command, echo_warnings, run_with_progress, use_color
from reconciler.secret import redact
from reconciler.session import Settings, open_session

if TYPE_CHECKING:
    from reconciler.fleet import Account, Shard
    from reconciler.operations import DriftResult


@click.command(epilog=docs("docs/commands.md#drift"))
@PATHS
@FORMAT_OPTION
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="RULE",
    help="Silence known drift: ADDRESS_GLOB[/FIELD_GLOB], e.g. 'inbound:*/description' or "
    "'relay:44113000112'. Repeatable; adds to `drift: {ignore: [...]}` in the YAML.",
)
@click.option(
    "--fail-on-unmanaged",
    is_flag=True,
    help="Exit 2 also when the account holds numbers or services nothing declares (an "
    "--ignore rule matching one accepts it).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="FILE|DIR",
    help="Also write the full report as JSON to FILE (markdown names it when it leaves "
    "anything out); with several PATHs a directory, one ACCOUNT.drift.json each.",
)
@fleet_options
@global_options
@command
def drift(
    paths: tuple[Path, ...],
    fmt: str,
    ignore: tuple[str, ...],
    fail_on_unmanaged: bool,
    out: Path | None,
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    """Report what changed on the live account by hand: each drifted resource and field
    (secrets masked) and what `apply` would do about it, and what the account holds that
    nothing declares.

    Several PATHs are several accounts (docs/fleet.md). Read-only: nothing is written to the
    account. Exit 0 in sync, 2 drift found (or, with --fail-on-unmanaged, anything
    unmanaged), 1 error.
    """
    from reconciler import operations

    settings = current_settings()
    if is_fleet(paths, shard, report_dir):
        return _drift_fleet(paths, fmt, ignore, fail_on_unmanaged, out, parallel, shard, report_dir)
    path = paths[0]
    if out is not None:
        check_report_target(out)  # before the read: a wrong --out should not cost one
    with open_session(settings) as session:
        result = run_with_progress(
            READING,
            lambda progress: operations.drift(session, path, ignore=ignore, progress=progress),
        )
    echo_warnings(result.warnings)
    if out is not None:
        _write_full_report(out, result)
    text = render_drift(result, fmt, settings, full_report=out)
    # Secrets are masked by type in the report; redact() is the last line of defence.
    click.echo(redact(text), nl=False)
    code: int = result.exit_code(fail_on_unmanaged=fail_on_unmanaged)
    return code


def _drift_fleet(
    paths: Sequence[Path],
    fmt: str,
    ignore: Sequence[str],
    fail_on_unmanaged: bool,
    out: Path | None,
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    from reconciler import operations

    settings = current_settings()
    run = Fleet("drift", paths, parallel, shard, report_dir, fmt)
    accounts = run.accounts()
    several = len(paths) > 1
    if out is not None:
        if several:
            out_directory(out, "report")
        else:
            check_report_target(out)

    def full_report(account: Account) -> Path | None:
        if out is None:
            return None
        return out / f"{account.name}.drift.json" if several else out

    with open_session(settings) as session:
        sessions = run.sessions(session, accounts)

        async def work(account: Account) -> DriftResult:
            result = await operations.drift(sessions[account.name], account.path, ignore=ignore)
            target = full_report(account)
            if target is not None:
                _write_full_report(target, result)
            return result

        runs = run.run(
            accounts,
            work,
            lambda r: r.exit_code(fail_on_unmanaged=fail_on_unmanaged),
            lambda r: render_drift(r, fmt, settings),
            preload=session.preload,
        )
    return run.finish(runs)


def render_drift(
    result: DriftResult, fmt: str, settings: Settings, *, full_report: Path | None = None
) -> str:
    """The drift report in ``fmt`` (text in colour on a terminal), as drift shows it, one
    account or each of a fleet; markdown names ``full_report`` when it leaves anything out."""
    from reconciler.drift.render import render_json, render_markdown, render_text

    report = result.report
    if fmt == "json":
        return render_json(report) + "\n"
    if fmt == "markdown":
        return render_markdown(
            report, full_report=None if full_report is None else str(full_report)
        )
    return render_text(report, color=use_color(settings)) + "\n"


def _write_full_report(target: Path, result: DriftResult) -> None:
    """``--out``: the full report as JSON."""
    from reconciler.drift.render import render_json

    write_report(target, redact(render_json(result.report) + "\n"))


# --------------------------------------------------------------------------- report
