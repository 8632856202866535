"""``reconciler apply``: plan, show, confirm, apply; one account or several."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.fleet import Fleet
from reconciler.cli.options import (
    PATHS,
    WAIT_SECONDS,
    current_settings,
    docs,
    fleet_options,
    global_options,
    is_fleet,
)
from reconciler.cli.output import (
    READING,
    ProgressLine,
    command,
    command_line,
    echo_warnings,
    run_with_progress,
    told_to_stop,
    use_color,
)
from reconciler.cli.plan import render_plan
from reconciler.errors import EXIT_ERROR, ConfigError, ReconcilerError
from reconciler.plan.grouping import plural
from reconciler.session import Session, open_session

if TYPE_CHECKING:
    from reconciler import operations
    from reconciler.fleet import Account, AccountRun, Shard
    from reconciler.operations import ApplyRequest
    from reconciler.plan.changes import Plan
    from reconciler.plan.safety import Verdict


@click.command(epilog=docs("docs/commands.md#apply"))
@PATHS
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path),
    metavar="FILE|DIR",
    help="Apply this saved plan (from `plan --out`); refused if the account or PATH changed. "
    "With several PATHs, the directory `plan PATH... --out DIR` wrote.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing: purchases go to tel_purchase_development, bodies are checked "
    "against the server's schema.",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Apply without asking (needed without a terminal, unless --plan is given).",
)
@click.option("--allow-release", is_flag=True, help="Allow releasing numbers (irreversible).")
@click.option("--force", is_flag=True, help="Apply a plan past the `safety` limits.")
@click.option(
    "--purchase-wait",
    type=WAIT_SECONDS,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="After a purchase with an unknown outcome, how long to re-list for the numbers it "
    "bought. Nothing new by then proves nothing: the pool buys nothing until they are listed.",
)
@click.option(
    "--forget-purchase",
    "forget_purchase",
    multiple=True,
    metavar="POOL",
    help="Only after checking the account: the earlier purchase for POOL whose outcome is "
    "unknown bought nothing. Journalled; the pool may buy again. Repeatable; one PATH only.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format of the report (json: the plan goes to stderr).",
)
@fleet_options
@global_options
@command
def apply(
    paths: tuple[Path, ...],
    plan_file: Path | None,
    dry_run: bool,
    yes: bool,
    allow_release: bool,
    force: bool,
    purchase_wait: float,
    forget_purchase: tuple[str, ...],
    fmt: str,
    parallel: int,
    shard: Shard | None,
    report_dir: Path | None,
) -> int:
    """Make the live account match PATH: plan, show the plan, confirm, apply.

    Several PATHs are several accounts (docs/fleet.md): every plan is shown, one question
    asked, and each account applied on its own.

    On a terminal apply asks first: a plan that buys or releases numbers needs the word
    `yes`. A plan saved with `plan --out` and given with --plan was reviewed already: it is
    applied without asking (and refused if the account or PATH changed since).

    Exit 0 when everything succeeded (or nothing was to change), 1 when anything failed or was
    skipped (the hint says whether running it again can help), 3 when a safety rule refused
    the plan.
    """
    from reconciler import operations
    from reconciler.apply.report import render_report_json, render_report_text

    settings = current_settings()
    out_json = fmt == "json"
    # Hints print commands that work as typed: these PATHs, and the flags given.
    lifted = [f for f, on in (("--allow-release", allow_release), ("--force", force)) if on]
    typed = [*map(str, paths), *lifted]
    request = operations.ApplyRequest(
        plan_file=plan_file,
        replan=command_line(settings, "plan", *typed, "--out", str(plan_file or "FILE")),
        dry_run=dry_run,
        allow_release=allow_release,
        force=force,
        purchase_wait=purchase_wait,
        forget_purchase=forget_purchase,
    )
    _terminate_on_sigterm()  # until the apply runs; then SIGTERM stops it as Ctrl-C does
    if is_fleet(paths, shard, report_dir):
        if forget_purchase:
            # A pool name means one account's pool: the decision is that account's to make.
            raise click.UsageError(
                "--forget-purchase takes one PATH: apply the account whose pool it names alone"
            )
        fleet_run = Fleet("apply", paths, parallel, shard, report_dir, fmt)
        return _apply_fleet(fleet_run, request, yes=yes, typed=typed)
    path = paths[0]
    with (
        operations.ApplyRun(path, request, settings.workdir) as run,
        open_session(settings) as session,
    ):
        if run.took_over is not None:
            click.echo(
                f"Note: took over a stale lock left by {run.took_over.describe()}; "
                "that process is no longer running.",
                err=True,
            )
        the_plan = run_with_progress(
            READING, lambda progress: run.prepare(session, progress=progress)
        )
        assert run.loaded is not None
        echo_warnings(run.loaded.warnings)
        assert run.verdict is not None
        click.echo(render_plan(the_plan, run.verdict, "text", settings), err=out_json)
        if not run.check():
            if out_json:
                click.echo(render_report_json(run.empty_report()))
            return 0
        # A saved plan was reviewed when it was made (and is refused if anything changed
        # since): like Terraform's `apply PLANFILE`, it doesn't ask again.
        asks = not (dry_run or yes or plan_file is not None or the_plan.is_empty)
        if asks and not _confirm([(the_plan, run.verdict)], typed=typed):
            return EXIT_ERROR
        report = run_with_progress("applying", lambda progress: _execute(run, session, progress))
    if out_json:
        click.echo(render_report_json(report))
    else:
        click.echo("")
        click.echo(render_report_text(report, color=use_color(settings)))
    again = command_line(settings, "apply", *typed, *(["--yes"] if yes else []))
    failure = operations.apply_failure(report, again=again)
    if failure is not None:
        raise failure
    return 0


async def _execute(run: operations.ApplyRun, session: Session, progress: ProgressLine) -> Any:
    """``run.execute`` under a :class:`~reconciler.apply.applier.Stop`: the first Ctrl-C or
    SIGTERM lets the calls in flight finish and reports (exit 130), the second stops at once."""
    from reconciler.apply.applier import Stop

    def told(name: str, first: bool) -> None:
        progress.close()
        told_to_stop(name, first)

    with Stop(on_signal=told) as stop:
        return await run.execute(session, progress=progress, stop=stop)


def _apply_fleet(run: Fleet, request: ApplyRequest, *, yes: bool, typed: list[str]) -> int:
    """apply over several accounts: take each account's lock, plan them all (shown as they
    come), ask once, apply each (its report shown as it finishes)."""
    import contextlib
    import dataclasses
    import time

    from reconciler import operations
    from reconciler.apply.report import render_report_json, render_report_text
    from reconciler.fleet import AccountRun, shared_accounts

    settings = current_settings()
    accounts = run.accounts()
    several = len(run.paths) > 1
    plan_dir = request.plan_file
    if plan_dir is not None and several and not plan_dir.is_dir():
        raise ConfigError(
            f"--plan {plan_dir}: with several PATHs --plan is the directory of saved plans",
            hint="give --plan the directory that `reconciler plan PATH... --out DIR` wrote",
        )
    runs: list[AccountRun[Any]] = []
    applies: dict[str, operations.ApplyRun] = {}
    with contextlib.ExitStack() as stack:
        # The locks before the session: see operations.ApplyRun.
        for account in accounts:
            own = dataclasses.replace(
                request,
                plan_file=account.plan_file(plan_dir) if plan_dir and several else plan_dir,
            )
            workdir = account.workdir(settings.workdir) if several else settings.workdir
            started = time.time()
            try:
                applies[account.name] = stack.enter_context(
                    operations.ApplyRun(account.path, own, workdir)
                )
            except ReconcilerError as err:
                failed: AccountRun[Any] = AccountRun(
                    account, err.exit_code, None, err, started, time.time()
                )
                run.report(failed)
                run.show(failed, str, final=True)
                runs.append(failed)
        ready = [a for a in accounts if a.name in applies]
        session = stack.enter_context(open_session(settings))
        sessions = run.sessions(session, ready)
        pending: dict[str, bool] = {}

        async def prepare(account: Account) -> operations.ApplyRun:
            one = applies[account.name]
            if one.took_over is not None:
                click.echo(
                    f"Note: {account.name}: took over a stale lock left by "
                    f"{one.took_over.describe()}; that process is no longer running.",
                    err=True,
                )
            await one.prepare(sessions[account.name])
            pending[account.name] = one.check()
            return one

        def show_plan(one: operations.ApplyRun) -> str:
            assert one.plan is not None and one.verdict is not None
            return render_plan(one.plan, one.verdict, "text", settings)

        planned = run.run(ready, prepare, lambda _one: 0, show_plan, final=False)
        runs += [r for r in planned if r.error is not None]
        to_apply = [r.account for r in planned if r.error is None]
        if not settings.simulate:  # under --simulate each account is a simulated one of its own
            loaded = {a.name: applies[a.name].loaded for a in to_apply}
            shared = shared_accounts({n: d.state for n, d in loaded.items() if d is not None})
            for account in [a for a in to_apply if a.name in shared]:
                now = time.time()
                refused: AccountRun[Any] = AccountRun(
                    account, EXIT_ERROR, None, shared[account.name], now, now
                )
                run.report(refused)
                run.show(refused, str, final=True)
                runs.append(refused)
            to_apply = [a for a in to_apply if a.name not in shared]
        changing = [applies[a.name] for a in to_apply if pending.get(a.name)]
        # Saved plans were reviewed when they were made (see apply of one PATH).
        if changing and not (request.dry_run or yes or plan_dir is not None):
            plans = [(one.plan, one.verdict) for one in changing]
            known = [(p, v) for p, v in plans if p is not None and v is not None]
            if not _confirm(known, typed=typed):
                return EXIT_ERROR

        async def execute(account: Account) -> operations.ApplyResult:
            one = applies[account.name]
            assert one.loaded is not None and one.plan is not None and one.verdict is not None
            if pending[account.name]:
                report = await one.execute(sessions[account.name], stop=run.stop)
            else:
                report = one.empty_report()
            return operations.ApplyResult(one.loaded, one.plan, one.verdict, report)

        def render(result: operations.ApplyResult) -> str:
            if run.fmt == "json":
                return render_report_json(result.report)
            return render_report_text(result.report, color=use_color(settings))

        runs += run.run(to_apply, execute, lambda r: r.exit_code, render, stoppable=True)
    return run.finish(runs)


def _confirm(plans: Sequence[tuple[Plan, Verdict]], *, typed: Sequence[str]) -> bool:
    """Ask on the terminal before changing the accounts (one question for a fleet's plans);
    without one, apply needs --yes (a ConfigError says so). Plans that buy or release
    numbers (money, and a release can't be undone) go ahead only on the word ``yes``; any
    other plan on ``y`` too. Ctrl-C at the prompt ends apply like Ctrl-C anywhere (exit 130)."""

    if not sys.stdin.isatty():
        with_yes = command_line(current_settings(), "apply", *typed, "--yes")
        raise ConfigError(
            "apply needs confirmation, and there is no terminal to ask on",
            hint=f"review the plan above, then run `{with_yes}` (or apply a plan saved with "
            "`plan --out`, which needs no confirmation)",
        )
    purchases = sum(p.counts()["purchase"] for p, _v in plans)
    releases = sum(p.counts()["release"] for p, v in plans if not v.releases_blocked)
    weighty = []
    if purchases:
        weighty.append(f"buy {plural(purchases, 'number')}")
    if releases:
        weighty.append(f"release {plural(releases, 'number')} (irreversible)")
    where = f" to {plural(len(plans), 'account')}" if len(plans) > 1 else ""
    if weighty:
        question = f"\nThis will {' and '.join(weighty)}. Type yes to apply these changes{where}: "
        accepted = {"yes"}
    else:
        question = f"\nApply these changes{where}? [y/N] "
        accepted = {"y", "yes"}
    click.echo(question, err=True, nl=False)
    try:
        answer = sys.stdin.readline().strip().lower()
    except KeyboardInterrupt:
        click.echo("", err=True)  # end the prompt's line before "Interrupted."
        raise
    if answer in accepted:
        return True
    if answer in ("y", "ye"):
        click.echo("Only the word yes applies a plan that buys or releases numbers.", err=True)
    click.echo("Apply cancelled; nothing was changed.", err=True)
    return False


def _terminate_on_sigterm() -> None:
    """SIGTERM ends apply like Ctrl-C: the lock is released and the journal keeps what was
    sent (a purchase in flight stays unresolved until the next apply re-counts it)."""

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------- drift
