"""``reconciler plan``: what apply would change, and the plan file apply takes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.files import out_directory
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
from reconciler.cli.output import (
    READING,
    command,
    command_line,
    echo_warnings,
    run_with_progress,
    use_color,
)
from reconciler.session import Settings, open_session

if TYPE_CHECKING:
    from reconciler.fleet import Account, Shard
    from reconciler.operations import PlanResult
    from reconciler.plan.changes import Plan
    from reconciler.plan.safety import Verdict


def render_plan(
    plan: Plan, verdict: Verdict, fmt: str, settings: Settings, *, saved: Path | None = None
) -> str:
    """The plan in ``fmt`` (text in colour on a terminal), as plan and apply show it."""
    from reconciler.plan.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(plan, verdict)
    if fmt == "markdown":
        # Markdown leaves out what doesn't fit one comment, and names the full plan.
        return render_markdown(plan, verdict, full_plan=None if saved is None else str(saved))
    return render_text(plan, verdict, color=use_color(settings))


@click.command(epilog=docs("docs/commands.md#plan"))
@PATHS
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="FILE|DIR",
    help="Save the plan (JSON, mode 0600, no secrets) for `apply --plan`; with several "
    "PATHs a directory, one ACCOUNT.plan.json each.",
)
@FORMAT_OPTION
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when changes are pending, 1 on error.",
)
@click.option(
    "--allow-release",
    is_flag=True,
    help="Plan for an apply that will pass --allow-release (releases are not refused).",
)
@click.option(
    "--force", is_flag=True, help="Plan for an apply that will pass --force (limits lifted)."
)
@fleet_options
@global_options
@command
def plan(
    paths: tuple[Path, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    allow_release: bool,
    force: bool,
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    """Show what `apply` would change in the live account to match PATH (a file or directory).

    Several PATHs are several accounts (docs/fleet.md). Read-only. Exit 3 where `apply` with
    the same flags would refuse the plan: a release without --allow-release, a safety limit
    without --force.
    """
    from reconciler import operations

    settings = current_settings()
    if is_fleet(paths, shard, report_dir):
        lifted = (allow_release, force)
        return _plan_fleet(paths, out, fmt, detailed_exitcode, lifted, parallel, shard, report_dir)
    path = paths[0]
    with open_session(settings) as session:
        result = run_with_progress(
            READING,
            lambda progress: operations.plan(
                session,
                path,
                out=out,
                allow_release=allow_release,
                force=force,
                progress=progress,
            ),
        )
    echo_warnings(result.warnings)
    click.echo(render_plan(result.plan, result.verdict, fmt, settings, saved=out))
    if out is not None:
        flags = [f for f, on in (("--allow-release", allow_release), ("--force", force)) if on]
        apply_it = command_line(settings, "apply", str(path), "--plan", str(out), *flags)
        click.echo(f"Saved this plan to {out}; apply it with `{apply_it}`.", err=True)
    # What apply with the same flags would refuse (exit 3), a blocked release included.
    for refusal in result.refusals:
        click.echo(f"Refused: {refusal}", err=True)
    code: int = result.exit_code(detailed=detailed_exitcode)
    return code


def _plan_fleet(
    paths: Sequence[Path],
    out: Path | None,
    fmt: str,
    detailed: bool,
    flags: tuple[bool, bool],
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    from reconciler import operations

    settings = current_settings()
    run = Fleet("plan", paths, parallel, shard, report_dir, fmt)
    accounts = run.accounts()
    several = len(paths) > 1
    if out is not None and several:
        out_directory(out, "plan")

    def render(result: PlanResult) -> str:
        text = render_plan(result.plan, result.verdict, fmt, settings)
        if fmt != "json":
            text += "".join(f"\nRefused: {r}" for r in result.refusals)
            if result.saved_to is not None:
                text += f"\nSaved this plan to {result.saved_to}."
        return text

    with open_session(settings) as session:
        sessions = run.sessions(session, accounts)

        async def work(account: Account) -> PlanResult:
            target = account.plan_file(out) if out is not None and several else out
            allow_release, force = flags
            return await operations.plan(
                sessions[account.name],
                account.path,
                out=target,
                allow_release=allow_release,
                force=force,
            )

        runs = run.run(
            accounts,
            work,
            lambda r: r.exit_code(detailed=detailed),
            render,
            preload=session.preload,
        )
    saved = [r for r in runs if r.error is None]
    if out is not None and several and saved:
        failed = len(runs) - len(saved)
        but = (
            f" ({failed} account{'s' if failed != 1 else ''} failed: no plan saved)"
            if failed
            else ""
        )
        click.echo(
            f"Saved {len(saved)} plan{'s' if len(saved) != 1 else ''} in {out}{but}; apply them "
            f"with `reconciler apply PATH... --plan {out}`.",
            err=True,
        )
    return run.finish(runs)
