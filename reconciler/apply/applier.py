"""Execute a Plan: in order, concurrently where independent, journalled, never half-told.

:func:`apply_plan` runs the plan's changes in the order of docs/commands.md, Apply, in four waves:

1. **purchases** (one per pool short of its count; see :mod:`reconciler.apply.purchases`);
2. **service creates and updates**, the inbound service of every number just bought (PUT, the
   pool's ``inbound`` configuration, named by the number), and **relay routes** (aql: another
   API, independent of the services);
3. **service deletes**;
4. **releases**, all in ONE ``tel_delete_numbers`` call, reported number by number.

Within a wave, changes run concurrently, at most ``concurrency`` at once. A change whose
prerequisite failed is skipped, not attempted:

- the inbound service of a new number depends on the purchase that buys it (a purchase that
  bought 2 of 3 gets 2 services, and the third is reported skipped);
- the release of a number depends on the deletion of its inbound service, when the plan
  deletes it (a number is never released while its service may outlive it);
- releases need ``allow_release`` (irreversible); without it they are skipped as blocked;
- the deletion of the inbound service named by a number that the purchase wave found at a
  pool's location is skipped (the plan was made while the list lagged behind an earlier
  purchase, so the number looked like no pool's).

Everything else is independent: a failure is reported with the API's reason and the run goes
on. Every write is journalled (intent before, outcome after). A dry run writes nothing: the
purchases go to ``tel_purchase_development``, every service body is checked against the
server's schema, and the report says what would have happened.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.apply.journal import (
    FAILED,
    SUCCEEDED,
    UNKNOWN,
    Journal,
    JournalView,
    PurchaseIntent,
    account_of,
    new_id,
)
from reconciler.apply.ports import AculabApi, AqlApi
from reconciler.apply.purchases import (
    PurchasePolicy,
    Purchaser,
    PurchaseResult,
    describe_error,
    is_outcome_unknown,
    when,
)
from reconciler.apply.remedy import remedy_of
from reconciler.apply.schemas import ServiceSchemas
from reconciler.configuration import deep_merge
from reconciler.desired.model import DesiredState, Location, ServiceSpec
from reconciler.errors import ApiError, NotFoundError, ReconcilerError
from reconciler.live.model import LiveState
from reconciler.plan.bodies import declaration
from reconciler.plan.changes import (
    CreateService,
    DeleteService,
    ModifyRelay,
    Plan,
    Purchase,
    Release,
    UpdateService,
    public,
)
from reconciler.plan.planner import expected_defaults, stored_differs
from reconciler.secret import redact
from reconciler.workpool import Lane, run_bounded

Status = Literal["succeeded", "failed", "skipped"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    """How to apply.

    ``purchase_wait``: after a purchase whose outcome is unknown, apply re-lists for up to
    this long for the numbers it may have bought; a listing with nothing new proves nothing,
    so the purchase stays unknown and blocks its pool (reconciler/apply/purchases.py).
    ``purchase_attempts``: the most purchase calls one pool's shortfall may take in a run
    (the second only after a re-list showed part of the first bought).
    """

    dry_run: bool = False
    allow_release: bool = False
    concurrency: int = 16
    purchase_wait: float = 30.0
    purchase_attempts: int = 2
    # Pools whose purchases of unknown outcome the user, having checked the account, says
    # bought nothing (``--forget-purchase POOL``): journalled, then the pool may buy again.
    forget_purchase: tuple[str, ...] = ()

    def purchase_policy(self) -> PurchasePolicy:
        return PurchasePolicy(wait=self.purchase_wait, attempts=self.purchase_attempts)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What happened to one change.

    ``action``: ``purchase`` | ``create`` | ``update`` | ``delete`` | ``relay`` | ``release``.
    ``detail``: what was done (or, in a dry run, would be). ``reason``: why it failed (the
    API's words) or was skipped. ``differences``: after a service write, each field the
    server stored otherwise than the plan expected, and what to declare or ignore (the next
    plan would otherwise plan the same change again). ``retry``: for a failure, whether
    running apply again (unchanged) can help (:mod:`reconciler.apply.remedy`).
    """

    address: str
    action: str
    status: Status
    detail: str = ""
    reason: str | None = None
    numbers: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    retry: bool | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "action": self.action,
            "status": self.status,
            "detail": self.detail,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.numbers:
            out["numbers"] = list(self.numbers)
        if self.differences:
            out["differences"] = list(self.differences)
        if self.retry is not None:
            out["retry"] = self.retry
        return out


@dataclass(frozen=True, slots=True)
class UnknownPurchase:
    """A purchase whose outcome is unknown: it may have bought ``quantity`` numbers at
    ``location`` for ``pool`` (``since``: when it was announced, for people)."""

    pool: str
    location: str
    quantity: int
    since: str

    @classmethod
    def of(cls, intent: PurchaseIntent) -> UnknownPurchase:
        return cls(intent.pool, str(intent.location), intent.quantity, when(intent))

    def describe(self) -> str:
        return f"pool {self.pool}: {self.quantity} at {self.location} ({self.since})"

    def as_json(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "location": self.location,
            "quantity": self.quantity,
            "since": self.since,
        }


@dataclass
class ApplyReport:
    """The outcome of one apply: every change's result, in plan order, and notes (recovered
    purchases, numbers that appeared, what an interrupted earlier run left behind)."""

    run_id: str
    dry_run: bool
    results: list[ChangeResult] = field(default_factory=list)
    bought: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    purchase_calls: int = 0
    # Purchases whose outcome is unknown when the run ended (a lost reply, a call in flight
    # when it was stopped, an earlier run's still unsettled): money possibly spent, told first.
    unknown_purchases: list[UnknownPurchase] = field(default_factory=list)
    # "SIGINT"/"SIGTERM" when the run was asked to stop: nothing new was started after it.
    interrupted: str | None = None
    stopped_at_once: bool = False  # a second signal, or the grace's end: results are partial

    def with_status(self, status: Status) -> list[ChangeResult]:
        return [r for r in self.results if r.status == status]

    @property
    def succeeded(self) -> list[ChangeResult]:
        return self.with_status("succeeded")

    @property
    def failed(self) -> list[ChangeResult]:
        return self.with_status("failed")

    @property
    def skipped(self) -> list[ChangeResult]:
        return self.with_status("skipped")

    @property
    def ok(self) -> bool:
        """True when every change succeeded (nothing failed, nothing skipped)."""
        return not self.failed and not self.skipped

    def counts(self) -> dict[str, int]:
        return {
            "succeeded": len(self.succeeded),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": "succeeded" if self.ok else "failed",
            "summary": self.counts(),
            "results": [r.as_json() for r in self.results],
            "bought": {pool: list(nums) for pool, nums in self.bought.items()},
            "notes": list(self.notes),
            "interrupted": self.interrupted,
            "unknown_purchases": [u.as_json() for u in self.unknown_purchases],
        }


# --------------------------------------------------------------------------- the engine


class _Run:
    """One apply run: shared state of the waves."""

    def __init__(
        self,
        plan: Plan,
        desired: DesiredState,
        aculab: AculabApi,
        aql: AqlApi | None,
        options: ApplyOptions,
        journal: Journal | None,
        live: LiveState | None,
        progress: Progress | None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.plan = plan
        self.desired = desired
        self.aculab = aculab
        self.aql = aql
        self.options = options
        self.journal = journal
        self.live = live
        self.progress = progress
        self.report = ApplyReport(
            run_id=journal.run_id if journal is not None else new_id(), dry_run=options.dry_run
        )
        self.view = journal.view(account_of(desired)) if journal is not None else JournalView()
        self.purchaser = Purchaser(
            aculab, journal, self.view, policy=options.purchase_policy(), desired=desired
        )
        self.stop = stop if stop is not None else asyncio.Event()
        self.schemas = ServiceSchemas(aculab, live.service_schemas if live else None)
        self._defaults: dict[str, dict[str, Any] | None] = {}
        self._done = 0
        # Every change, plus the inbound service of each number a purchase will bring.
        self._total = len(plan.changes) + sum(
            p.quantity for p in plan.of(Purchase) if p.inbound is not None
        )

    # ----------------------------------------------------------------- helpers

    def _tick(self, n: int = 1) -> None:
        self._done += n
        if self.progress is not None:
            self.progress(min(self._done, self._total), self._total)

    async def record(self, event: str, **fields: Any) -> None:
        if self.journal is not None and not self.options.dry_run:
            await asyncio.to_thread(self.journal.record, event, **fields)

    def record_later(self, event: str, **fields: Any) -> None:
        """Journal a record nothing waits on: written with the next durable one."""
        if self.journal is not None and not self.options.dry_run:
            self.journal.record(event, durable=False, **fields)

    async def _write(
        self,
        change_address: str,
        action: str,
        call: Callable[[], Awaitable[str]],
        *,
        intent: Mapping[str, Any],
        differences: list[str] | None = None,
    ) -> ChangeResult:
        """Journal an intent, make the call, journal the outcome; never raise an API error.

        ``differences``: filled by ``call`` with what the server stored otherwise than
        expected; journalled with the outcome and reported."""
        op = new_id()
        await self.record("intent", op=op, address=change_address, action=action, **intent)
        try:
            detail = await call()
        except (ApiError, _Mismatch) as err:
            status = UNKNOWN if isinstance(err, ApiError) and is_outcome_unknown(err) else FAILED
            reason = describe_error(err)
            self.record_later("outcome", op=op, status=status, error=reason)
            self._tick()
            remedy = remedy_of(err)
            return ChangeResult(
                change_address,
                action,
                "failed",
                reason=f"{reason} ({remedy.advice})",
                retry=remedy.retry,
            )
        found = tuple(differences or ())
        extra: dict[str, Any] = {"differences": list(found)} if found else {}
        # The outcome of a service write or relay route waits for the next durable record:
        # only the intent must be durable before its call (reconciler/apply/journal.py).
        self.record_later("outcome", op=op, status=SUCCEEDED, detail=detail, **extra)
        self._tick()
        return ChangeResult(change_address, action, "succeeded", detail=detail, differences=found)

    def _differences(
        self, spec: ServiceSpec | None, kind: str, stored: Mapping[str, Any]
    ) -> list[str]:
        """What the server stored otherwise than the plan expected (see
        :func:`reconciler.plan.planner.stored_differs`)."""
        if spec is None:
            return []
        defaults = None
        if spec.mode == "replace":
            if kind not in self._defaults:
                schema = self.schemas.known.get(kind)
                self._defaults[kind] = None if schema is None else expected_defaults(kind, schema)
            defaults = self._defaults[kind]
        return stored_differs(spec, stored, defaults)

    async def _create(
        self, kind: str, name: str, body: Mapping[str, Any], mode: str
    ) -> tuple[str, dict[str, Any]]:
        """Create a service the plan found missing; what was done, and the configuration the
        server stored.

        A create never writes over a service that exists: the name was missing from a list,
        which can lag or be cut short. When the service exists after all, it is updated as its
        declaration's mode says: ``merge`` PATCHes the declared options and leaves the others
        alone (a PUT would reset them to their defaults), ``replace`` PUTs. So ``merge`` reads
        the name first (the API has no create-only write); ``replace`` does not: its PUT is
        the same call either way, and the answer (201 created, 200 replaced) says which."""
        why = "it exists although the service list did not show it"
        if mode != "replace":
            try:
                await self.aculab.read_service(kind, name)
            except NotFoundError:
                pass
            else:
                stored = await self.aculab.modify_service(kind, name, body)
                return f"updated (PATCH, the declared options only): {why}", stored
        created, stored = await self.aculab.write_service(kind, name, body)
        if created:
            return "created", stored
        if mode == "replace":
            return f"replaced (PUT): {why}", stored
        # Created by someone else between the read and the PUT.
        return "written (it already existed: replaced)", stored

    # ----------------------------------------------------------------- wave 1: purchases

    async def purchases(self) -> list[PurchaseResult]:
        purchaser = self.purchaser
        if not self.options.dry_run:
            for pool in self.options.forget_purchase:
                await self._forget(purchaser, pool)
        planned: list[Purchase] = self.plan.of(Purchase)
        jobs: list[Callable[[], Awaitable[PurchaseResult]]] = []
        for p in planned:
            jobs.append(self._purchase_job(purchaser, p))
        # Purchases interrupted in earlier runs at locations this plan doesn't buy at: settle
        # them too (journal bookkeeping; a complete pool means nothing is at stake).
        planned_keys = {p.location.key() for p in planned}
        others: dict[tuple[str, str, str, str], Location] = {}
        if not self.options.dry_run:
            for intent in self.view.unresolved:
                if intent.location.key() not in planned_keys:
                    others.setdefault(intent.location.key(), intent.location)
        if not self.options.dry_run and not planned and self.live is not None:
            # No listing in this run's purchase wave: the plan's read retires from the
            # ledger the bought numbers it shows.
            await purchaser.confirm_listed(self.live.numbers)
        settling = [self._settle_only(purchaser, loc) for loc in others.values()]
        results, *_ = await asyncio.gather(run_bounded(jobs, self.options.concurrency), *settling)
        return results

    async def _forget(self, purchaser: Purchaser, pool: str) -> None:
        gone = await purchaser.forget(pool)
        if not gone:
            self.report.notes.append(
                f"--forget-purchase {pool}: no purchase for pool {pool} has an unknown "
                "outcome; nothing was forgotten"
            )
        for intent in gone:
            self.report.notes.append(
                f"--forget-purchase {pool}: forgot the purchase of {intent.quantity} at "
                f"{intent.location} ({when(intent)}) whose outcome was unknown, as you "
                "checked the account (journalled); the pool may buy again"
            )

    def _purchase_job(
        self, purchaser: Purchaser, purchase: Purchase
    ) -> Callable[[], Awaitable[PurchaseResult]]:
        async def job() -> PurchaseResult:
            if self.stop.is_set():
                # Asked to stop before this purchase started: nothing bought, nothing spent.
                return PurchaseResult(purchase, False, reason=_INTERRUPTED)
            if self.options.dry_run:
                result = await purchaser.rehearse(purchase)
            else:
                result = await purchaser.buy(purchase)
                if result.numbers:  # known at once: a stop at once still reports them
                    self.report.bought[purchase.pool] = list(result.numbers)
            self._tick()
            return result

        return job

    async def _settle_only(self, purchaser: Purchaser, location: Location) -> list[PurchaseResult]:
        try:
            _listed, current = await purchaser.wave_at(location)
        except ApiError as err:
            self.report.notes.append(
                f"an interrupted purchase at {location} is still unresolved: {describe_error(err)}"
            )
            return []
        listing, _found, notes = await purchaser.settle(location, current)
        self.report.notes.extend(notes)
        if listing is None or purchaser.view.unresolved_at(location):
            self.report.notes.append(
                f"a purchase at {location} whose outcome is unknown is still unresolved: "
                "the account lists no number it bought yet"
            )
        return []

    def _purchase_result(self, result: PurchaseResult) -> ChangeResult:
        p = result.purchase
        if result.reason == _INTERRUPTED and not result.calls and not result.numbers:
            return ChangeResult(p.address, "purchase", "skipped", reason=_INTERRUPTED)
        self.report.purchase_calls += result.calls
        self.report.notes.extend(result.notes)
        if result.numbers and not self.options.dry_run:  # placeholders are not bought
            self.report.bought[p.pool] = list(result.numbers)
        if result.succeeded:
            if self.options.dry_run:
                detail = f"would buy {p.quantity} at {p.location} (parameters accepted)"
            elif result.numbers:
                detail = _bought(result)
            else:
                detail = "nothing to buy"
            return ChangeResult(
                p.address, "purchase", "succeeded", detail, None, tuple(result.numbers)
            )
        detail = (
            _bought(result, of=p.quantity) if result.numbers and not self.options.dry_run else ""
        )
        reason = result.reason
        retry = "apply again" in (reason or "")  # the purchaser's own words say so
        if result.error is not None:
            remedy = remedy_of(result.error)
            reason, retry = f"{reason} ({remedy.advice})", remedy.retry
        return ChangeResult(
            p.address, "purchase", "failed", detail, reason, tuple(result.numbers), retry=retry
        )

    # ----------------------------------------------------------------- wave 2: services, relay

    def _service_jobs(
        self, purchased: Sequence[PurchaseResult]
    ) -> tuple[list[Callable[[], Awaitable[ChangeResult]]], list[ChangeResult]]:
        jobs: list[Callable[[], Awaitable[ChangeResult]]] = []
        skipped: list[ChangeResult] = []
        for change in self.plan.changes:
            if isinstance(change, CreateService | UpdateService):
                jobs.append(self._service_job(change))
        for result in purchased:
            p = result.purchase
            if p.inbound is None:
                continue
            for number in result.numbers:
                jobs.append(self._new_number_job(p, number))
            if not result.succeeded and result.shortfall:
                self._tick(result.shortfall)
                cause = f"the purchase for pool {p.pool} failed"
                skipped.append(
                    ChangeResult(
                        f"inbound:<new numbers of {p.pool}>",
                        "create",
                        "skipped",
                        reason=f"not attempted: {cause} ({result.shortfall} number(s) not bought)",
                    )
                )
        for change in self.plan.changes:
            if isinstance(change, ModifyRelay):
                jobs.append(self._relay_job(change))
        return jobs, skipped

    def _service_job(
        self, change: CreateService | UpdateService
    ) -> Callable[[], Awaitable[ChangeResult]]:
        action = "create" if isinstance(change, CreateService) else "update"
        method = "PUT" if isinstance(change, CreateService) else change.method
        kind, name, body = change.service_kind, change.name, change.body

        async def job() -> ChangeResult:
            if self.options.dry_run:
                return await self._validate(change.address, action, kind, name, body, method)

            spec = declaration(self.desired, self.live, kind, name) if self.live else None
            differences: list[str] = []

            async def call() -> str:
                if method == "PATCH":
                    stored = await self.aculab.modify_service(kind, name, body)
                    differences.extend(self._differences(spec, kind, stored))
                    return "updated (PATCH)"
                if action == "create":
                    mode = spec.mode if spec is not None else "merge"
                    done, stored = await self._create(kind, name, body, mode)
                    differences.extend(self._differences(spec, kind, stored))
                    return done
                created, stored = await self.aculab.write_service(kind, name, body)
                differences.extend(self._differences(spec, kind, stored))
                return "replaced (PUT)" if not created else "created (it had disappeared)"

            return await self._write(
                change.address,
                action,
                call,
                intent={"method": method, "body": body},
                differences=differences,
            )

        return job

    def _new_number_job(
        self, purchase: Purchase, number: str
    ) -> Callable[[], Awaitable[ChangeResult]]:
        inbound = purchase.inbound
        assert inbound is not None
        body = inbound.config
        address = f"inbound:{number}"

        async def job() -> ChangeResult:
            if self.options.dry_run:
                return await self._validate(address, "create", "inbound", number, body, "PUT")

            spec = inbound.for_number(number)
            differences: list[str] = []

            async def call() -> str:
                done, stored = await self._create("inbound", number, body, inbound.mode)
                differences.extend(self._differences(spec, "inbound", stored))
                sep = " " if done == "created" else ", "
                return f"{done}{sep}for the new number of pool {purchase.pool}"

            return await self._write(
                address,
                "create",
                call,
                intent={"method": "PUT", "body": body},
                differences=differences,
            )

        return job

    def _relay_job(self, change: ModifyRelay) -> Callable[[], Awaitable[ChangeResult]]:
        # A callback URL may carry a password: shown and journalled masked.
        shown = public(list(change.new_detail))
        detail_text = ",".join(shown)
        summary = f"{change.new_action}" + (f" {detail_text}" if detail_text else "")

        async def job() -> ChangeResult:
            if self.aql is None:
                self._tick()
                return ChangeResult(
                    change.address,
                    "relay",
                    "failed",
                    reason="no aql account is configured (add an `aql:` section)",
                )
            if self.options.dry_run:
                self._tick()
                return ChangeResult(change.address, "relay", "succeeded", f"would set {summary}")
            aql = self.aql

            async def call() -> str:
                route = await aql.modify(change.number, change.new_action, change.new_detail)
                if route.action != change.new_action or tuple(route.detail) != tuple(
                    change.new_detail
                ):
                    now = ",".join(public(list(route.detail)))
                    raise _Mismatch(f"aql answered OK but reports {route.action} {now}".strip())
                return f"set {summary}"

            return await self._write(
                change.address,
                "relay",
                call,
                intent={"action_type": change.new_action, "detail": shown},
            )

        return job

    async def _validate(
        self,
        address: str,
        action: str,
        kind: str,
        name: str,
        body: Mapping[str, Any],
        method: str,
    ) -> ChangeResult:
        """Dry run of a service write: check the body the server would end up with."""
        self._tick()
        try:
            if method == "PATCH":
                base = await self._live_config(kind, name)
                # As the server merges a PATCH (null clears a value, it is not dropped).
                checked: Mapping[str, Any] = deep_merge(base, body)
            else:
                checked = body
            problems = await self.schemas.problems(kind, checked)
        except ApiError as err:
            return ChangeResult(
                address,
                action,
                "failed",
                reason=f"could not validate: {describe_error(err)}",
                retry=remedy_of(err).retry,
            )
        if problems:
            return ChangeResult(
                address,
                action,
                "failed",
                reason="the server's schema rejects it: " + "; ".join(problems),
                retry=False,
            )
        verb = {"create": "would create", "update": f"would update ({method})"}[action]
        return ChangeResult(address, action, "succeeded", f"{verb}; valid against the schema")

    async def _live_config(self, kind: str, name: str) -> Mapping[str, Any]:
        if self.live is not None:
            found = self.live.services(kind).get(name)  # type: ignore[arg-type]
            if found is not None:
                return found.config
        return await self.aculab.read_service(kind, name)

    # ----------------------------------------------------------------- wave 3: deletes

    def _delete_jobs(
        self, purchased: Sequence[PurchaseResult]
    ) -> list[Callable[[], Awaitable[ChangeResult]]]:
        # A pool's numbers as the purchases just listed them: the plan may have been made
        # while the list lagged behind an earlier purchase, so a number there now looked like
        # no pool's, and its inbound service like one to prune.
        pooled = {n: r.purchase.pool for r in purchased for n in r.at_location}
        return [self._delete_job(c, pooled) for c in self.plan.of(DeleteService)]

    def _delete_job(
        self, change: DeleteService, pooled: Mapping[str, str]
    ) -> Callable[[], Awaitable[ChangeResult]]:
        async def job() -> ChangeResult:
            pool = pooled.get(change.name) if change.service_kind == "inbound" else None
            if pool is not None:
                self._tick()
                return ChangeResult(
                    change.address,
                    "delete",
                    "skipped",
                    reason=f"not attempted: number {change.name} is in pool {pool} now (it "
                    "appeared after the plan was made); run apply again",
                )
            if self.options.dry_run:
                self._tick()
                return ChangeResult(change.address, "delete", "succeeded", "would delete")

            async def call() -> str:
                try:
                    await self.aculab.delete_service(change.service_kind, change.name)
                except NotFoundError:
                    return "already gone"
                return "deleted"

            return await self._write(change.address, "delete", call, intent={})

        return job

    # ----------------------------------------------------------------- wave 4: releases

    async def releases(self, done: Mapping[str, ChangeResult]) -> list[ChangeResult]:
        planned: list[Release] = self.plan.of(Release)
        if not planned:
            return []
        out: dict[str, ChangeResult] = {}
        go: list[Release] = []
        for r in planned:
            if not self.options.allow_release:
                out[r.number] = ChangeResult(
                    r.address,
                    "release",
                    "skipped",
                    reason="blocked: releasing a number is irreversible; run with --allow-release",
                )
                continue
            prerequisite = done.get(f"inbound:{r.number}")
            if (
                prerequisite is not None
                and prerequisite.action == "delete"
                and prerequisite.status != "succeeded"
            ):
                out[r.number] = ChangeResult(
                    r.address,
                    "release",
                    "skipped",
                    reason=f"not attempted: deleting its inbound service {prerequisite.status}",
                )
                continue
            go.append(r)
        if go:
            numbers = [r.number for r in go]
            for number, result in (await self._release_batch(numbers)).items():
                out[number] = result
        self._tick(len(planned))
        return [out[r.number] for r in planned]

    async def _release_batch(self, numbers: list[str]) -> dict[str, ChangeResult]:
        def result(
            number: str, status: Status, detail: str = "", reason: str | None = None
        ) -> ChangeResult:
            return ChangeResult(f"number:{number}", "release", status, detail, reason)

        if self.options.dry_run:
            return {n: result(n, "succeeded", "would release") for n in numbers}
        op = new_id()
        await self.record("intent", op=op, address="numbers", action="release", numbers=numbers)
        try:
            answer = await self.aculab.delete_numbers(numbers)
        except ApiError as err:
            reason = describe_error(err)
            if not is_outcome_unknown(err):
                await self.record("outcome", op=op, status=FAILED, error=reason)
                return {n: result(n, "failed", reason=reason) for n in numbers}
            # The call may have released some: one list says which numbers are gone.
            await self.record("outcome", op=op, status=UNKNOWN, error=reason)
            try:
                listed = await self.aculab.list_numbers()
            except ApiError as list_err:
                why = f"{reason}; and the account could not be re-listed: "
                why += describe_error(list_err)
                return {n: result(n, "failed", reason=f"outcome unknown: {why}") for n in numbers}
            gone = [n for n in numbers if n not in listed]
            await self.record("resolved", op=op, status=SUCCEEDED, released=gone)
            return {
                n: result(n, "succeeded", "released (confirmed by re-listing)")
                if n not in listed
                else result(n, "failed", reason=reason)
                for n in numbers
            }
        failed = dict(answer.failed)
        status = str(answer.status).upper()
        if status == "FAIL" and not failed:
            failed = {n: ("", "the API answered FAIL") for n in numbers}
        released = [n for n in numbers if n not in failed]
        await self.record(
            "outcome",
            op=op,
            status=SUCCEEDED if not failed else FAILED,
            answer=status,
            released=released,
            failed={n: {"code": c, "description": d} for n, (c, d) in failed.items()},
        )
        out: dict[str, ChangeResult] = {}
        for n in numbers:
            if n in failed:
                code, text = failed[n]
                reason = redact(f"{code}: {text}" if code else text)
                out[n] = result(n, "failed", reason=f"tel_delete_numbers: {reason}")
            else:
                out[n] = result(n, "succeeded", "released")
        return out

    # ----------------------------------------------------------------- the run

    async def run(self) -> ApplyReport:
        self._tick(0)
        counts = self.plan.counts()
        await self.record(
            "run_start",
            dry_run=self.options.dry_run,
            plan=counts,
            account=account_of(self.desired),
        )
        concurrency = self.options.concurrency

        purchased = await self.purchases()
        wave1 = [self._purchase_result(pr) for pr in purchased]  # in plan order

        jobs, skipped = self._service_jobs(purchased)
        # Service writes go to Aculab, relay routes (last) to aql: each queues for its API
        # host, so under one vendor's rate limit the workers keep the other busy.
        relays = len(self.plan.of(ModifyRelay))
        aculab_host: Lane | None = getattr(self.aculab, "http", None)
        aql_host: Lane | None = getattr(self.aql, "http", None)
        lanes = [aculab_host] * (len(jobs) - relays) + [aql_host] * relays
        wave2 = await self._until_stopped(jobs, concurrency, lanes=lanes)
        wave2 += skipped
        wave3: list[ChangeResult] = []
        wave4: list[ChangeResult] = []
        if not self.stop.is_set():
            wave3 = await self._until_stopped(self._delete_jobs(purchased), concurrency)
        if not self.stop.is_set():
            wave4 = await self.releases({r.address: r for r in wave3})

        ordered = wave1 + wave2 + wave3 + wave4
        if self.stop.is_set():
            ordered += self._not_attempted(ordered, purchased)
        self.report.results = ordered
        await self.record("run_end", summary=self.report.counts(), stopped=self.stop.is_set())
        return self.report

    async def _until_stopped(
        self,
        jobs: Sequence[Callable[[], Awaitable[ChangeResult]]],
        concurrency: int,
        lanes: Sequence[Lane | None] | None = None,
    ) -> list[ChangeResult]:
        """``run_bounded``, except that once a stop is asked no job starts (those running
        finish); the results of the jobs that ran, in job order."""

        def unless_stopped(
            job: Callable[[], Awaitable[ChangeResult]],
        ) -> Callable[[], Awaitable[ChangeResult | None]]:
            async def run() -> ChangeResult | None:
                return None if self.stop.is_set() else await job()

            return run

        done = await run_bounded([unless_stopped(j) for j in jobs], concurrency, lanes=lanes)
        return [r for r in done if r is not None]

    def _not_attempted(
        self, done: Sequence[ChangeResult], purchased: Sequence[PurchaseResult]
    ) -> list[ChangeResult]:
        """After a stop: every change that has no result, skipped (the inbound services of
        the numbers bought included), in plan order."""
        seen = {r.address for r in done}
        out: list[ChangeResult] = []
        for result in purchased:
            if result.purchase.inbound is None:
                continue
            for number in result.numbers:
                if f"inbound:{number}" not in seen:
                    out.append(
                        ChangeResult(f"inbound:{number}", "create", "skipped", reason=_INTERRUPTED)
                    )
        for change in self.plan.changes:
            if change.address not in seen and not isinstance(change, Purchase):
                action = _ACTION[type(change)]
                out.append(ChangeResult(change.address, action, "skipped", reason=_INTERRUPTED))
        return out


def _bought(result: PurchaseResult, *, of: int | None = None) -> str:
    """``bought 2: A, B``; numbers an interrupted earlier run bought are told apart, so the
    report never claims a purchase this run did not make."""
    now = [n for n in result.numbers if n not in result.earlier]
    before = [n for n in result.numbers if n in result.earlier]
    total = f" of {of}" if of is not None else ""
    parts = []
    if now:
        parts.append(f"bought {len(now)}{total}: {', '.join(now)}")
    if before:
        lead = "" if now else "nothing bought; "
        parts.append(f"{lead}{len(before)} found bought by an earlier run: {', '.join(before)}")
    return "; ".join(parts)


_INTERRUPTED = "not attempted: apply was interrupted; run apply again to finish"
_ACTION: dict[type, str] = {
    CreateService: "create",
    UpdateService: "update",
    ModifyRelay: "relay",
    DeleteService: "delete",
    Release: "release",
}


class _Mismatch(ReconcilerError):
    """aql accepted a modify but reports a different route."""


async def apply_plan(
    plan: Plan,
    desired: DesiredState,
    aculab: AculabApi,
    aql: AqlApi | None,
    *,
    options: ApplyOptions | None = None,
    journal: Journal | None = None,
    live: LiveState | None = None,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> ApplyReport:
    """Apply ``plan`` (see the module docstring) and report what happened.

    ``journal`` is required unless ``options.dry_run``: no write goes out unrecorded.
    ``live`` (the snapshot the plan was made from) lets a dry run check PATCH bodies merged
    into the live configuration without reading them again. ``progress(done, total)`` is
    called as changes finish. API failures never raise: they are in the report. ``stop``
    (:class:`Stop`) asks the run to start nothing new; the report then says so.
    """
    options = options or ApplyOptions()
    if journal is None and not options.dry_run:
        raise ValueError("apply_plan needs a journal unless it is a dry run")
    event = stop.event if stop is not None else None
    run = _Run(plan, desired, aculab, aql, options, journal, live, progress, event)
    try:
        report = await run.run()
    except asyncio.CancelledError:
        if stop is None or not stop.forced:
            raise
        # Stopped at once: what is known (the numbers bought first) is still told.
        report = run.report
        report.notes.append(
            "stopped at once: the calls in flight were abandoned; the journal holds them, and "
            "the next apply settles any purchase among them before it buys anything"
        )
        report.stopped_at_once = True
    if not options.dry_run:
        report.unknown_purchases = [UnknownPurchase.of(i) for i in run.purchaser.unknown()]
    if stop is not None and stop.event.is_set():
        report.interrupted = stop.signal_name
    return report


# How long the calls in flight may take to finish after a first Ctrl-C.
STOP_GRACE_S = 30.0


class Stop:
    """Ctrl-C (SIGINT) or SIGTERM during apply (``docs/safety.md``): the first signal asks the
    run to start nothing new while the calls in flight finish, within ``grace`` seconds; the
    second, or the end of the grace, stops at once (the task running the apply is cancelled:
    :class:`asyncio.CancelledError`). ``on_signal(name, first)`` is told of each signal, so
    that the command line can say what is happening.

    Use as ``with Stop(...) as stop:`` inside the task that runs the apply; the handlers are
    removed on exit. Where the loop can't install them (not the main thread), signals keep
    their usual effect.
    """

    def __init__(
        self, *, grace: float = STOP_GRACE_S, on_signal: Callable[[str, bool], None] | None = None
    ) -> None:
        self.grace = grace
        self.on_signal = on_signal
        self.event = asyncio.Event()
        self.signal_name: str | None = None
        self.forced = False
        self._task: asyncio.Task[Any] | None = None
        self._installed: list[int] = []
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> Stop:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._signalled, signum)
            except (RuntimeError, ValueError, NotImplementedError):
                continue
            self._installed.append(signum)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        if self._timer is not None:
            self._timer.cancel()

    def request(self, name: str = "SIGINT") -> None:
        """Ask to stop, as a signal does: the first time gently, the second at once."""
        first = not self.event.is_set()
        if first:
            self.signal_name = name
            self.event.set()
            self._timer = asyncio.get_running_loop().call_later(self.grace, self._force)
        else:
            self._force()
        if self.on_signal is not None:
            self.on_signal(name, first)

    def _signalled(self, signum: int) -> None:
        self.request(signal.Signals(signum).name)

    def _force(self) -> None:
        if not self.forced:
            self.forced = True
            if self._task is not None:
                self._task.cancel()
