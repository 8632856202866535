"""The use cases: validate, plan, apply, drift and export one account.

Each takes parsed options and returns a result object. None prints, prompts, or exits: the
command line (:mod:`reconciler.cli`) renders what they return and maps the
:class:`~reconciler.errors.ReconcilerError` they raise to its exit code, in one place. The
fleet (:mod:`reconciler.fleet`) runs the same use cases for many accounts at once.

Reads and applies are coroutines: one account runs under ``asyncio.run``, a fleet runs many
on one event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from reconciler.apply.applier import ApplyOptions, ApplyReport, Stop, apply_plan
from reconciler.apply.freshness import check_saved_plan
from reconciler.apply.journal import JOURNAL_NAME, Journal, account_of
from reconciler.apply.lock import LOCK_NAME, ApplyLock, LockInfo
from reconciler.apply.ports import NoAculabAccount
from reconciler.apply.purchases import pool_ledgers
from reconciler.apply.report import failure_hint, failure_message
from reconciler.apply.schemas import ServiceSchemas, check_plan_bodies
from reconciler.desired import LoadResult, load
from reconciler.desired.accounts import load_accounts
from reconciler.desired.model import DesiredState
from reconciler.drift import DriftReport, detect_drift, parse_rules
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    ApplyFailed,
    ApplyInterrupted,
    ConfigError,
    Diagnostic,
    PlanFileError,
    StalePlanError,
    ValidationFailed,
)
from reconciler.export import (
    ExportResult,
    build_export,
    normalise_relay_numbers,
    other_yaml_files,
    write_export,
)
from reconciler.live.model import LiveState
from reconciler.live.progress import ProgressCallback
from reconciler.live.reader import read_account
from reconciler.plan.bodies import bodies_to_write, check_shipped
from reconciler.plan.changes import Plan, Purchase
from reconciler.plan.planner import make_plan
from reconciler.plan.safety import Verdict, check_safety, enforce_safety
from reconciler.plan.saved import (
    PlanAccount,
    SavedPlan,
    check_account,
    check_plan_target,
    load_saved,
    save_plan,
)
from reconciler.session import Session, check_workdir

Progress = ProgressCallback

__all__ = [
    "ApplyRequest",
    "ApplyResult",
    "ApplyRun",
    "DriftResult",
    "ExportOutcome",
    "PlanResult",
    "Validation",
    "drift",
    "export",
    "plan",
    "read_live",
    "validate",
]


# --------------------------------------------------------------------------- validate


@dataclass(frozen=True, repr=False)
class Validation:
    """The outcome of ``validate``: every diagnostic (errors and warnings, in file order) and
    the desired state when there was no error."""

    path: Path
    diagnostics: Sequence[Diagnostic]
    state: DesiredState | None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.state is not None else EXIT_ERROR


def validate(
    path: Path, *, simulate: bool = False, environ: dict[str, str] | None = None
) -> Validation:
    """Check ``path`` offline. An invalid desired state is a result here, not an error: the
    caller shows every diagnostic."""
    try:
        loaded = load(path, environ=environ, simulate=simulate)
    except ValidationFailed as err:
        return Validation(path, err.diagnostics, None)
    # The service bodies, against the schema copies reconciler ships (the server's decides).
    refused = check_shipped(loaded.state)
    if refused:
        found = sorted([*loaded.warnings, *refused], key=lambda d: (d.file, d.line, d.column))
        return Validation(path, found, None)
    return Validation(path, loaded.warnings, loaded.state)


# --------------------------------------------------------------------------- plan


async def read_live(
    session: Session,
    desired: DesiredState,
    progress: Progress | None,
    workdir: Path | None = None,
    *,
    fingerprint: bool = True,
) -> LiveState:
    """Read the live account ``desired`` needs, through the session's clients, with what the
    journal of ``workdir`` (default: the session's) says was bought (:func:`with_ledger`).
    ``fingerprint``: the snapshot may back a saved plan (drift's never does)."""
    async with session.clients(desired) as (aculab, aql):
        live = await session.read_live(
            desired, aculab, aql, progress=progress, fingerprint=fingerprint
        )
    return with_ledger(live, desired, workdir or session.settings.workdir)


def with_ledger(live: LiveState, desired: DesiredState, workdir: Path) -> LiveState:
    """``live`` with the purchase ledger of the journal in ``workdir`` (read only; no
    journal, no ledger): plan, drift and apply count the numbers bought and not listed yet,
    and see the purchases whose outcome is unknown, alike (reconciler/apply/purchases.py)."""
    view = Journal(workdir / JOURNAL_NAME).view(account_of(desired))
    if not view.bought and not view.unresolved:
        return live
    return dataclasses.replace(live, ledger=pool_ledgers(view, desired, live.numbers))


async def check_bodies(
    session: Session, desired: DesiredState, live: LiveState, the_plan: Plan
) -> LiveState:
    """Every body ``the_plan`` would write, against the server's schema (raises
    :class:`~reconciler.errors.PlanError` naming each refused key); ``live`` with the
    schemas this read, so that apply reads none again."""
    bodies = bodies_to_write(the_plan, desired, live)
    if not bodies:
        return live
    async with session.clients(desired) as (aculab, _aql):
        schemas = ServiceSchemas(
            aculab if aculab is not None else NoAculabAccount(), live.service_schemas
        )
        await check_plan_bodies(bodies, schemas)
    return dataclasses.replace(live, service_schemas=dict(schemas.known))


@dataclass(frozen=True, repr=False)
class PlanResult:
    """A plan of one account, and the verdict of the safety rules on it as ``apply`` with
    the same flags would see it."""

    loaded: LoadResult
    plan: Plan
    verdict: Verdict
    saved_to: Path | None = None

    @property
    def refusals(self) -> tuple[str, ...]:
        """Every reason ``apply`` with the same flags would refuse the plan (a blocked
        release included)."""
        return self.verdict.messages

    @property
    def warnings(self) -> Sequence[Diagnostic]:
        return self.loaded.warnings

    @property
    def blocked(self) -> tuple[str, ...]:
        """The pools apply would refuse to buy for: an earlier purchase for each has an
        unknown outcome (reconciler/apply/purchases.py)."""
        return tuple(p.pool for p in self.plan.of(Purchase) if p.blocked)

    def exit_code(self, *, detailed: bool) -> int:
        """3 when apply would refuse the plan (the plan's code predicts apply's), else 1 when
        apply would refuse to buy for a pool (:attr:`blocked`), else 2 for pending changes
        with ``detailed``, else 0."""
        if self.refusals:
            return EXIT_REFUSED
        if self.blocked:
            return EXIT_ERROR
        if detailed and not self.plan.is_empty:
            return EXIT_CHANGES
        return EXIT_OK


def plan_account(session: Session, desired: DesiredState) -> PlanAccount:
    """The account this session's clients talk to, as a saved plan records it."""
    aculab, aql = session.accounts(desired)
    return PlanAccount.of(aculab, aql, simulated=session.simulator is not None)


async def plan(
    session: Session,
    path: Path,
    *,
    out: Path | None = None,
    allow_release: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> PlanResult:
    """Load ``path``, read its account and plan; save the plan to ``out`` when given. The
    verdict is apply's under the same flags (``allow_release``, ``force``), so the plan's
    exit code predicts apply's."""
    if out is not None:
        # Before the read: a wrong --out should not cost a read of the whole account.
        check_plan_target(out)
    loaded = session.load(path)
    live = await read_live(session, loaded.state, progress)
    the_plan = make_plan(loaded.state, live)
    await check_bodies(session, loaded.state, live, the_plan)
    if out is not None:
        save_plan(the_plan, out, account=plan_account(session, loaded.state))
    verdict = check_safety(the_plan, loaded.state.safety, allow_release=allow_release, force=force)
    return PlanResult(loaded, the_plan, verdict, out)


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True, repr=False)
class DriftResult:
    """The drift of one account (see :mod:`reconciler.drift`)."""

    loaded: LoadResult
    report: DriftReport

    @property
    def warnings(self) -> Sequence[Diagnostic]:
        return self.loaded.warnings

    def exit_code(self, *, fail_on_unmanaged: bool = False) -> int:
        return self.report.exit_code(fail_on_unmanaged=fail_on_unmanaged)


async def drift(
    session: Session,
    path: Path,
    *,
    ignore: Sequence[str] = (),
    progress: Progress | None = None,
) -> DriftResult:
    """What changed on the account by hand. Read-only."""
    parse_rules(ignore)  # a bad rule fails before any call to the account
    loaded = session.load(path)
    # Drift's plan is never saved: no fingerprints (read_live, make_plan).
    live = await read_live(session, loaded.state, progress, fingerprint=False)
    the_plan = make_plan(loaded.state, live, fingerprint=False)
    return DriftResult(loaded, detect_drift(the_plan, [*loaded.state.drift_ignore, *ignore]))


# --------------------------------------------------------------------------- apply


@dataclass(frozen=True)
class ApplyRequest:
    """The options of one apply."""

    plan_file: Path | None = None
    # The command that makes a new plan for ``plan_file``, as the user would type it: what
    # the hint of a refused saved plan tells them to run.
    replan: str = "reconciler plan PATH --out FILE"
    dry_run: bool = False
    allow_release: bool = False
    force: bool = False
    purchase_wait: float = 30.0
    # Pools whose purchases of unknown outcome the user has checked: forget them (journalled).
    forget_purchase: tuple[str, ...] = ()


@dataclass(repr=False)
class ApplyRun:
    """One apply of one account, in steps a caller can show and confirm in between::

        with ApplyRun(path, request, workdir) as run:   # takes the account's lock
            await run.prepare(session)  # load, read, plan (and check a saved plan)
            if run.check():             # safety rules (raises SafetyRefusal); anything to do?
                report = await run.execute(session)

    The lock and the journal live in ``workdir`` and are held from the plan to the end, so
    no other apply of the account runs in between. The lock is taken before the session
    opens: under ``--simulate`` a second apply must not start a simulator on the same state.
    """

    path: Path
    request: ApplyRequest
    workdir: Path
    loaded: LoadResult | None = None
    live: LiveState | None = None
    plan: Plan | None = None
    verdict: Verdict | None = None
    journal: Journal | None = None
    _saved: SavedPlan | None = None
    _lock: ApplyLock | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> ApplyRun:
        if self.request.plan_file is not None:
            try:
                self._saved = load_saved(self.request.plan_file)
            except PlanFileError as err:
                # The hint names the command as the user would type it (PATH, FILE, flags).
                err.hint = f"make a plan with `{self.request.replan}`, review it, then apply it"
                raise
        check_workdir(self.workdir)
        self._lock = self._stack.enter_context(ApplyLock(self.workdir / LOCK_NAME))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.journal is not None:
            self.journal.close()
        self._stack.close()

    @property
    def took_over(self) -> LockInfo | None:
        """The stale lock this run took over (its holder no longer runs), if any."""
        return self._lock.took_over if self._lock is not None else None

    async def prepare(self, session: Session, progress: Progress | None = None) -> Plan:
        """Load the desired state, read the account, plan; refuse a saved plan that no longer
        matches (:class:`~reconciler.errors.StalePlanError`)."""
        self.loaded = session.load(self.path)
        desired = self.loaded.state
        r = self.request
        if self._saved is not None:
            # Before the read: a plan made for another account is refused at once.
            check_account(
                self._saved,
                plan_account(session, desired),
                source=str(self.request.plan_file),
                replan=self.request.replan,
            )
        forget = self.request.forget_purchase
        unknown_pools = sorted(set(forget) - set(desired.pools))
        if unknown_pools:
            raise ConfigError(
                f"--forget-purchase names {', '.join(unknown_pools)}, which the desired state "
                "declares no pool of",
                hint="name a pool of the desired state (`reconciler plan` shows the pools "
                "blocked by a purchase whose outcome is unknown)",
            )
        self.live = await read_live(session, desired, progress, self.workdir)
        if forget and not r.dry_run:
            # The user checked the account: the plan buys for these pools (apply journals the
            # decision before anything is bought).
            ledger = {
                pool: dataclasses.replace(entry, unknown=()) if pool in forget else entry
                for pool, entry in self.live.ledger.items()
            }
            self.live = dataclasses.replace(self.live, ledger=ledger)
        self.plan = make_plan(desired, self.live)
        if self._saved is not None:
            try:
                check_saved_plan(self._saved.plan, self.plan, self.live)
            except StalePlanError as err:
                err.hint = f"make a new plan with `{self.request.replan}`, review it, then apply it"
                raise
        # Before anything is bought: a body the server would refuse stops the apply here.
        self.live = await check_bodies(session, desired, self.live, self.plan)
        self.verdict = check_safety(
            self.plan, desired.safety, allow_release=r.allow_release, force=r.force
        )
        return self.plan

    def check(self) -> bool:
        """Enforce the safety rules (raises :class:`~reconciler.errors.SafetyRefusal`) and
        open the journal. True when there is anything to apply: changes, or purchases an
        interrupted earlier run left unsettled (a dry run never settles those)."""
        assert self.plan is not None and self.verdict is not None, "prepare() first"
        enforce_safety(self.verdict)
        self.journal = Journal(self.workdir / JOURNAL_NAME)
        assert self.loaded is not None
        view = self.journal.view(account_of(self.loaded.state))
        unsettled = bool(view.unresolved) and not self.request.dry_run
        return not self.plan.is_empty or unsettled

    def empty_report(self) -> ApplyReport:
        """The report of a run with nothing to do."""
        assert self.journal is not None, "check() first"
        return ApplyReport(run_id=self.journal.run_id, dry_run=self.request.dry_run)

    async def execute(
        self, session: Session, *, progress: Progress | None = None, stop: Stop | None = None
    ) -> ApplyReport:
        """Apply the plan (a dry run journals nothing); ``stop`` lets Ctrl-C end it well."""
        assert self.plan is not None and self.loaded is not None and self.journal is not None
        r = self.request
        options = ApplyOptions(
            dry_run=r.dry_run,
            allow_release=r.allow_release,
            concurrency=session.settings.concurrency,
            purchase_wait=r.purchase_wait,
            forget_purchase=r.forget_purchase,
        )
        desired = self.loaded.state
        async with session.clients(desired) as (aculab, aql):
            return await apply_plan(
                self.plan,
                desired,
                # An aql customer's plan never touches Aculab (reconciler/apply/ports.py).
                aculab if aculab is not None else NoAculabAccount(),
                aql,
                options=options,
                journal=None if r.dry_run else self.journal,
                live=self.live,
                progress=progress,
                stop=stop,
            )


@dataclass(frozen=True, repr=False)
class ApplyResult:
    """An apply of one account of a fleet: the plan, its verdict, and what was done (an
    empty report when there was nothing to do)."""

    loaded: LoadResult
    plan: Plan
    verdict: Verdict
    report: ApplyReport

    @property
    def warnings(self) -> Sequence[Diagnostic]:
        return self.loaded.warnings

    @property
    def exit_code(self) -> int:
        if self.report.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if self.report.ok else EXIT_ERROR


def apply_failure(report: ApplyReport, *, again: str = "reconciler apply") -> ApplyFailed | None:
    """The error of a run in which anything failed or was skipped (exit 1), else None. Its
    hint says to run ``again`` (the command as typed) only where a re-run can help."""
    if report.interrupted:
        return ApplyInterrupted(
            failure_message(report),
            report=report,
            hint=f"run `{again}` again: it plans from the account as it is now and does what "
            "this run did not get to",
        )
    if report.ok:
        return None
    return ApplyFailed(
        failure_message(report), report=report, hint=failure_hint(report, again=again)
    )


# --------------------------------------------------------------------------- export


@dataclass(frozen=True, repr=False)
class ExportOutcome:
    """An export: the YAML (``result.files``), the files written (with ``--out``) and other
    YAML files already in that directory (a directory load merges them too)."""

    result: ExportResult
    written: Sequence[Path] = ()
    others: Sequence[Path] = ()


async def export(
    session: Session,
    account: Path,
    *,
    out: Path | None = None,
    relay_numbers: Sequence[str] = (),
    pools: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportOutcome:
    """Read the account that the ACCOUNT file names (or the simulator's, under
    ``--simulate``) and build the export; write it into ``out`` when given. Reads only;
    a failed read fails it, so a partial account is never written."""
    accounts = load_accounts(account, environ=session.environ, simulate=session.settings.simulate)
    desired = DesiredState(aculab=accounts.aculab, aql=accounts.aql)
    aculab_account, _ = session.accounts(desired)
    numbers = normalise_relay_numbers(relay_numbers)
    async with session.clients(desired) as (aculab, aql):
        snapshot = await read_account(
            aculab,
            aql,
            relay_numbers=numbers,
            concurrency=session.settings.concurrency,
            progress=progress,
        )
    source = (
        f"Aculab Cloud account {aculab_account.basic_username}"
        if aculab_account is not None
        else f"aql account {accounts.aql.username if accounts.aql else ''}"
    )
    if session.simulator is not None:
        source += " (the embedded simulator)"
    result = build_export(
        snapshot,
        accounts.raw,
        pools=pools,
        split=out is not None,
        source=source,
        simulate=session.simulator is not None,
    )
    if out is None:
        return ExportOutcome(result)
    written = write_export(result, out, overwrite=overwrite)
    return ExportOutcome(result, written, other_yaml_files(out, written))
