"""The command line: thin, and the only place that prints.

Each command parses its options, calls the domain modules (which return values or raise
:class:`~reconciler.errors.ReconcilerError`), hands results to a renderer, prints, and exits
with the code of docs/commands.md: 0 nothing to change, 2 changes pending, 3 refused by a safety
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
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_REFUSED,
    ReconcilerError,
    ValidationFailed,
)
from reconciler.session import Session, Settings, check_workdir, open_session

if TYPE_CHECKING:
    import logging

    from reconciler.desired import LoadResult
    from reconciler.desired.model import DesiredState
    from reconciler.live.model import LiveState
    from reconciler.plan.changes import Plan
    from reconciler.plan.safety import Verdict

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
    from reconciler.secret import redact

    if isinstance(err, ValidationFailed):
        for d in err.diagnostics:
            click.echo(redact(str(d)), err=True)
    click.echo(f"Error: {redact(err.message)}", err=True)
    if err.hint:
        click.echo(f"  hint: {redact(err.hint)}", err=True)
    sys.exit(err.exit_code)


def _redacting_filter() -> logging.Filter:
    """A filter that masks every known secret value in a log record, whatever produced it.
    (Built on first use: ``logging`` is not imported for ``reconciler --version``.)"""
    import logging

    from reconciler.secret import redact

    class RedactingFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = redact(record.getMessage())
            record.args = None
            return True

    return RedactingFilter()


def _configure_logging(settings: Settings) -> None:
    """``-v`` logs INFO, ``-vv`` DEBUG, to stderr; secrets are masked in every record."""
    if not settings.verbose:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_redacting_filter())
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if settings.verbose > 1 else logging.INFO)


def handle_errors(f: F) -> F:
    """Turn a ReconcilerError into a message and its exit code; never a traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _configure_logging(_settings(click.get_current_context()))
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


# --------------------------------------------------------------------------- shared steps


class _ProgressLine:
    """``Reading live state 1,200/3,203`` on stderr, only when stderr is a terminal, redrawn
    at most ten times a second (:class:`reconciler.live.progress.Progress` throttles)."""

    def __init__(self, label: str) -> None:
        from reconciler.live.progress import Progress

        self.progress = Progress(label)
        self.enabled = sys.stderr.isatty()
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        line = self.progress.update(done, total)
        if line is not None:
            click.echo(f"\r{line}", err=True, nl=False)
            self._shown = True

    def close(self) -> None:
        if self._shown:
            click.echo("", err=True)


def _echo_warnings(result: LoadResult) -> None:
    for d in result.warnings:
        click.echo(str(d), err=True)


async def _read_live(session: Session, desired: DesiredState) -> LiveState:
    """Read the live account the desired state needs, with a progress line on a terminal."""
    progress = _ProgressLine("Reading live state")
    try:
        async with session.clients(desired) as (aculab, aql):
            return await session.read_live(desired, aculab, aql, progress=progress)
    finally:
        progress.close()


def _render(plan: Plan, verdict: Verdict, fmt: str, settings: Settings) -> str:
    from reconciler.plan.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(plan, verdict)
    if fmt == "markdown":
        return render_markdown(plan, verdict)
    return render_text(plan, verdict, color=use_color(settings))


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)


# --------------------------------------------------------------------------- validate


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people; json ({file, line, column, message, severity} and a summary) "
    "for editors and CI.",
)
@global_options
@handle_errors
@click.pass_context
def validate(ctx: click.Context, path: Path, fmt: str) -> None:
    """Check PATH (a YAML file, or a directory of *.yaml files) offline: schema, names,
    references, numbers, secrets. Every problem at once, each at file:line:column.

    Exit 0 when valid (warnings are printed), 1 when there is any error. Under --simulate an
    environment variable that is not set is no error.
    """
    from reconciler.desired import load
    from reconciler.desired.render import render_json, render_text
    from reconciler.secret import redact

    settings = _settings(ctx)
    state: DesiredState | None
    try:
        loaded = load(path, simulate=settings.simulate)
        diagnostics, state = loaded.warnings, loaded.state
    except ValidationFailed as err:
        diagnostics, state = err.diagnostics, None
    if fmt == "json":
        text = render_json(diagnostics, state=state)
    else:
        text = render_text(diagnostics, path=str(path), state=state, color=use_color(settings))
    # The loader never quotes a secret; redact() is the last line of defence all output has.
    click.echo(redact(text))
    if state is None:
        sys.exit(EXIT_ERROR)


# --------------------------------------------------------------------------- plan


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan (JSON, mode 0600, no secrets) for `apply --plan`.",
)
@FORMAT_OPTION
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when changes are pending, 1 on error.",
)
@global_options
@handle_errors
@click.pass_context
def plan(
    ctx: click.Context, path: Path, out: Path | None, fmt: str, detailed_exitcode: bool
) -> None:
    """Show what `apply` would change in the live account to match PATH (a file or directory).

    Read-only. Exit 3 when a safety limit would refuse the plan (apply needs --force).
    """
    import asyncio

    from reconciler.plan.planner import make_plan
    from reconciler.plan.safety import check_safety

    settings = _settings(ctx)
    if out is not None:
        from reconciler.plan.saved import check_plan_target

        # Before the read: a wrong --out should not cost a read of the whole account.
        check_plan_target(out)
    with open_session(settings) as session:
        loaded = session.load(path)
        _echo_warnings(loaded)
        live = asyncio.run(_read_live(session, loaded.state))
    the_plan = make_plan(loaded.state, live)
    if out is not None:
        from reconciler.plan.saved import save_plan

        save_plan(the_plan, out)
    verdict = check_safety(the_plan, loaded.state.safety, allow_release=False, force=False)
    click.echo(_render(the_plan, verdict, fmt, settings))
    if out is not None:
        click.echo(
            f"Saved this plan to {out}; apply it with `reconciler apply {path} --plan {out}`.",
            err=True,
        )
    # Blocked releases are shown in the plan itself; here only the limits that would make
    # apply refuse without --force.
    refusals = verdict.overridable("--force")
    if refusals:
        for r in refusals:
            click.echo(f"Refused: {r}", err=True)
        sys.exit(EXIT_REFUSED)
    if detailed_exitcode and not the_plan.is_empty:
        sys.exit(EXIT_CHANGES)


# --------------------------------------------------------------------------- apply


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this saved plan (from `plan --out`); refused if the account or PATH changed.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write nothing: purchases go to tel_purchase_development, bodies are checked "
    "against the server's schema.",
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (needed without a terminal).")
@click.option("--allow-release", is_flag=True, help="Allow releasing numbers (irreversible).")
@click.option("--force", is_flag=True, help="Apply a plan past the `safety` limits.")
@click.option(
    "--purchase-wait",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="After a purchase with an unknown outcome, how long to wait for bought numbers to "
    "show in the account's list before buying what is still missing.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format of the report (json: the plan goes to stderr).",
)
@global_options
@handle_errors
@click.pass_context
def apply(
    ctx: click.Context,
    path: Path,
    plan_file: Path | None,
    dry_run: bool,
    yes: bool,
    allow_release: bool,
    force: bool,
    purchase_wait: float,
    fmt: str,
) -> None:
    """Make the live account match PATH: plan, show the plan, confirm, apply.

    Exit 0 when everything succeeded (or nothing was to change), 1 when anything failed or was
    skipped (run apply again: it converges), 3 when a safety rule refused the plan.
    """
    import asyncio

    from reconciler.apply.applier import ApplyOptions, apply_plan
    from reconciler.apply.journal import JOURNAL_NAME, Journal
    from reconciler.apply.lock import LOCK_NAME, ApplyLock
    from reconciler.apply.report import render_report_json, render_report_text
    from reconciler.errors import ConfigError
    from reconciler.plan.planner import make_plan
    from reconciler.plan.safety import check_safety, enforce_safety

    settings = _settings(ctx)
    out_json = fmt == "json"
    saved = None
    if plan_file is not None:
        from reconciler.plan.saved import load_plan

        saved = load_plan(plan_file)
    _terminate_on_sigterm()
    check_workdir(settings.workdir)
    with ApplyLock(settings.workdir / LOCK_NAME) as lock, open_session(settings) as session:
        if lock.took_over is not None:
            click.echo(
                f"Note: took over a stale lock left by {lock.took_over.describe()}; "
                "that process is no longer running.",
                err=True,
            )
        loaded = session.load(path)
        _echo_warnings(loaded)
        desired = loaded.state
        live = asyncio.run(_read_live(session, desired))
        the_plan = make_plan(desired, live)
        if saved is not None:
            from reconciler.apply.freshness import check_saved_plan

            check_saved_plan(saved, the_plan, live)
        verdict = check_safety(the_plan, desired.safety, allow_release=allow_release, force=force)
        click.echo(_render(the_plan, verdict, "text", settings), err=out_json)
        enforce_safety(verdict)
        journal = Journal(settings.workdir / JOURNAL_NAME)
        unsettled = bool(journal.view().unresolved) and not dry_run
        if the_plan.is_empty and not unsettled:
            if out_json:
                click.echo(render_report_json(_empty_report(journal.run_id, dry_run)))
            return
        if not (dry_run or yes or the_plan.is_empty):
            if not sys.stdin.isatty():
                raise ConfigError(
                    "apply needs confirmation, and there is no terminal to ask on",
                    hint="review the plan above, then run again with --yes",
                )
            if not click.confirm("\nApply these changes?", default=False, err=True):
                click.echo("Apply cancelled; nothing was changed.", err=True)
                sys.exit(EXIT_ERROR)
        options = ApplyOptions(
            dry_run=dry_run,
            allow_release=allow_release,
            concurrency=settings.concurrency,
            purchase_wait=purchase_wait,
        )
        progress = _ProgressLine("Applying")

        async def run() -> Any:
            async with session.clients(desired) as (aculab, aql):
                return await apply_plan(
                    the_plan,
                    desired,
                    aculab,
                    aql,
                    options=options,
                    journal=None if dry_run else journal,
                    live=live,
                    progress=progress,
                )

        try:
            report = asyncio.run(run())
        finally:
            progress.close()
            journal.close()
    if out_json:
        click.echo(render_report_json(report))
    else:
        click.echo("")
        click.echo(render_report_text(report, color=use_color(settings)))
    if not report.ok:
        from reconciler.apply.report import failure_message
        from reconciler.errors import ApplyFailed

        raise ApplyFailed(
            failure_message(report),
            report=report,
            hint=None
            if dry_run
            else "run apply again: it plans from the account as it is now and converges",
        )


def _empty_report(run_id: str, dry_run: bool) -> Any:
    from reconciler.apply.applier import ApplyReport

    return ApplyReport(run_id=run_id, dry_run=dry_run)


def _terminate_on_sigterm() -> None:
    """SIGTERM ends apply like Ctrl-C: the lock is released and the journal keeps what was
    sent (a purchase in flight stays unresolved until the next apply re-counts it)."""
    import signal

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------- drift


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@FORMAT_OPTION
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="RULE",
    help="Silence known drift: ADDRESS_GLOB[/FIELD_GLOB], e.g. 'inbound:*/description' or "
    "'relay:44113000112'. Repeatable; adds to `drift: {ignore: [...]}` in the YAML.",
)
@global_options
@handle_errors
@click.pass_context
def drift(ctx: click.Context, path: Path, fmt: str, ignore: tuple[str, ...]) -> None:
    """Report what changed on the live account by hand: each drifted resource and field
    (secrets masked) and what `apply` would do about it.

    Read-only: nothing is written to the account. Exit 0 in sync, 2 drift found, 1 error.
    """
    import asyncio

    from reconciler.drift import detect_drift, parse_rules
    from reconciler.drift.render import render_json, render_markdown, render_text
    from reconciler.plan.planner import make_plan

    settings = _settings(ctx)
    parse_rules(ignore)  # a bad rule fails before any call to the account
    with open_session(settings) as session:
        loaded = session.load(path)
        _echo_warnings(loaded)
        live = asyncio.run(_read_live(session, loaded.state))
    report = detect_drift(make_plan(loaded.state, live), [*loaded.state.drift_ignore, *ignore])
    from reconciler.secret import redact

    if fmt == "json":
        text = render_json(report) + "\n"
    elif fmt == "markdown":
        text = render_markdown(report)
    else:
        text = render_text(report, color=use_color(settings)) + "\n"
    # Secrets are masked by type in the report; redact() is the last line of defence.
    click.echo(redact(text), nl=False)
    sys.exit(report.exit_code())


# --------------------------------------------------------------------------- export


@cli.command()
@click.argument("account", type=click.Path(path_type=Path))
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
    "--pools",
    is_flag=True,
    help="Group numbers into one pool per location (count = numbers there) instead of pins.",
)
@click.option("--overwrite", is_flag=True, help="Replace files export wrote before in DIR.")
@global_options
@handle_errors
@click.pass_context
def export(
    ctx: click.Context,
    account: Path,
    out: Path | None,
    relay_numbers: tuple[str, ...],
    pools: bool,
    overwrite: bool,
) -> None:
    """Write the live account as desired-state YAML that plans clean against it.

    ACCOUNT is a YAML file with the `aculab` (and `aql`) sections; the rest of it is
    ignored. Every secret is written as a ${PLACEHOLDER} and listed: set those variables
    before `reconciler plan`. Read-only. Exit 0, or 1 on any error.
    """
    import asyncio

    from reconciler.export import (
        export_account,
        other_yaml_files,
        schema_ref_for,
        write_export,
    )

    settings = _settings(ctx)
    progress = _ProgressLine("Reading the account")
    with open_session(settings) as session:
        try:
            result = asyncio.run(
                export_account(
                    session,
                    account,
                    relay_numbers=relay_numbers,
                    pools=pools,
                    split=out is not None,
                    schema_ref=schema_ref_for(out if out is not None else Path.cwd()),
                    progress=progress,
                )
            )
        finally:
            progress.close()
    # The YAML goes to stdout alone when it is the output; the report goes beside it.
    report_to_stderr = out is None
    if out is None:
        click.echo(result.files["-"], nl=False)
    else:
        written = write_export(result, out, overwrite=overwrite)
        click.echo(f"Wrote {', '.join(str(p) for p in written)}.")
        for other in other_yaml_files(out, written):
            click.echo(f"Note: {other} is in {out} too; `reconciler plan {out}` merges it.")
    c = result.counts
    click.echo(
        f"Exported {c['numbers']} numbers"
        + (f" in {c['pools']} pools" if pools else "")
        + f", {c['inbound_services']} inbound and {c['outbound_services']} outbound services, "
        f"{c['relay_routes']} relay routes.",
        err=report_to_stderr,
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


# --------------------------------------------------------------------------- simulator


@cli.group()
@global_options
def simulator() -> None:
    """The Aculab Cloud + aql simulator: a local stand-in for both APIs, for tests and demos."""


@simulator.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8089,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the account in this JSON file (resumed if it exists).",
)
@click.option(
    "--seed",
    type=click.Choice(["empty", "demo"]),
    default="demo",
    show_default=True,
    help="The account a new state starts from.",
)
@click.option(
    "--rng-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the numbers purchases produce.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Latency added to every request.",
)
@click.option(
    "--latency-jitter-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Random extra latency, up to this much (seeded).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Switch a fault on (repeatable): error_rate=[GLOB:]RATE, rate_limit=[GLOB:]RATE, "
    "garbage_rate=[GLOB:]RATE, retry_after_s=N, error_statuses=500,503, "
    "lost_purchase_reply=drop|stall, lost_purchase_rate=R, lost_purchase_limit=N, "
    "stall_s=S, list_lag_s=S, seed=N.",
)
@click.option("--cloud-id", default="1-2-0", show_default=True, help="Aculab cloud ID accepted.")
@click.option(
    "--username", default="ops@example.com", show_default=True, help="Aculab username accepted."
)
@click.option(
    "--api-key",
    default="sim-api-key",
    show_default=True,
    help="Aculab API key accepted (a test value).",
)
@click.option("--aql-username", default="example", show_default=True, help="aql username accepted.")
@click.option(
    "--aql-password",
    default="sim-aql-password",
    show_default=True,
    help="aql password accepted (a test value).",
)
@global_options
@handle_errors
def serve(
    port: int,
    state_file: Path | None,
    seed: str,
    rng_seed: int,
    latency_ms: float,
    latency_jitter_ms: float,
    fault_specs: tuple[str, ...],
    cloud_id: str,
    username: str,
    api_key: str,
    aql_username: str,
    aql_password: str,
) -> None:
    """Serve the simulator over HTTP on 127.0.0.1 until Ctrl-C.

    Both APIs share the port: Aculab Cloud's paths at the root, the aql relay gateway at
    /sms/sms-relay.api.php. It prints its URLs, its (test) credentials and the `aculab:`/`aql:`
    sections of a desired-state file that points at it.
    """
    import contextlib
    import signal

    from reconciler.simulator import Faults, SimCredentials, Simulator

    faults = Faults.from_specs(
        fault_specs, Faults(latency_ms=latency_ms, latency_jitter_ms=latency_jitter_ms)
    )
    credentials = SimCredentials(
        cloud_id=cloud_id,
        username=username,
        api_key=api_key,
        aql_username=aql_username,
        aql_password=aql_password,
    )
    sim = Simulator(
        seed=seed, credentials=credentials, state_file=state_file, faults=faults, rng_seed=rng_seed
    )

    def on_sigterm(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    with sim.serve(port=port) as running:
        click.echo(running.banner())
        click.echo("Press Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            running.wait()
    click.echo(f"Simulator stopped after {len(sim.calls)} requests.")


def main() -> None:
    """Console-script entry point.

    Click's own usage errors exit 1 here, not click's default 2: exit code 2 means "changes
    pending" in reconciler (docs/commands.md).
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
