"""The planner: a pure function from desired and live state to a :class:`Plan`.

Rules (docs/desired-state.md, docs/commands.md), in the order the planner applies them:

Numbers
    A live number belongs to the pool whose :meth:`Location.key` equals its own. A pool short
    of its count gets one :class:`Purchase` of the difference; a pool over its count releases
    the surplus, choosing numbers without an inbound service first, then the most recently
    purchased (unknown purchase dates last), ties broken by number.

    **The journal is the purchase ledger** (``live.ledger``, read by
    reconciler/operations.py): numbers it records as bought for a pool that the account does
    not list yet count toward the pool (a pool they complete gets a warning, "bought, waiting
    for the account to list them", not a purchase); a pool with an earlier purchase whose
    outcome is unknown gets a purchase marked ``blocked``, which apply refuses to make.

    **Pinned numbers are outside every pool**: a pinned number at a pool's location does not
    count toward that pool's count and is never released, and the pool's ``inbound:``
    template does not apply to it (declare its service under ``inbound_services``). A pinned
    number missing from the account is a plan error (it cannot be bought back by number).

    A number matching no pool or pin is released when ``prune.numbers`` is on and no
    ``prune.ignore`` glob matches it; otherwise it is listed in ``unmanaged_numbers``.

    **A number named by a declared inbound service is never released** (neither pruned nor
    given up by a pool over its count): the YAML expects calls to it.

Services
    Every declared service is compared (:mod:`reconciler.plan.diff`) or created. Every live
    number a pool keeps gets the pool's ``inbound:`` service, named by the number, compared
    like a declared one; **an inbound service declared explicitly under that number's name
    wins over the pool's template**. Numbers the plan purchases get their services through
    :attr:`Purchase.inbound`. Services of numbers the plan releases are not updated.

    ``prune.inbound_services`` / ``prune.outbound_services`` delete listed services that are
    not declared, not named by a number a pool keeps (with or without ``inbound:``), and match
    no ``prune.ignore`` glob (:func:`fnmatch.fnmatchcase`). The undeclared service of a number
    the plan releases is pruned in the same plan, so one apply converges: apply refuses a plan
    with releases unless ``--allow-release`` is given (so a kept number never loses its
    service), deletes services before it releases numbers, and skips a release whose
    service delete failed.

Relay routes
    Action and detail are compared. A live ``mvno`` route is changed only with
    ``allow_mvno_takeover: true`` (with a warning that delivery to the SIM stops); otherwise
    it is left alone, with a warning.

Pre-flight
    Each purchase is checked against the catalogue (:mod:`reconciler.plan.preflight`).

Every problem found (a missing pin, a bad location, a declared resource the live read
didn't cover) is collected and raised together as one :class:`PlanError`.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from reconciler.configuration import schema_defaults
from reconciler.desired.model import DesiredState, NumberPool, Origin, ServiceKind, ServiceSpec
from reconciler.desired.numbers import likely_meant, split_address
from reconciler.errors import PlanError
from reconciler.live.model import LiveNumber, LiveState, PoolLedger, fingerprint_of
from reconciler.names import printable
from reconciler.plan.changes import (
    ABSENT,
    APPLY_ORDER,
    Change,
    CreateService,
    DeleteService,
    ModifyRelay,
    Plan,
    Purchase,
    Release,
    UpdateService,
    public,
)
from reconciler.plan.diff import ServiceDiff, compare_merge, compare_replace
from reconciler.plan.preflight import check_purchase
from reconciler.schemas import shipped_service_schema

SERVICE_KINDS: tuple[ServiceKind, ...] = ("inbound", "outbound")
CENT = Decimal("0.01")


def make_plan(desired: DesiredState, live: LiveState, *, fingerprint: bool = True) -> Plan:
    """Diff ``desired`` against ``live`` into a :class:`Plan` (pure: no I/O, no clock).

    ``fingerprint``: record the live fingerprints the plan depends on, which a saved plan
    needs (:func:`reconciler.plan.saved.plan_document` refuses a plan without); drift, which
    never saves its plan, skips them.

    Raises :class:`PlanError` listing every problem that prevents a plan.
    """
    return _Planner(desired, live).plan(fingerprint=fingerprint)


def expected_defaults(kind: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """What the server stores for the options a PUT omits, as far as it can be known: the
    defaults of the server's schema; when it gives none (the vendor's pages show none), those
    of reconciler's copy of it (``schemas/service-{kind}.schema.json``, the documented
    read-back), so that ``mode: replace`` converges either way. Where the server stores
    something else, apply says so after its write (:func:`stored_differs`)."""
    defaults = schema_defaults(schema)
    if defaults:
        return defaults
    try:
        return schema_defaults(shipped_service_schema(kind))
    except (OSError, ValueError):  # pragma: no cover - an installation without its schemas
        return {}


def compare_service(
    spec: ServiceSpec, current: Mapping[str, Any], defaults: Mapping[str, Any] | None
) -> ServiceDiff | None:
    """The one comparison of a declared service with a configuration (the live one, or the
    one the server answered a write with): None when nothing would change. ``defaults`` (of
    :func:`expected_defaults`, or None when the schema wasn't read) matter in replace mode."""
    if spec.mode == "replace":
        return compare_replace(spec.config, current, defaults, spec.ignore_changes)
    return compare_merge(spec.config, current, spec.ignore_changes)


def stored_differs(
    spec: ServiceSpec, stored: Mapping[str, Any], defaults: Mapping[str, Any] | None
) -> list[str]:
    """After a write: each field where the configuration the server answered with differs
    from what the plan expected (a default filled in, a value normalised), with what to do.
    Empty when the next plan would find nothing to change."""
    found = compare_service(spec, stored, defaults)
    if found is None:
        return []
    out: list[str] = []
    for change in found.diff:
        # FieldChange runs from what the server stored (old) to what the plan wants (new).
        if change.action == "remove":
            out.append(
                f"{change.path}: the server stored {_shown(change.old)}, which the plan did not "
                f"expect (a default of the server's?): declare `{change.path}: "
                f"{_shown(change.old)}`, or add {change.path} to ignore_changes"
            )
        elif change.action == "add":
            out.append(
                f"{change.path}: the server did not store it (the plan wrote "
                f"{_shown(change.new)}): remove it from the YAML, or add it to ignore_changes"
            )
        else:
            out.append(
                f"{change.path}: the server stored {_shown(change.old)} where the plan wrote "
                f"{_shown(change.new)} (normalised?): declare the server's value, or add "
                f"{change.path} to ignore_changes"
            )
    return out


def _shown(value: Any) -> str:
    return json.dumps(public(value), sort_keys=True, ensure_ascii=False, default=str)


def matches_any(name: str, globs: Iterable[str], kind: str) -> bool:
    """True when ``name`` (a ``kind``: number, inbound or outbound) matches one of the
    ``prune.ignore`` globs; a glob naming a kind (``number:44*``) matches that kind only."""
    for glob in globs:
        scope, pattern = split_address(glob)
        if (scope is None or scope == kind) and fnmatchcase(name, pattern):
            return True
    return False


def release_order(numbers: Iterable[LiveNumber], with_service: frozenset[str]) -> list[LiveNumber]:
    """Numbers in the order a pool gives them up: without an inbound service first, then the
    most recently purchased (unknown dates last), then by number."""
    ordered = sorted(numbers, key=lambda n: n.number)
    ordered.sort(key=lambda n: n.purchased or "", reverse=True)  # stable: ties keep by number
    ordered.sort(key=lambda n: n.number in with_service)
    return ordered


class _Planner:
    """One planning run; the state is only the accumulating result."""

    def __init__(self, desired: DesiredState, live: LiveState) -> None:
        self.desired = desired
        self.live = live
        self.changes: list[Change] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.unmanaged: list[str] = []
        self.unmanaged_services: list[str] = []
        # number -> the pool keeping it (pools with or without inbound)
        self.kept: dict[str, NumberPool] = {}
        # Numbers the journal records as bought for a pool that the account does not list yet.
        self.awaiting: set[str] = set()
        self.releasing: set[str] = set()
        # Per kind, the live services the YAML manages (declared, a kept pool number's, or
        # pruned): the denominators of the percentage limits (reconciler.plan.safety).
        self.managed_live: dict[str, set[str]] = {kind: set() for kind in SERVICE_KINDS}
        self._defaults: dict[str, dict[str, Any] | None] = {}
        self._warned_schema: set[tuple[str, Origin]] = set()

    def plan(self, *, fingerprint: bool = True) -> Plan:
        self._numbers()
        self._services()
        self._relay_routes()
        if self.problems:
            raise PlanError(
                self.problems,
                hint="fix the desired state (or the account) and run the plan again",
            )
        order = {t: i for i, t in enumerate(APPLY_ORDER)}
        changes = sorted(self.changes, key=lambda c: (order[type(c)], c.address))
        fingerprints, live_fingerprint = self._fingerprints(changes) if fingerprint else ({}, "")
        return Plan(
            changes=tuple(changes),
            warnings=tuple(self.warnings),
            unmanaged_numbers=tuple(sorted(self.unmanaged)),
            unmanaged_services=tuple(self.unmanaged_services),
            managed_services={k: len(v) for k, v in self.managed_live.items()},
            live_services={k: len(self.live.service_names(k)) for k in SERVICE_KINDS},
            fingerprints=fingerprints,
            live_fingerprint=live_fingerprint,
            sources=tuple(self.desired.sources),
            safety=self.desired.safety,
        )

    def _fingerprints(self, changes: Sequence[Change]) -> tuple[dict[str, str], str]:
        """The live fingerprints ``changes`` depend on, and one digest of the whole snapshot
        (from the fingerprints already computed: no resource is fingerprinted twice)."""
        every = self.live.resource_fingerprints()
        deps = sorted({key for c in changes for key in c.depends_on})
        return {k: every.get(k, ABSENT) for k in deps}, fingerprint_of(sorted(every.items()))

    # ------------------------------------------------------------------------- numbers

    def _numbers(self) -> None:
        desired, live = self.desired, self.live
        for pin in desired.pinned.values():
            if pin.number in live.numbers:
                continue
            meant = likely_meant(pin.number, live.numbers)
            if meant is not None and meant not in desired.pinned:
                # A typo or a trunk 0 ("+44 01908 ..."): say so before anything about buying.
                self.problems.append(
                    f"{pin.origin}: pinned number {pin.number} is not on the account; did you "
                    f"mean {meant}, which is? Correct the pin"
                )
                continue
            self.problems.append(
                f"{pin.origin}: pinned number {pin.number} is not on the account; a "
                "released number can't be bought back by number: remove the pin, or "
                "get the number back with the vendor"
            )

        members: dict[str, list[LiveNumber]] = {name: [] for name in desired.pools}
        for number, num in live.numbers.items():
            if number in desired.pinned:
                continue
            pool = desired.pool_of(number, num.location)
            if pool is not None:
                members[pool.name].append(num)
            elif (
                desired.prune.numbers
                and not matches_any(number, desired.prune.ignore, "number")
                # A number whose inbound service the YAML declares is in use: never pruned.
                and number not in desired.inbound_services
            ):
                self.releasing.add(number)
                self.changes.append(
                    Release(
                        number=number,
                        reason="prune: matches no pool or pin",
                        monthly_price=num.monthly_price,
                        has_inbound_service=number in live.inbound_names,
                    )
                )
            else:
                self.unmanaged.append(number)

        prices: dict[tuple[str, str], list[Decimal]] | None = None
        for name in sorted(desired.pools):
            pool = desired.pools[name]
            have = members[name]
            if len(have) < pool.count:
                # The journal is the purchase ledger: numbers bought and not listed yet are
                # the pool's (apply never buys them again), and an earlier purchase whose
                # outcome is unknown blocks buying (reconciler/apply/purchases.py).
                ledger = live.ledger.get(name, PoolLedger())
                pending = tuple(sorted(n for n in ledger.bought if n not in live.numbers))
                if len(have) + len(pending) < pool.count:
                    if prices is None:
                        prices = self._price_index()
                    self._purchase(pool, have, prices, pending, ledger.unknown)
                else:
                    self.warnings.append(
                        f"{pool.origin}: pool {name}: {len(pending):,} bought, waiting for the "
                        f"account to list them ({', '.join(pending)}); not bought again"
                    )
                # They are the pool's: their inbound services are never pruned (the run that
                # bought them wrote them; the reader did not read them, as the list hides them).
                self.awaiting.update(pending)
                keep = have
            elif len(have) > pool.count:
                # A number whose inbound service the YAML declares is in use: never released.
                declared = [n for n in have if n.number in desired.inbound_services]
                order = release_order(
                    [n for n in have if n.number not in desired.inbound_services],
                    live.inbound_names,
                )
                excess = len(have) - pool.count
                surplus, keep = order[:excess], order[excess:] + declared
                if len(surplus) < excess:
                    self.warnings.append(
                        f"{pool.origin}: pool {name} has {len(have):,} numbers and wants "
                        f"{pool.count:,}, but {len(declared):,} of them have inbound services "
                        "declared under their number and are kept: remove a declaration to "
                        "let its number go"
                    )
                for num in surplus:
                    self.releasing.add(num.number)
                    self.changes.append(
                        Release(
                            number=num.number,
                            reason=f"pool {name} has {len(have):,} numbers, wants {pool.count:,}",
                            pool=name,
                            monthly_price=num.monthly_price,
                            has_inbound_service=num.number in live.inbound_names,
                        )
                    )
            else:
                keep = have
            for num in keep:
                self.kept[num.number] = pool

    def _price_index(self) -> dict[tuple[str, str], list[Decimal]]:
        index: dict[tuple[str, str], list[Decimal]] = {}
        for num in self.live.numbers.values():
            price = num.monthly_price
            if price is not None:
                index.setdefault((num.country.casefold(), num.did_type), []).append(price)
        return index

    def _purchase(
        self,
        pool: NumberPool,
        have: list[LiveNumber],
        prices: Mapping[tuple[str, str], list[Decimal]],
        pending: tuple[str, ...],
        blocked: tuple[str, ...],
    ) -> None:
        self.problems.extend(check_purchase(pool, self.live.catalogue))
        known = prices.get((pool.location.country.casefold(), pool.location.did_type))
        # The median: one odd premium number should not skew the estimate.
        unit_price = statistics.median(known).quantize(CENT) if known else None
        self.changes.append(
            Purchase(
                pool=pool.name,
                location=pool.location,
                quantity=pool.count - len(have) - len(pending),
                allow_landline=pool.allow_landline,
                allow_cellular=pool.allow_cellular,
                allow_payphone=pool.allow_payphone,
                regulation_address=pool.regulation_address,
                inbound=pool.inbound,
                unit_price=unit_price,
                price_estimated=True,
                existing=tuple(sorted(n.number for n in have)),
                pending=pending,
                blocked=blocked,
            )
        )

    # ------------------------------------------------------------------------- services

    def _services(self) -> None:
        desired = self.desired
        for kind in SERVICE_KINDS:
            declared = desired.services(kind)
            for name in sorted(declared):
                spec = declared[name]
                self._service(spec)
                if kind == "inbound" and name.isdigit() and name not in self.live.numbers:
                    self.warnings.append(
                        f"{spec.origin}: inbound service {name} is named by a number that is "
                        "not on the account: no call will reach it"
                    )
        for number in sorted(self.kept):
            pool = self.kept[number]
            if pool.inbound is None:
                continue
            if number in desired.inbound_services:
                continue  # declared explicitly: that declaration wins, compared above
            self._service(pool.inbound.for_number(number, pool.origin))
        self._prune_services()

    def _service(self, spec: ServiceSpec) -> None:
        kind, name = spec.kind, spec.name
        if name in self.live.service_names(kind):
            self.managed_live[kind].add(name)
        current = self.live.services(kind).get(name)
        if current is None:
            if name in self.live.service_names(kind):
                self.problems.append(
                    f"{spec.origin}: {kind} service {name} is listed on the account but its "
                    "configuration was not read; run the plan again"
                )
            else:
                self.changes.append(CreateService(service_kind=kind, name=name, body=spec.config))
            return
        defaults = self._schema_defaults(kind, spec) if spec.mode == "replace" else None
        found = compare_service(spec, current.config, defaults)
        if found is not None:
            self.changes.append(
                UpdateService(
                    service_kind=kind,
                    name=name,
                    method=found.method,
                    body=found.body,
                    diff=found.diff,
                )
            )

    def _schema_defaults(self, kind: ServiceKind, spec: ServiceSpec) -> dict[str, Any] | None:
        schema = self.live.service_schemas.get(kind)
        if kind not in self._defaults:
            self._defaults[kind] = None if schema is None else expected_defaults(kind, schema)
        defaults = self._defaults[kind]
        if (kind, spec.origin) in self._warned_schema:
            return defaults
        # Once per declaration: a pool's template would otherwise warn once per number.
        self._warned_schema.add((kind, spec.origin))
        if schema is None:
            self.warnings.append(
                f"{spec.origin}: {kind} service {spec.name} uses mode: replace, but the "
                f"server's {kind} schema was not read: only its declared keys were compared "
                "(a PUT still resets the undeclared ones)"
            )
        elif not schema_defaults(schema):
            # The vendor's pages don't show whether the schema has them; expecting the
            # undeclared options unset would plan the same PUT on every run.
            self.warnings.append(
                f"{spec.origin}: {kind} service {spec.name} uses mode: replace, and the "
                f"server's {kind} schema has no default values: the options it doesn't "
                f"declare are expected at the defaults of reconciler's copy "
                f"(schemas/service-{kind}.schema.json); apply names any option the server "
                "stores otherwise"
            )
        return defaults

    def _prune_services(self) -> None:
        """Delete the undeclared services of the kinds ``prune`` covers; list the others
        (prune off, ``prune.ignore``, or a kept number's) as unmanaged."""
        prune = self.desired.prune
        wanted = {"inbound": prune.inbound_services, "outbound": prune.outbound_services}
        for kind in SERVICE_KINDS:
            declared = self.desired.services(kind)
            for name in sorted(self.live.service_names(kind)):
                if name in declared:
                    continue
                if kind == "inbound" and name in self.kept:
                    if self.kept[name].inbound is None:
                        self.unmanaged_services.append(f"{kind}:{printable(name)}")
                    continue  # the pool's template manages it, or it is kept: never deleted
                if kind == "inbound" and name in self.awaiting:
                    continue  # a bought number's, not listed yet: never deleted
                if not wanted[kind] or matches_any(name, prune.ignore, kind):
                    self.unmanaged_services.append(f"{kind}:{printable(name)}")
                    continue
                self.managed_live[kind].add(name)
                self.changes.append(DeleteService(service_kind=kind, name=name))

    # ------------------------------------------------------------------------- relay

    def _relay_routes(self) -> None:
        for number in sorted(self.desired.relay_routes):
            route = self.desired.relay_routes[number]
            current = self.live.relay_routes.get(number)
            if current is None:
                self.problems.append(
                    f"{route.origin}: relay route {number} was not read from aql; "
                    "run the plan again"
                )
                continue
            want = (route.action, tuple(d for d in route.detail if d))
            have = (current.action, tuple(d for d in current.detail if d))
            if want == have:
                continue
            if current.is_mvno:
                if not route.allow_mvno_takeover:
                    self.warnings.append(
                        f"{route.origin}: relay route {number} delivers to an MVNO SIM; left "
                        "alone (set allow_mvno_takeover: true to take it over)"
                    )
                    continue
                self.warnings.append(
                    f"{route.origin}: relay route {number} is taken over from its MVNO: SMS "
                    "delivery to the SIM stops once it changes"
                )
            self.changes.append(
                ModifyRelay(
                    number=number,
                    old_action=current.action,
                    old_detail=have[1],
                    new_action=route.action,
                    new_detail=want[1],
                    mvno_takeover=current.is_mvno,
                )
            )
