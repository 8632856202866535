"""The command line: it parses, calls a use case, renders, prints and exits.

Each command parses its options, calls :mod:`reconciler.operations` (one account) or
:mod:`reconciler.fleet` (several), hands the result to a renderer, prints, and returns its exit
code: 0 nothing to change, 2 changes pending, 3 refused by a safety rule, 1 any error
(docs/commands.md). An error is mapped to its code in one place, :func:`_exit_on`, through
:func:`reconciler.errors.exit_code_for`. Global options (``--simulate``, ``-v``,
``--no-color``, ``--concurrency``) are accepted before and after the command name.

The use cases and renderers pull in asyncio, httpx, jsonschema and deepdiff (about 0.3 s), so
each command imports what it needs in its body: ``reconciler --version`` and ``--help`` load
only click and this module.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from reconciler import __version__
from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, DEFAULT_RETRY_BUDGET
from reconciler.errors import (
    EXIT_ERROR,
    ApplyFailed,
    ConfigError,
    ReconcilerError,
    ValidationFailed,
    exit_code_for,
)
from reconciler.plan.grouping import plural
from reconciler.schemas import DESIRED_STATE_SCHEMA as SCHEMA_NAME
from reconciler.secret import redact
from reconciler.session import Session, Settings, open_session

if TYPE_CHECKING:
    import logging

    from reconciler import operations
    from reconciler.apply.applier import Stop
    from reconciler.errors import Diagnostic
    from reconciler.fleet import Account, AccountRun, Shard
    from reconciler.operations import ApplyRequest, DriftResult, PlanResult, Validation
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


def _settings(ctx: click.Context | None = None) -> Settings:
    root = (ctx or click.get_current_context()).find_root()
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


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number of seconds: finite and positive (``nan``, ``inf``, 0 and negatives refused)."""
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(
            f"{value:g} is not a number of seconds (a finite number above 0)", ctx=ctx, param=param
        )
    return value


def _set_call_deadline(ctx: click.Context, p: click.Parameter, value: float | None) -> None:
    if value is not None:
        _settings(ctx).call_deadline = _finite(ctx, p, value)


def _set_retry_budget(ctx: click.Context, p: click.Parameter, value: int | None) -> None:
    if value is not None:
        if value < 0:
            raise click.BadParameter("must be 0 or more", ctx=ctx, param=p)
        _settings(ctx).retry_budget = value


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
            type=int,
            default=None,
            expose_value=False,
            callback=_set_concurrency,
            help="Most API calls in flight at once (default 16).",
        ),
        click.option(
            "--call-deadline",
            type=float,
            default=None,
            expose_value=False,
            metavar="SECONDS",
            callback=_set_call_deadline,
            help="The longest one API call may take, its retries included "
            f"(default {DEFAULT_CALL_DEADLINE:g}).",
        ),
        click.option(
            "--retry-budget",
            type=int,
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


# --------------------------------------------------------------------------- errors, exits


def _echo_error(err: ReconcilerError) -> None:
    """An error the way every command shows it: diagnostics, message, hint (secrets masked)."""
    if isinstance(err, ValidationFailed):
        for d in err.diagnostics:
            click.echo(redact(str(d)), err=True)
    click.echo(f"Error: {redact(err.message)}", err=True)
    if err.hint:
        click.echo(f"  hint: {redact(err.hint)}", err=True)


def _exit_on(err: BaseException, *, as_json: bool = False) -> NoReturn:
    """The one place an exception ends the process: its message, then its exit code. With
    ``--format json`` (``as_json``) stdout gets a document too, ``{"error": {"message",
    "hint", "file"?, "line"?, "column"?}}``, so a CI parser always has one; except after an
    apply whose report (the document) is out already."""
    if isinstance(err, ReconcilerError):
        _echo_error(err)
    elif isinstance(err, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
    if as_json and not isinstance(err, ApplyFailed):
        click.echo(json.dumps({"error": _error_json(err)}, indent=2, sort_keys=True))
    sys.exit(exit_code_for(err))


def _redacting_filter() -> logging.Filter:
    """A filter that masks every known secret value in a log record, whatever produced it.
    (Built on first use: ``logging`` is not imported for ``reconciler --version``.)"""
    import logging

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


def command(f: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body: logging set up, its returned exit code (None: 0) taken, any
    error or Ctrl-C turned into a message and its code by :func:`_exit_on`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            _configure_logging(_settings())
            code = f(*args, **kwargs)
        except (ReconcilerError, KeyboardInterrupt) as err:
            _exit_on(err, as_json=kwargs.get("fmt") == "json")
        if code:
            sys.exit(code)

    return wrapper


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Docs: README.md (a tour) and docs/ in the reconciler repository; "
    "docs/commands.md has every command.",
)
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
    """Progress on stderr (:class:`reconciler.live.progress.Progress` decides what and when):
    on a terminal one line redrawn in place and cleared at the end; elsewhere (a CI log) a
    status line every few seconds and a last one at the end."""

    def __init__(self, label: str) -> None:
        from reconciler.live.progress import Progress

        self.interactive = sys.stderr.isatty()
        self.progress = Progress(label, interactive=self.interactive)
        self._drawn = False
        self._closed = False

    def __call__(self, done: int, total: int | None) -> None:
        line = self.progress.update(done, total)
        if line is None:
            return
        if self.interactive:
            click.echo(f"\r{line}{_CLEAR_LINE}", err=True, nl=False)
            self._drawn = True
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._closed:  # Ctrl-C closes it early, the end of the run again
            return
        self._closed = True
        if self._drawn:
            click.echo(f"\r{_CLEAR_LINE}", err=True, nl=False)
        last = self.progress.finish()
        if last is not None:
            click.echo(last, err=True)


# ANSI "erase to the end of the line": what a redrawn or finished progress line leaves.
_CLEAR_LINE = "\x1b[K"


def _run_with_progress(label: str, work: Callable[[_ProgressLine], Any]) -> Any:
    """Run the coroutine ``work(progress)`` makes, with a progress line on a terminal."""
    import asyncio

    progress = _ProgressLine(label)
    try:
        return asyncio.run(work(progress))
    finally:
        progress.close()


def _echo_warnings(warnings: Sequence[Diagnostic]) -> None:
    for d in warnings:
        click.echo(str(d), err=True)


def _render_plan(
    plan: Plan, verdict: Verdict, fmt: str, settings: Settings, *, saved: Path | None = None
) -> str:
    from reconciler.plan.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(plan, verdict)
    if fmt == "markdown":
        # Markdown leaves out what doesn't fit one comment, and names the full plan.
        return render_markdown(plan, verdict, full_plan=None if saved is None else str(saved))
    return render_text(plan, verdict, color=use_color(settings))


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)
READING = "reading live state"


class _PathArgument(click.Path):
    """A PATH argument: ``''`` is refused (``Path('')`` would be the current directory)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("PATH is empty: give a YAML file or a directory of them", param, ctx)
        return super().convert(value, param, ctx)


PATHS = click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=_PathArgument(path_type=Path)
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
            type=click.IntRange(min=1),
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


def _is_fleet(paths: Sequence[Path], shard: Shard | None, report_dir: Path | None) -> bool:
    """One PATH, without --shard or --report-dir, runs exactly as it always did."""
    return len(paths) > 1 or shard is not None or report_dir is not None


@dataclass
class _Fleet:
    """One command over several accounts: runs each account's use case through
    :func:`reconciler.fleet.run_accounts`, prints each account's output as one group as it
    finishes (text, markdown) or one JSON document at the end, writes the reports, and
    returns the most severe exit code."""

    command: str
    paths: Sequence[Path]
    parallel: int
    shard: Shard | None
    report_dir: Path | None
    fmt: str = "text"
    documents: list[dict[str, Any]] = field(default_factory=list)
    # apply's Ctrl-C: set while the applies run (see _execute for one PATH).
    stop: Stop | None = None

    def accounts(self) -> list[Account]:
        from reconciler.fleet import accounts_of, shard_of

        accounts = accounts_of(self.paths)
        if self.shard is not None:
            accounts = shard_of(accounts, self.shard)
        if (
            self.report_dir is not None
            and self.report_dir.exists()
            and not self.report_dir.is_dir()
        ):
            raise ConfigError(
                f"--report-dir {self.report_dir}: not a directory",
                hint="give --report-dir a directory (it is created if missing)",
            )
        if self.report_dir is not None:
            # Made before any account is read (a shard may have none: its CI job still
            # uploads the directory); a directory that can't be made fails at once.
            try:
                self.report_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ConfigError(
                    f"--report-dir {self.report_dir}: cannot make it: {err.strerror or err}",
                    hint="give --report-dir a directory you can write to",
                ) from None
        return accounts

    def sessions(self, session: Session, accounts: Sequence[Account]) -> dict[str, Session]:
        """Each account's session: with several PATHs its own working directory
        (``.reconciler/accounts/NAME/``: journal, lock, simulated account), with one PATH
        the usual ``.reconciler/``."""
        if len(self.paths) == 1:
            return {a.name: session for a in accounts}
        root = session.settings.workdir
        return {a.name: session.for_account(a.name, a.workdir(root)) for a in accounts}

    def run(
        self,
        accounts: Sequence[Account],
        work: Callable[[Account], Awaitable[Any]],
        code_of: Callable[[Any], int],
        render: Callable[[Any], str],
        *,
        final: bool = True,
        stoppable: bool = False,
    ) -> list[AccountRun[Any]]:
        """Run ``work`` for each account; ``final``: these runs are the accounts' last word
        (reported, and kept for the JSON document), not a first phase (apply's plans).
        ``stoppable``: the applies run under a :class:`~reconciler.apply.applier.Stop`
        (:attr:`stop`): the first Ctrl-C or SIGTERM lets every account finish what is in
        flight and report (the accounts not started yet start nothing), the second stops at
        once."""
        import asyncio
        import dataclasses

        from reconciler.fleet import run_accounts
        from reconciler.report import outcome

        def done(run: AccountRun[Any]) -> AccountRun[Any] | None:
            if final or run.error is not None:
                self.report(run)
            self.show(run, render, final=final or run.error is not None)
            if not final:
                return None  # apply's plans: the second phase needs them
            # Shown and reported: keep the outcome, drop the result (its desired state, plan
            # and report), so memory grows with --parallel, not with the accounts.
            return dataclasses.replace(run, result=None, outcome=outcome(run))

        async def all_accounts() -> list[AccountRun[Any]]:
            going = run_accounts(accounts, work, code_of, parallel=self.parallel, on_done=done)
            if not stoppable:
                return await going
            from reconciler.apply.applier import Stop

            with Stop(on_signal=_told_to_stop) as self.stop:
                return await going

        try:
            return asyncio.run(all_accounts())
        except asyncio.CancelledError:  # the second Ctrl-C: stopped at once
            raise KeyboardInterrupt from None

    def report(self, run: AccountRun[Any]) -> None:
        if self.report_dir is None:
            return
        from reconciler.report import account_report, write_report

        shard = str(self.shard) if self.shard is not None else None
        write_report(account_report(self.command, run, shard=shard), self.report_dir)

    def show(self, run: AccountRun[Any], render: Callable[[Any], str], *, final: bool) -> None:
        """One account's output, as one group (with --format json, the plans apply shows
        before its report go to stderr as text)."""
        import json

        name = run.account.name
        err = run.error
        if self.fmt == "json" and final:
            doc: dict[str, Any] = {"account": name, "exit_code": run.code}
            if err is not None:
                doc["error"] = _error_json(err)
            else:
                doc["result"] = json.loads(render(run.result))
            self.documents.append(doc)
            return
        head = f"## `{name}`" if self.fmt == "markdown" else f"==> {name} ({run.account.path})"
        lines = [head, ""] if self.fmt == "markdown" else [head]
        if err is None:
            for d in getattr(run.result, "warnings", ()):
                lines.append(str(d))
            lines.append(render(run.result).rstrip("\n"))
        elif isinstance(err, ReconcilerError):
            if isinstance(err, ValidationFailed):
                lines.extend(str(d) for d in err.diagnostics)
            lines.append(f"Error: {err.message}")
            if err.hint:
                lines.append(f"  hint: {err.hint}")
        else:
            lines.append(f"Error: internal error: {type(err).__name__}")
        click.echo(redact("\n".join(lines)) + "\n", err=self.fmt == "json")

    def finish(self, runs: Sequence[AccountRun[Any]]) -> int:
        """Print the JSON document (json) and the one-line summary (stderr); the most
        severe exit code."""
        import json

        from reconciler.errors import most_severe

        code = most_severe(r.code for r in runs)
        if self.fmt == "json":
            doc: dict[str, Any] = {
                "accounts": sorted(self.documents, key=lambda d: str(d["account"])),
                "exit_code": code,
            }
            click.echo(redact(json.dumps(doc, indent=2)))
        click.echo(_fleet_summary(self.command, runs, self.shard, code), err=True)
        return code


def _error_json(err: BaseException) -> dict[str, Any]:
    """The ``error`` object of ``--format json`` (``schemas/error.schema.json``), secrets
    masked: one shape for one account and for each account of a fleet."""
    if isinstance(err, ReconcilerError):
        found: dict[str, Any] = json.loads(redact(json.dumps(err.as_json(), default=str)))
        return found
    if isinstance(err, KeyboardInterrupt):
        return {"message": "interrupted", "hint": None}
    return {"message": f"internal error: {type(err).__name__}", "hint": None}


def _fleet_summary(
    command: str, runs: Sequence[AccountRun[Any]], shard: Shard | None, code: int
) -> str:
    from reconciler.report import outcome

    counts = Counter(outcome(r) for r in runs)
    where = f" (shard {shard})" if shard is not None else ""
    changes = "drifted" if command == "drift" else "with changes"
    return (
        f"{command}: {len(runs):,} account{'s' if len(runs) != 1 else ''}{where}: "
        f"{counts['ok']:,} in order, {counts['changes']:,} {changes}, "
        f"{counts['refused']:,} refused, {counts['error']:,} failed; exit {code}."
    )


# --------------------------------------------------------------------------- validate


@cli.command(epilog=docs("docs/commands.md#validate"))
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

    settings = _settings()
    if not _is_fleet(paths, shard, report_dir):
        result = operations.validate(paths[0], simulate=settings.simulate)
        # The loader never quotes a secret; redact() is the last line of defence.
        click.echo(redact(_render_validation(result, fmt, settings)))
        return result.exit_code

    run = _Fleet("validate", paths, parallel, shard, report_dir, fmt)

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


@cli.command(epilog=docs("docs/commands.md#plan"))
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

    settings = _settings()
    if _is_fleet(paths, shard, report_dir):
        lifted = (allow_release, force)
        return _plan_fleet(paths, out, fmt, detailed_exitcode, lifted, parallel, shard, report_dir)
    path = paths[0]
    with open_session(settings) as session:
        result = _run_with_progress(
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
    _echo_warnings(result.warnings)
    click.echo(_render_plan(result.plan, result.verdict, fmt, settings, saved=out))
    if out is not None:
        flags = [f for f, on in (("--allow-release", allow_release), ("--force", force)) if on]
        apply_it = _command(settings, "apply", str(path), "--plan", str(out), *flags)
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

    settings = _settings()
    run = _Fleet("plan", paths, parallel, shard, report_dir, fmt)
    accounts = run.accounts()
    several = len(paths) > 1
    if out is not None and several:
        _out_directory(out, "plan")

    def render(result: PlanResult) -> str:
        text = _render_plan(result.plan, result.verdict, fmt, settings)
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

        runs = run.run(accounts, work, lambda r: r.exit_code(detailed=detailed), render)
    if out is not None and several:
        click.echo(
            f"Saved the plans in {out}; apply them with `reconciler apply PATH... --plan {out}`.",
            err=True,
        )
    return run.finish(runs)


def _out_directory(out: Path, what: str) -> None:
    """``--out DIR`` with several PATHs (one ``what`` per account): DIR is made if missing
    (its parent must exist)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out {out}: with several PATHs --out is a directory (one {what} per account), "
            "and this is a file",
            hint=f"give --out a directory, e.g. --out {what}s/",
        )
    try:
        out.mkdir(mode=0o700, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"--out {out}: cannot make the directory: {err.strerror or err}",
            hint="give --out a directory in an existing, writable one",
        ) from None


@cli.command(epilog=docs("docs/commands.md#apply"))
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

    settings = _settings()
    out_json = fmt == "json"
    # Hints print commands that work as typed: these PATHs, and the flags given.
    lifted = [f for f, on in (("--allow-release", allow_release), ("--force", force)) if on]
    typed = [*map(str, paths), *lifted]
    request = operations.ApplyRequest(
        plan_file=plan_file,
        replan=_command(settings, "plan", *typed, "--out", str(plan_file or "FILE")),
        dry_run=dry_run,
        allow_release=allow_release,
        force=force,
        purchase_wait=purchase_wait,
    )
    _terminate_on_sigterm()  # until the apply runs; then SIGTERM stops it as Ctrl-C does
    if _is_fleet(paths, shard, report_dir):
        fleet_run = _Fleet("apply", paths, parallel, shard, report_dir, fmt)
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
        the_plan = _run_with_progress(
            READING, lambda progress: run.prepare(session, progress=progress)
        )
        assert run.loaded is not None
        _echo_warnings(run.loaded.warnings)
        assert run.verdict is not None
        click.echo(_render_plan(the_plan, run.verdict, "text", settings), err=out_json)
        if not run.check():
            if out_json:
                click.echo(render_report_json(run.empty_report()))
            return 0
        # A saved plan was reviewed when it was made (and is refused if anything changed
        # since): like Terraform's `apply PLANFILE`, it doesn't ask again.
        asks = not (dry_run or yes or plan_file is not None or the_plan.is_empty)
        if asks and not _confirm([(the_plan, run.verdict)], typed=typed):
            return EXIT_ERROR
        report = _run_with_progress("applying", lambda progress: _execute(run, session, progress))
    if out_json:
        click.echo(render_report_json(report))
    else:
        click.echo("")
        click.echo(render_report_text(report, color=use_color(settings)))
    again = _command(settings, "apply", *typed, *(["--yes"] if yes else []))
    failure = operations.apply_failure(report, again=again)
    if failure is not None:
        raise failure
    return 0


async def _execute(run: operations.ApplyRun, session: Session, progress: _ProgressLine) -> Any:
    """``run.execute`` under a :class:`~reconciler.apply.applier.Stop`: the first Ctrl-C or
    SIGTERM lets the calls in flight finish and reports (exit 130), the second stops at once."""
    from reconciler.apply.applier import Stop

    def told(name: str, first: bool) -> None:
        progress.close()
        _told_to_stop(name, first)

    with Stop(on_signal=told) as stop:
        return await run.execute(session, progress=progress, stop=stop)


def _told_to_stop(name: str, first: bool) -> None:
    """What apply says when Ctrl-C or SIGTERM asks it to stop (see Stop)."""
    from reconciler.apply.applier import STOP_GRACE_S

    if first:
        click.echo(
            f"\n{name}: stopping. Nothing new starts; waiting up to {STOP_GRACE_S:g} s for the "
            "calls in flight to finish (press Ctrl-C again to stop at once).",
            err=True,
        )
    else:
        click.echo(f"{name}: stopping at once.", err=True)


def _command(settings: Settings, *words: str) -> str:
    """A reconciler command line that works as typed (``--simulate`` kept, paths quoted)."""
    import shlex

    line = ["reconciler", *words]
    if settings.simulate:
        line.append("--simulate")
    return shlex.join(line)


def _apply_fleet(run: _Fleet, request: ApplyRequest, *, yes: bool, typed: list[str]) -> int:
    """apply over several accounts: take each account's lock, plan them all (shown as they
    come), ask once, apply each (its report shown as it finishes)."""
    import contextlib
    import dataclasses
    import time

    from reconciler import operations
    from reconciler.apply.report import render_report_json, render_report_text
    from reconciler.fleet import AccountRun

    settings = _settings()
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

        def render_plan(one: operations.ApplyRun) -> str:
            assert one.plan is not None and one.verdict is not None
            return _render_plan(one.plan, one.verdict, "text", settings)

        planned = run.run(ready, prepare, lambda _one: 0, render_plan, final=False)
        runs += [r for r in planned if r.error is not None]
        to_apply = [r.account for r in planned if r.error is None]
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
    from reconciler.errors import ConfigError

    if not sys.stdin.isatty():
        with_yes = _command(_settings(), "apply", *typed, "--yes")
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


@cli.command(epilog=docs("docs/commands.md#drift"))
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
    from reconciler.drift.render import render_json, render_markdown, render_text

    settings = _settings()
    if _is_fleet(paths, shard, report_dir):
        return _drift_fleet(paths, fmt, ignore, fail_on_unmanaged, out, parallel, shard, report_dir)
    path = paths[0]
    if out is not None:
        _check_report_target(out)  # before the read: a wrong --out should not cost one
    with open_session(settings) as session:
        result = _run_with_progress(
            READING,
            lambda progress: operations.drift(session, path, ignore=ignore, progress=progress),
        )
    _echo_warnings(result.warnings)
    report = result.report
    if out is not None:
        _write_report(out, redact(render_json(report) + "\n"))
    if fmt == "json":
        text = render_json(report) + "\n"
    elif fmt == "markdown":
        text = render_markdown(report, full_report=None if out is None else str(out))
    else:
        text = render_text(report, color=use_color(settings)) + "\n"
    # Secrets are masked by type in the report; redact() is the last line of defence.
    click.echo(redact(text), nl=False)
    code: int = result.exit_code(fail_on_unmanaged=fail_on_unmanaged)
    return code


def _check_report_target(path: Path) -> None:
    from reconciler.errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"--out {path} is a directory", hint="give --out a file name")
    if not path.parent.is_dir():
        raise ConfigError(
            f"--out {path}: the directory {path.parent} does not exist",
            hint="create the directory first, or give --out a path in an existing one",
        )


def _write_report(path: Path, text: str) -> None:
    """Write a report file (it holds no secret: every value is masked)."""
    from reconciler.errors import ConfigError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"cannot write {path}: {err.strerror or err}",
            hint="give --out a path in a directory you can write to",
        ) from None


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
    from reconciler.drift.render import render_json, render_markdown, render_text

    settings = _settings()
    run = _Fleet("drift", paths, parallel, shard, report_dir, fmt)
    accounts = run.accounts()
    several = len(paths) > 1
    if out is not None:
        if several:
            _out_directory(out, "report")
        else:
            _check_report_target(out)

    def full_report(account: Account) -> Path | None:
        if out is None:
            return None
        return out / f"{account.name}.drift.json" if several else out

    def render(result: DriftResult) -> str:
        report = result.report
        if fmt == "json":
            return render_json(report) + "\n"
        if fmt == "markdown":
            return render_markdown(report)
        return render_text(report, color=use_color(settings)) + "\n"

    with open_session(settings) as session:
        sessions = run.sessions(session, accounts)

        async def work(account: Account) -> DriftResult:
            result = await operations.drift(sessions[account.name], account.path, ignore=ignore)
            target = full_report(account)
            if target is not None:
                _write_report(target, redact(render_json(result.report) + "\n"))
            return result

        runs = run.run(
            accounts, work, lambda r: r.exit_code(fail_on_unmanaged=fail_on_unmanaged), render
        )
    return run.finish(runs)


# --------------------------------------------------------------------------- report


@cli.command(epilog=docs("docs/fleet.md#reports"))
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
        _write_public(metrics, reports.render_metrics(summary))
    if junit is not None:
        _write_public(junit, reports.render_junit(summary))
    if fmt == "json":
        click.echo(reports.render_json(summary), nl=False)
    elif fmt == "markdown":
        click.echo(reports.render_markdown(summary), nl=False)
    else:
        click.echo(reports.render_text(summary), nl=False)
    return summary.exit_code


def _write_public(path: Path, text: str) -> None:
    """Write a file a command was asked for (whole or not at all; readable by others: a
    textfile collector, a CI uploader)."""
    from reconciler.storage import write_atomic

    try:
        write_atomic(path, text.encode(), mode=0o644)
    except OSError as err:
        raise ConfigError(
            f"cannot write {path}: {err.strerror or err}",
            hint="give a path in an existing directory you can write to",
        ) from None


# --------------------------------------------------------------------------- export


@cli.command(epilog=docs("docs/commands.md#export"))
@click.argument("account", type=_PathArgument(path_type=Path))
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

    settings = _settings()
    numbers = normalise_relay_numbers(relay_numbers)
    if relay_numbers_from is not None:
        numbers += _relay_numbers_from(relay_numbers_from)
    with open_session(settings) as session:
        outcome = _run_with_progress(
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
    from reconciler.errors import ConfigError
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


@cli.command(epilog=docs("docs/commands.md#schema"))
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
    _write_report(out, text)
    click.echo(f"Wrote {out}.", err=True)
    return 0


# --------------------------------------------------------------------------- doctor


@cli.command(epilog=docs("docs/doctor.md"))
@click.argument("account", type=_PathArgument(path_type=Path))
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

    settings = _settings()
    with open_session(settings) as session:
        report = _run_with_progress(
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


@cli.group(epilog=docs("docs/simulator.md"))
@local_options
def simulator() -> None:
    """The Aculab Cloud + aql simulator: a local stand-in for both APIs, for tests and demos."""


@simulator.command("serve", epilog=docs("docs/simulator.md"))
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
    "--rate-limit",
    type=float,
    default=None,
    metavar="N",
    help="Requests a second each vendor (Aculab, aql) accepts; past it, 429 with Retry-After.",
)
@click.option(
    "--rate-limit-burst",
    type=float,
    default=None,
    metavar="N",
    help="Requests the rate limit lets through at once (default: one second's worth).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Switch a fault on (repeatable): error_rate=[GLOB:]RATE, rate_limit=[GLOB:]RATE, "
    "rate_limit_per_s=N, rate_limit_burst=N, "
    "garbage_rate=[GLOB:]RATE, retry_after_s=N, error_statuses=500,503, "
    "lost_purchase_reply=drop|stall, lost_purchase_rate=R, lost_purchase_limit=N, "
    "stall_s=S, list_lag_s=S, seed=N.",
)
@click.option(
    "--dialect",
    "dialect_modes",
    multiple=True,
    metavar="MODE",
    help="Play an alternative the vendor pages leave open (repeatable): no-schema-defaults, "
    "aql-star, inbound-array, inbound-keyed, html-errors, normalise, all. "
    "Default: RECONCILER_SIMULATOR_DIALECT, else the documented behaviour.",
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
@click.option(
    "--account",
    "hosted",
    multiple=True,
    metavar="NAME",
    help="Host another account NAME too (repeatable), with its own credentials (printed) and "
    "state (next to --state, as STATE.NAME.json): a fleet in one process.",
)
@local_options
@command
def serve(
    port: int,
    state_file: Path | None,
    seed: str,
    rng_seed: int,
    latency_ms: float,
    latency_jitter_ms: float,
    rate_limit: float | None,
    rate_limit_burst: float | None,
    fault_specs: tuple[str, ...],
    dialect_modes: tuple[str, ...],
    cloud_id: str,
    username: str,
    api_key: str,
    aql_username: str,
    aql_password: str,
    hosted: tuple[str, ...],
) -> None:
    """Serve the simulator over HTTP on 127.0.0.1 until Ctrl-C.

    Both APIs share the port: Aculab Cloud's paths at the root, the aql relay gateway at
    /sms/sms-relay.api.php. It prints its URLs, its (test) credentials and the `aculab:`/`aql:`
    sections of a desired-state file that points at it.
    """
    import contextlib

    from reconciler.simulator import Dialect, Faults, SimCredentials, Simulator

    ctx = click.get_current_context()
    for name, value in (("--rate-limit", rate_limit), ("--rate-limit-burst", rate_limit_burst)):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise click.BadParameter(
                f"{value:g} is not a number of requests a second (a finite number above 0)",
                ctx=ctx,
                param_hint=f"'{name}'",
            )
    faults = Faults.from_specs(
        fault_specs,
        Faults(
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            rate_limit_per_s=rate_limit or 0.0,
            rate_limit_burst=rate_limit_burst,
        ),
    )
    credentials = SimCredentials(
        cloud_id=cloud_id,
        username=username,
        api_key=api_key,
        aql_username=aql_username,
        aql_password=aql_password,
    )
    dialect = Dialect.from_modes(dialect_modes) if dialect_modes else None
    sim = Simulator(
        seed=seed,
        credentials=credentials,
        state_file=state_file,
        faults=faults,
        rng_seed=rng_seed,
        dialect=dialect,
    )
    for name in hosted:
        own = None
        if state_file is not None:
            own = state_file.with_name(f"{state_file.stem}.{name}{state_file.suffix}")
        try:
            sim.add_account(name, seed=seed, state_file=own)
        except ValueError as err:
            raise ConfigError(
                f"--account {name}: {err}", hint="give each --account a different NAME"
            ) from None

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
    from reconciler.secret import Redactor

    # One redactor per command: every secret the command meets is masked in all it prints,
    # errors included.
    with Redactor().active():
        _main()


def _main() -> None:
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
    except (ReconcilerError, KeyboardInterrupt) as err:  # raised outside a command's body
        _exit_on(err)
    except Exception as err:  # the last guard: report, never a bare traceback
        if os.environ.get("RECONCILER_DEBUG"):
            raise
        # Only the type: an exception's text could carry a value we must not print.
        click.echo(f"Error: internal error: {type(err).__name__}", err=True)
        click.echo("  hint: set RECONCILER_DEBUG=1 and report the traceback", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else 0)
