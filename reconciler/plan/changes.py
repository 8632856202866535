"""Typed changes and the Plan that holds them: one object shared by ``plan`` and ``apply``.

Modelled on octoDNS: the planner (a pure function of desired and live state) produces a
:class:`Plan`; safety checks are methods of the Plan; renderers (text, json, markdown) live
apart and only read it; the applier executes its changes in order.

Every change has an ``address`` (``inbound:441908538007``, ``pool:london-support``,
``relay:44113000111``, ``number:441908538007``) that names it in output, journal and errors,
and ``depends_on``: the live resources (fingerprint keys of
:meth:`reconciler.live.model.LiveState.resource_fingerprints`) whose state it was computed
from. A saved plan is refused when any of those changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from reconciler.desired.model import Location, PoolInbound, ServiceKind

Action = Literal["add", "change", "remove"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a service that differs: ``path`` is dotted (``rest.first_page.address``).

    ``old``/``new`` may hold :class:`~reconciler.secret.Secret` values; renderers show them
    as ``(sensitive)``.
    """

    path: str
    action: Action
    old: Any = None
    new: Any = None


@dataclass(frozen=True, slots=True)
class Change:
    """Base of every change. ``kind`` is the JSON name; ``mark`` the text mark (+ ~ -)."""

    kind: ClassVar[str] = "change"
    mark: ClassVar[str] = "~"

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def depends_on(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Purchase(Change):
    """Buy ``quantity`` numbers at the pool's location (one ``tel_purchase`` call).

    ``inbound`` is the service each new number gets (named by the number), created in the
    same apply. ``unit_price`` is estimated from the account's numbers of the same country
    and did_type (``price_estimated``), or None when unknown. ``existing`` lists the live
    numbers already at this location: the snapshot against which a failed purchase is
    re-counted.
    """

    kind: ClassVar[str] = "purchase"
    mark: ClassVar[str] = "+"

    pool: str
    location: Location
    quantity: int
    allow_landline: bool = False
    allow_cellular: bool = False
    allow_payphone: bool = False
    regulation_address: str | None = None
    inbound: PoolInbound | None = None
    unit_price: Decimal | None = None
    price_estimated: bool = True
    existing: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"pool:{self.pool}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(f"number:{n}" for n in self.existing)

    def purchase_params(self) -> dict[str, str]:
        """The ``tel_purchase`` parameters, as strings (the API's "True"/"False")."""
        params: dict[str, str] = {
            "country": self.location.country,
            "region": self.location.region,
            "quantity": str(self.quantity),
            "did_type": self.location.did_type,
        }
        if self.location.state:
            params["state"] = self.location.state
        if self.regulation_address:
            params["regulation_address"] = self.regulation_address
        if self.location.did_type == "tollfree":
            params["allow_landline"] = str(self.allow_landline)
            params["allow_cellular"] = str(self.allow_cellular)
            params["allow_payphone"] = str(self.allow_payphone)
        return params


@dataclass(frozen=True, slots=True)
class Release(Change):
    """Release (delete) a number: irreversible. ``blocked`` without ``--allow-release``."""

    kind: ClassVar[str] = "release"
    mark: ClassVar[str] = "-"

    number: str
    reason: str  # "pool london-support has 4, wants 3" / "prune: matches no pool or pin"
    pool: str | None = None
    monthly_price: Decimal | None = None
    has_inbound_service: bool = False

    @property
    def address(self) -> str:
        return f"number:{self.number}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"number:{self.number}",)


@dataclass(frozen=True, slots=True)
class CreateService(Change):
    """Create a service with PUT. ``body`` is the exact request body (secrets wrapped)."""

    kind: ClassVar[str] = "create_service"
    mark: ClassVar[str] = "+"

    service_kind: ServiceKind
    name: str
    body: Mapping[str, Any]

    @property
    def address(self) -> str:
        return f"{self.service_kind}:{self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        # Created because absent: a saved plan is stale if it appeared meanwhile.
        return (self.address,)


@dataclass(frozen=True, slots=True)
class UpdateService(Change):
    """Change a service: PATCH with only the differing keys (merge mode) or PUT of the whole
    declared configuration (replace mode). ``diff`` is field by field."""

    kind: ClassVar[str] = "update_service"
    mark: ClassVar[str] = "~"

    service_kind: ServiceKind
    name: str
    method: Literal["PATCH", "PUT"]
    body: Mapping[str, Any]
    diff: tuple[FieldChange, ...]

    @property
    def address(self) -> str:
        return f"{self.service_kind}:{self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (self.address,)


@dataclass(frozen=True, slots=True)
class DeleteService(Change):
    """Delete an undeclared service (prune)."""

    kind: ClassVar[str] = "delete_service"
    mark: ClassVar[str] = "-"

    service_kind: ServiceKind
    name: str

    @property
    def address(self) -> str:
        return f"{self.service_kind}:{self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (self.address,)


@dataclass(frozen=True, slots=True)
class ModifyRelay(Change):
    """Set an aql number's delivery. ``mvno_takeover``: the live route is ``mvno`` and
    changing it stops delivery to the MVNO SIM (allowed only by ``allow_mvno_takeover``)."""

    kind: ClassVar[str] = "modify_relay"
    mark: ClassVar[str] = "~"

    number: str
    old_action: str | None
    old_detail: tuple[str, ...]
    new_action: str
    new_detail: tuple[str, ...]
    mvno_takeover: bool = False

    @property
    def address(self) -> str:
        return f"relay:{self.number}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (self.address,)


# Apply order (DESIGN.md §5): purchases, service creates/updates, relay routes, service
# deletes, releases.
APPLY_ORDER: tuple[type[Change], ...] = (
    Purchase,
    CreateService,
    UpdateService,
    ModifyRelay,
    DeleteService,
    Release,
)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change, in apply order, with what it was computed from.

    ``warnings`` are shown and do not stop anything (an MVNO takeover, an inbound service
    named by a number nobody owns). ``unmanaged_numbers`` counts live numbers matching no
    pool or pin when number pruning is off. ``fingerprints`` are the live fingerprints the
    changes depend on (all of them, for a saved plan); ``live_fingerprint`` digests the
    whole snapshot. ``managed_services`` is the denominator of the percentage limits.
    """

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged_numbers: tuple[str, ...] = ()
    managed_services: int = 0
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    live_fingerprint: str = ""
    sources: tuple[str, ...] = ()

    def of(self, kind: type[Change]) -> list[Any]:
        return [c for c in self.changes if isinstance(c, kind)]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        """Summary counts: numbers to purchase, services to create/update/delete, relay
        routes to change, numbers to release."""
        purchases: Sequence[Purchase] = self.of(Purchase)
        return {
            "purchase": sum(p.quantity for p in purchases),
            "create": len(self.of(CreateService)),
            "update": len(self.of(UpdateService)),
            "delete": len(self.of(DeleteService)),
            "relay": len(self.of(ModifyRelay)),
            "release": len(self.of(Release)),
        }
