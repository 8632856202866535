"""Typed changes and the Plan that holds them: one object shared by ``plan`` and ``apply``.

Modelled on octoDNS: the planner (a pure function of desired and live state) produces a
:class:`Plan`; safety checks read it (:mod:`reconciler.plan.safety`); renderers (text, json,
markdown) live apart and only read it; the applier executes its changes in order.

Every change has an ``address`` (``inbound:441908538007``, ``pool:london-support``,
``relay:44113000111``, ``number:441908538007``) that names it in output, journal and errors,
and ``depends_on``: the live resources (fingerprint keys of
:meth:`reconciler.live.model.LiveState.resource_fingerprints`) whose state it was computed
from. A saved plan is refused when any of those changed.

The JSON form (:meth:`Plan.as_json`, documented by ``schemas/plan.schema.json``) is what
``--format json`` prints and what ``--out`` saves. It never holds a secret: every
:class:`~reconciler.secret.Secret` (and anything that looks like one: a value under a secret
key, a URL with a password) is shown by its mask. :meth:`Plan.from_json` reads it back; the
secrets it cannot restore become :class:`RedactedSecret`, which refuses to be revealed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, cast

from reconciler.desired.model import Location, PoolInbound, SafetyLimits, ServiceKind
from reconciler.errors import PlanFileError
from reconciler.secret import MASK, Secret, conceal, to_jsonable

Action = Literal["add", "change", "remove"]

# Version of the JSON form (and of saved plan files). Bump on any incompatible change.
FORMAT_VERSION = 1

# The fingerprint recorded for a resource a change depends on that does not exist (yet): a
# service the plan creates. If it exists when a saved plan is applied, the plan is stale.
ABSENT = "absent"

_MASKED_URL = f":{MASK}@"


class RedactedSecret(Secret):
    """A secret read back from a saved plan: only its mask was saved, so its value is gone.

    It displays and compares like the mask; :meth:`reveal` raises, so a value restored from
    a plan file can never be sent to an API by mistake (apply re-plans from the YAML).
    """

    __slots__ = ()

    def __init__(self, display: str = MASK) -> None:
        # An empty value: nothing to register for redaction, nothing to leak.
        super().__init__("", display=display)

    def reveal(self) -> str:
        raise PlanFileError(
            "a saved plan holds no secret values",
            hint="apply re-plans from the desired state; it never sends values from a plan file",
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RedactedSecret):
            return self.display == other.display
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("RedactedSecret", self.display))


def public(value: Any, *, key: str | None = None) -> Any:
    """``value`` as it may be shown or saved: every secret replaced by its mask.

    Defence in depth: besides :class:`Secret` values, plain strings under a secret key and URLs
    with a password are masked too, in case something upstream forgot to wrap them.
    """
    return to_jsonable(conceal(value, key=key))


def restore(value: Any) -> Any:
    """The inverse of :func:`public` as far as it goes: masks become :class:`RedactedSecret`."""
    if isinstance(value, str):
        if value == MASK or _MASKED_URL in value:
            return RedactedSecret(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): restore(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [restore(v) for v in value]
    return value


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a price must be a string, not {type(value).__name__}")
    return Decimal(value)


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected an object")
    return cast(Mapping[str, Any], value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a service that differs: ``path`` is dotted (``rest.first_page.address``).

    ``old``/``new`` may hold :class:`~reconciler.secret.Secret` values; renderers show them
    as ``(sensitive)``. ``old`` is None for ``add``, ``new`` is None for ``remove``.
    """

    path: str
    action: Action
    old: Any = None
    new: Any = None

    @property
    def key(self) -> str:
        """The last element of the path: decides whether a plain value is a secret."""
        return self.path.rsplit(".", 1)[-1]

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.action != "add":
            data["old"] = public(self.old, key=self.key)
        if self.action != "remove":
            data["new"] = public(self.new, key=self.key)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldChange:
        action = data["action"]
        if action not in ("add", "change", "remove"):
            raise ValueError(f"unknown field action {action!r}")
        return cls(
            path=str(data["path"]),
            action=action,
            old=restore(data.get("old")),
            new=restore(data.get("new")),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """Base of every change. ``kind`` is the JSON name; ``mark`` the text mark (+ ~ -).

    Extension point: a new kind of change subclasses this, defines ``kind``, ``mark``,
    ``address``, ``depends_on``, ``as_json`` and ``from_json``, and takes its place in
    :data:`APPLY_ORDER` and :data:`CHANGE_TYPES`.
    """

    kind: ClassVar[str] = "change"
    mark: ClassVar[str] = "~"

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def depends_on(self) -> tuple[str, ...]:
        return ()

    def _head(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address,
            "depends_on": list(self.depends_on),
        }

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        """The change's JSON form, secrets masked."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """Read a change back from its JSON form (raises KeyError/ValueError/TypeError)."""
        kind = data["kind"]
        for change_type in CHANGE_TYPES:
            if change_type.kind == kind:
                return change_type._from_json(data)
        raise ValueError(f"unknown change kind {kind!r}")

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> Change:
        raise NotImplementedError


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

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        inbound = None
        if self.inbound is not None:
            inbound = {
                "mode": self.inbound.mode,
                "ignore_changes": list(self.inbound.ignore_changes),
                "config": public(self.inbound.config),
            }
        return {
            **self._head(),
            "pool": self.pool,
            "location": self.location.as_json(),
            "quantity": self.quantity,
            "allow_landline": self.allow_landline,
            "allow_cellular": self.allow_cellular,
            "allow_payphone": self.allow_payphone,
            "regulation_address": self.regulation_address,
            "params": self.purchase_params(),
            "inbound": inbound,
            "unit_price": _money(self.unit_price),
            "price_estimated": self.price_estimated,
            "existing": list(self.existing),
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> Purchase:
        location = Location.from_json(data["location"])
        if location is None:
            raise ValueError("not a location")
        inbound = None
        if data["inbound"] is not None:
            raw = _mapping(data["inbound"])
            mode = raw["mode"]
            if mode not in ("merge", "replace"):
                raise ValueError(f"unknown service mode {mode!r}")
            inbound = PoolInbound(
                config=_mapping(restore(raw["config"])),
                mode=mode,
                ignore_changes=_str_tuple(raw["ignore_changes"]),
            )
        return cls(
            pool=str(data["pool"]),
            location=location,
            quantity=int(data["quantity"]),
            allow_landline=bool(data["allow_landline"]),
            allow_cellular=bool(data["allow_cellular"]),
            allow_payphone=bool(data["allow_payphone"]),
            regulation_address=data["regulation_address"],
            inbound=inbound,
            unit_price=_decimal(data["unit_price"]),
            price_estimated=bool(data["price_estimated"]),
            existing=_str_tuple(data["existing"]),
        )


@dataclass(frozen=True, slots=True)
class Release(Change):
    """Release (delete) a number: irreversible. ``blocked`` without ``--allow-release``."""

    kind: ClassVar[str] = "release"
    mark: ClassVar[str] = "-"

    number: str
    reason: str  # "pool london-support has 4 numbers, wants 3" / "prune: matches no pool or pin"
    pool: str | None = None
    monthly_price: Decimal | None = None
    has_inbound_service: bool = False

    @property
    def address(self) -> str:
        return f"number:{self.number}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"number:{self.number}",)

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        return {
            **self._head(),
            "number": self.number,
            "reason": self.reason,
            "pool": self.pool,
            "monthly_price": _money(self.monthly_price),
            "has_inbound_service": self.has_inbound_service,
            "blocked": not allow_release,
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> Release:
        return cls(
            number=str(data["number"]),
            reason=str(data["reason"]),
            pool=data["pool"],
            monthly_price=_decimal(data["monthly_price"]),
            has_inbound_service=bool(data["has_inbound_service"]),
        )


def _service_kind(value: Any) -> ServiceKind:
    if value not in ("inbound", "outbound"):
        raise ValueError(f"unknown service kind {value!r}")
    return cast(ServiceKind, value)


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

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        return {
            **self._head(),
            "service_kind": self.service_kind,
            "name": self.name,
            "method": "PUT",
            "body": public(self.body),
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> CreateService:
        return cls(
            service_kind=_service_kind(data["service_kind"]),
            name=str(data["name"]),
            body=_mapping(restore(data["body"])),
        )


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

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        return {
            **self._head(),
            "service_kind": self.service_kind,
            "name": self.name,
            "method": self.method,
            "body": public(self.body),
            "diff": [d.as_json() for d in self.diff],
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> UpdateService:
        method = data["method"]
        if method not in ("PATCH", "PUT"):
            raise ValueError(f"unknown method {method!r}")
        diff = data["diff"]
        if not isinstance(diff, list):
            raise ValueError("diff must be a list")
        return cls(
            service_kind=_service_kind(data["service_kind"]),
            name=str(data["name"]),
            method=method,
            body=_mapping(restore(data["body"])),
            diff=tuple(FieldChange.from_json(_mapping(d)) for d in diff),
        )


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

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        return {**self._head(), "service_kind": self.service_kind, "name": self.name}

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> DeleteService:
        return cls(service_kind=_service_kind(data["service_kind"]), name=str(data["name"]))


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

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        # A callback URL may carry credentials: shown with its password masked.
        return {
            **self._head(),
            "number": self.number,
            "old": {"action": self.old_action, "detail": public(list(self.old_detail))},
            "new": {"action": self.new_action, "detail": public(list(self.new_detail))},
            "mvno_takeover": self.mvno_takeover,
        }

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ModifyRelay:
        old, new = _mapping(data["old"]), _mapping(data["new"])
        return cls(
            number=str(data["number"]),
            old_action=old["action"],
            old_detail=_str_tuple(old["detail"]),
            new_action=str(new["action"]),
            new_detail=_str_tuple(new["detail"]),
            mvno_takeover=bool(data["mvno_takeover"]),
        )


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

# Every concrete change type, for reading the JSON form back.
CHANGE_TYPES: tuple[type[Change], ...] = APPLY_ORDER


@dataclass(frozen=True, slots=True)
class CostChange:
    """The monthly price change of a plan, in USD.

    ``purchased`` is the estimated monthly price of the numbers bought (from the account's
    numbers of the same country and did_type); ``purchased_unknown`` counts those with no
    estimate. ``released`` is the listed monthly price of the numbers released;
    ``released_unknown`` counts those with no listed price.
    """

    purchase_numbers: int = 0
    purchased: Decimal = Decimal(0)
    purchased_unknown: int = 0
    release_numbers: int = 0
    released: Decimal = Decimal(0)
    released_unknown: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.purchase_numbers or self.release_numbers)

    @property
    def net(self) -> Decimal:
        """Known part of the change: estimated purchases minus listed releases."""
        return self.purchased - self.released

    @property
    def estimated(self) -> bool:
        return self.purchase_numbers > self.purchased_unknown

    @property
    def has_unknown(self) -> bool:
        return bool(self.purchased_unknown or self.released_unknown)

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "purchases": {
                "numbers": self.purchase_numbers,
                "monthly": _money(self.purchased),
                "unknown_numbers": self.purchased_unknown,
                "estimated": True,
            },
            "releases": {
                "numbers": self.release_numbers,
                "monthly": _money(self.released),
                "unknown_numbers": self.released_unknown,
            },
            "net_monthly": _money(self.net),
            "net_estimated": self.estimated,
            "net_incomplete": self.has_unknown,
        }


# Keys of the JSON form that describe the live state rather than the changes: a plan
# re-computed at apply time is compared without them (staleness is checked on its own).
_LIVE_KEYS = ("fingerprints", "live_fingerprint", "sources")


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change, in apply order, with what it was computed from.

    ``warnings`` are shown and do not stop anything (an MVNO takeover, an inbound service
    named by a number nobody owns). ``unmanaged_numbers`` lists live numbers matching no
    pool or pin that are not released (number pruning off, or ignored by ``prune.ignore``).
    ``fingerprints`` are the live fingerprints the changes depend on (:data:`ABSENT` for a
    resource that does not exist, e.g. a service to create); ``live_fingerprint`` digests the
    whole snapshot. ``managed_services`` is the denominator of the percentage limits
    (declared services plus the inbound services of the pools' live numbers). ``safety``
    holds the limits of the desired state, for output.
    """

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged_numbers: tuple[str, ...] = ()
    managed_services: int = 0
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    live_fingerprint: str = ""
    sources: tuple[str, ...] = ()
    safety: SafetyLimits = field(default_factory=SafetyLimits)

    def of(self, kind: type[Change]) -> list[Any]:
        return [c for c in self.changes if isinstance(c, kind)]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        """Summary counts: numbers to purchase, services to create/update/delete, relay
        routes to change, numbers to release.

        ``create`` includes ``create_pending``: the inbound services of the numbers to
        purchase (one per new number of a pool with ``inbound:``), which apply creates once
        the numbers are known.
        """
        purchases: Sequence[Purchase] = self.of(Purchase)
        pending = sum(p.quantity for p in purchases if p.inbound is not None)
        return {
            "purchase": sum(p.quantity for p in purchases),
            "create": len(self.of(CreateService)) + pending,
            "create_pending": pending,
            "update": len(self.of(UpdateService)),
            "delete": len(self.of(DeleteService)),
            "relay": len(self.of(ModifyRelay)),
            "release": len(self.of(Release)),
        }

    def cost(self) -> CostChange:
        """The monthly price change (purchases estimated, releases at their listed price)."""
        purchase_numbers = purchased_unknown = release_numbers = released_unknown = 0
        purchased = released = Decimal(0)
        for change in self.changes:
            if isinstance(change, Purchase):
                purchase_numbers += change.quantity
                if change.unit_price is None:
                    purchased_unknown += change.quantity
                else:
                    purchased += change.unit_price * change.quantity
            elif isinstance(change, Release):
                release_numbers += 1
                if change.monthly_price is None:
                    released_unknown += 1
                else:
                    released += change.monthly_price
        return CostChange(
            purchase_numbers=purchase_numbers,
            purchased=purchased,
            purchased_unknown=purchased_unknown,
            release_numbers=release_numbers,
            released=released,
            released_unknown=released_unknown,
        )

    def as_json(self, *, allow_release: bool = False) -> dict[str, Any]:
        """The JSON form (``schemas/plan.schema.json``): stable, secrets masked.

        ``allow_release`` decides whether releases show as blocked; the safety refusals
        listed are those apply would make without ``--force``.
        """
        from reconciler.plan.safety import check_safety

        summary: dict[str, int] = self.counts()
        summary["release_blocked"] = 0 if allow_release else summary["release"]
        return {
            "format_version": FORMAT_VERSION,
            "summary": summary,
            "changes": [c.as_json(allow_release=allow_release) for c in self.changes],
            "warnings": list(self.warnings),
            "unmanaged_numbers": list(self.unmanaged_numbers),
            "managed_services": self.managed_services,
            "cost": self.cost().as_json(),
            "safety": {
                "limits": {
                    "max_purchase": self.safety.max_purchase,
                    "max_delete_percent": self.safety.max_delete_percent,
                    "max_update_percent": self.safety.max_update_percent,
                },
                "refusals": check_safety(
                    self, self.safety, allow_release=allow_release, force=False
                ),
            },
            "fingerprints": dict(sorted(self.fingerprints.items())),
            "live_fingerprint": self.live_fingerprint,
            "sources": list(self.sources),
        }

    def comparable(self) -> dict[str, Any]:
        """What must be equal between a saved plan and the plan re-computed at apply time:
        the JSON form without the live fingerprints and sources (checked separately) and
        without anything that depends on command-line flags."""
        data = self.as_json(allow_release=False)
        for key in _LIVE_KEYS:
            data.pop(key, None)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan back from its JSON form. Raises KeyError/ValueError/TypeError on a
        malformed document (:func:`reconciler.plan.saved.load_plan` turns them into
        :class:`~reconciler.errors.PlanFileError`). Secrets come back as
        :class:`RedactedSecret`."""
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r} is not supported")
        limits = _mapping(_mapping(data["safety"])["limits"])
        changes = data["changes"]
        if not isinstance(changes, list):
            raise ValueError("changes must be a list")
        fingerprints = _mapping(data["fingerprints"])
        return cls(
            changes=tuple(Change.from_json(_mapping(c)) for c in changes),
            warnings=_str_tuple(data["warnings"]),
            unmanaged_numbers=_str_tuple(data["unmanaged_numbers"]),
            managed_services=int(data["managed_services"]),
            fingerprints={str(k): str(v) for k, v in fingerprints.items()},
            live_fingerprint=str(data["live_fingerprint"]),
            sources=_str_tuple(data["sources"]),
            safety=SafetyLimits(
                max_purchase=int(limits["max_purchase"]),
                max_delete_percent=float(limits["max_delete_percent"]),
                max_update_percent=float(limits["max_update_percent"]),
            ),
        )
