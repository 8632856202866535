"""The desired state: frozen, typed objects the planner consumes.

The loader (:mod:`reconciler.desired.loader`) builds these from YAML after validation; past
it, nothing is a dict of unknown shape except a service configuration, which is the vendor's
JSON (validated against the vendor's schema) with its secrets wrapped in
:class:`~reconciler.secret.Secret`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.secret import Secret, secret_url, url_has_password

ServiceKind = Literal["inbound", "outbound"]
ServiceMode = Literal["merge", "replace"]

# A Location's identity (Location.key()): country, state, region, did_type, compared folded.
LocationKey = tuple[str, str, str, str]

# A service configuration: the vendor's JSON with secrets wrapped.
ServiceConfig = Mapping[str, Any]
# Where a key of a service configuration is written: a path into the configuration
# (``("rest", "first_page", "address")``) -> the place of that key in the YAML (its own
# declaration first, then its templates'), or the nearest place above it.
ConfigPlaces = Callable[[tuple[str | int, ...]], "Origin"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a resource is declared: ``file:line:column`` (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_ORIGIN = Origin("<none>", 0, 0)


@dataclass(frozen=True, slots=True)
class Location:
    """Where numbers are bought: the identity of a pool.

    ``region`` is a name for geographic numbers, a number prefix for national/tollfree.
    A live number belongs to the pool whose location equals its own.
    """

    country: str
    region: str
    state: str | None = None
    did_type: str = "geographic"
    # The key, made on first use (every live number's location is asked for it, more than
    # once: docs/performance.md).
    _key: LocationKey | None = field(default=None, init=False, repr=False, compare=False)

    def key(self) -> LocationKey:
        """Comparison key; names compare case-insensitively, as the vendor's do.

        The state is part of the identity of geographic numbers only: the vendor ignores it
        for the other did_types and lists those numbers without one, so a toll-free pool
        that names a state must still recognise the numbers it bought (or every apply would
        buy again).
        """
        found = self._key
        if found is None:
            found = (
                self.country.casefold(),
                (self.state or "").casefold() if self.did_type == "geographic" else "",
                self.region.casefold(),
                self.did_type,
            )
            object.__setattr__(self, "_key", found)
        return found

    def as_json(self) -> dict[str, Any]:
        """The one JSON form of a location (plan files, the journal)."""
        return {
            "country": self.country,
            "state": self.state,
            "region": self.region,
            "did_type": self.did_type,
        }

    @classmethod
    def from_json(cls, data: Any) -> Location | None:
        """The location :meth:`as_json` wrote; None when ``data`` is not one."""
        if not isinstance(data, Mapping):
            return None
        country, region = data.get("country"), data.get("region")
        if not isinstance(country, str) or not isinstance(region, str):
            return None
        state, did_type = data.get("state"), data.get("did_type")
        return cls(
            country=country,
            region=region,
            state=state if isinstance(state, str) else None,
            did_type=did_type if isinstance(did_type, str) else "geographic",
        )

    def __str__(self) -> str:
        parts = [self.country]
        if self.state:
            parts.append(self.state)
        parts.append(self.region)
        return f"{'/'.join(parts)} ({self.did_type})"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A declared inbound or outbound service.

    ``config`` holds the declared options only (templates already merged in). ``mode``
    ``merge`` manages only those keys (PATCH); ``replace`` manages the whole configuration,
    undeclared options at their schema defaults (PUT). ``ignore_changes`` are dotted paths
    (``rest.tts_voice``) never compared.
    """

    kind: ServiceKind
    name: str
    config: ServiceConfig
    mode: ServiceMode = "merge"
    ignore_changes: tuple[str, ...] = ()
    origin: Origin = NO_ORIGIN
    places: ConfigPlaces | None = field(default=None, compare=False, repr=False)

    def place_of(self, path: tuple[str | int, ...]) -> Origin:
        """``file:line:column`` of the key at ``path`` in ``config`` (see
        :data:`ConfigPlaces`); the service's own origin when unknown."""
        return self.places(path) if self.places is not None else self.origin


@dataclass(frozen=True, slots=True)
class PoolInbound:
    """The inbound service every number of a pool gets (named by the number)."""

    config: ServiceConfig
    mode: ServiceMode = "merge"
    ignore_changes: tuple[str, ...] = ()
    places: ConfigPlaces | None = field(default=None, compare=False, repr=False)

    def for_number(self, number: str, origin: Origin = NO_ORIGIN) -> ServiceSpec:
        return ServiceSpec(
            kind="inbound",
            name=number,
            config=self.config,
            mode=self.mode,
            ignore_changes=self.ignore_changes,
            origin=origin,
            places=self.places,
        )


@dataclass(frozen=True, slots=True)
class NumberPool:
    """Keep ``count`` numbers at ``location``."""

    name: str
    location: Location
    count: int
    allow_landline: bool = False
    allow_cellular: bool = False
    allow_payphone: bool = False
    regulation_address: str | None = None
    inbound: PoolInbound | None = None
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class PinnedNumber:
    """A number we own exactly and never release. Missing from the account: a plan error."""

    number: str
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class RelayRoute:
    """How aql delivers SMS for ``number``. ``detail`` is tried in order (comma-joined).

    A callback URL in ``detail`` may carry a password (``https://user:pass@host/...``): it
    stays plain text here, because aql needs it whole and reports it back whole; show it only
    as :func:`reconciler.secret.secret_url` displays it. The loader makes such passwords
    known to :func:`reconciler.secret.redact`.
    """

    number: str
    action: str
    detail: tuple[str, ...] = ()
    allow_mvno_takeover: bool = False
    origin: Origin = NO_ORIGIN

    def shown_detail(self) -> tuple[str, ...]:
        """``detail`` as output may show it: the password of a URL masked."""
        return tuple(secret_url(d).display if url_has_password(d) else d for d in self.detail)

    def __repr__(self) -> str:  # the generated one would show a URL's password
        return (
            f"RelayRoute(number={self.number!r}, action={self.action!r}, "
            f"detail={self.shown_detail()!r}, allow_mvno_takeover={self.allow_mvno_takeover!r}, "
            f"origin={self.origin!r})"
        )


@dataclass(frozen=True, slots=True)
class PruneSettings:
    """What undeclared resources are removed. All off by default."""

    numbers: bool = False
    inbound_services: bool = False
    outbound_services: bool = False
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SafetyLimits:
    """Limits a plan may not pass without ``--force``."""

    max_purchase: int = 10
    max_delete_percent: float = 30.0
    max_update_percent: float = 30.0
    min_existing: int = 10


@dataclass(frozen=True, slots=True)
class AculabAccount:
    """Credentials and endpoint of an Aculab Cloud account.

    ``endpoint`` defaults to the region host ``https://ws-<cloud_id>.aculabcloud.net``.
    """

    cloud_id: str
    username: str
    api_key: Secret
    endpoint: str | None = None

    @property
    def base_url(self) -> str:
        return (self.endpoint or f"https://ws-{self.cloud_id}.aculabcloud.net").rstrip("/")

    @property
    def basic_username(self) -> str:
        return f"{self.cloud_id}/{self.username}"


AQL_DEFAULT_ENDPOINT = "https://gw.aql.com/sms/sms-relay.api.php"


@dataclass(frozen=True, slots=True)
class AqlAccount:
    """Credentials and endpoint of the aql SMS relay gateway."""

    username: str
    password: Secret
    endpoint: str | None = None

    @property
    def url(self) -> str:
        return self.endpoint or AQL_DEFAULT_ENDPOINT


@dataclass(frozen=True, slots=True)
class DesiredState:
    """The whole desired state, as declared. Mappings are keyed by name or number."""

    aculab: AculabAccount | None = None
    aql: AqlAccount | None = None
    pools: Mapping[str, NumberPool] = field(default_factory=dict)
    pinned: Mapping[str, PinnedNumber] = field(default_factory=dict)
    inbound_services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    outbound_services: Mapping[str, ServiceSpec] = field(default_factory=dict)
    relay_routes: Mapping[str, RelayRoute] = field(default_factory=dict)
    prune: PruneSettings = PruneSettings()
    safety: SafetyLimits = SafetyLimits()
    # Rules silencing drift that is known and accepted: ADDRESS_GLOB[/FIELD_GLOB]
    # (``inbound:*/description``, ``relay:44113000112``); see reconciler.drift.ignore.
    drift_ignore: tuple[str, ...] = ()
    # The files the state was loaded from, for messages.
    sources: tuple[str, ...] = ()
    _pools_at: Mapping[LocationKey, NumberPool] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Two pools never share a location (a validation error), so the index is exact.
        index = {pool.location.key(): pool for pool in self.pools.values()}
        object.__setattr__(self, "_pools_at", index)

    def pool_key(self, number: str, location: Location) -> LocationKey | None:
        """The identity of the pool a live number at ``location`` belongs to, declared or
        not: its location's key. None for a pinned number: pinned numbers are outside every
        pool (they don't count toward one and don't get its ``inbound:`` service)."""
        return None if number in self.pinned else location.key()

    def pool_of(self, number: str, location: Location) -> NumberPool | None:
        """The declared pool a live number at ``location`` belongs to (see :meth:`pool_key`)."""
        key = self.pool_key(number, location)
        return None if key is None else self._pools_at.get(key)

    @property
    def manages_aculab(self) -> bool:
        """Whether anything here lives on an Aculab account (numbers or services). A desired
        state of relay routes alone is an aql customer's, who may have no Aculab account."""
        return bool(self.pools or self.pinned or self.inbound_services or self.outbound_services)

    def services(self, kind: ServiceKind) -> Mapping[str, ServiceSpec]:
        return self.inbound_services if kind == "inbound" else self.outbound_services
