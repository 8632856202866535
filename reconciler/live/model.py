"""The live account as one consistent, typed snapshot.

:class:`LiveState` is built only from a complete read (see :mod:`reconciler.live.reader`):
a failed read raises instead, so the planner never sees a partial view. Every resource has a
stable fingerprint; a saved plan records those it depends on and ``apply --plan`` refuses the
plan when any of them changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.desired.model import Location, ServiceKind
from reconciler.secret import Secret, secret_url, url_has_password


def _canonical(value: Any) -> Any:
    """``default=`` of the fingerprint's ``json.dumps``: called only for what JSON can't
    encode natively, which keeps fingerprinting a whole account cheap (the encoder walks
    dicts, lists and tuples in C)."""
    if isinstance(value, Secret):
        # No digest of a secret ever leaves memory: a saved plan's fingerprints must not
        # let anyone test guesses of a password offline. A changed secret is still caught
        # when apply re-plans and compares the plans.
        return "(sensitive)"
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be fingerprinted")


def _shown(text: str) -> str:
    """A relay callback URL with its password masked (it is a plain string, not a Secret)."""
    return secret_url(text).display if url_has_password(text) else text


# One encoder for every fingerprint: ``json.dumps`` with options builds a new one per call,
# which was a quarter of a fingerprint's CPU (a read fingerprints every number of an account).
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_canonical)


def fingerprint_of(value: Any) -> str:
    """A stable digest of a JSON-like value; secrets do not enter it."""
    data = _FINGERPRINT_JSON.encode(value)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def number_fingerprint(number: LiveNumber) -> str:
    """The fingerprint of a number (``number:<n>`` of :meth:`LiveState.resource_fingerprints`)."""
    return fingerprint_of(number.as_json())


def service_fingerprint(service: LiveService | None) -> str:
    """The fingerprint of a service read in full, or of one only listed (None)."""
    return fingerprint_of(service.config if service is not None else {"listed": True})


def relay_fingerprint(route: LiveRelayRoute) -> str:
    """The fingerprint of a relay route (callback URL passwords masked first)."""
    return fingerprint_of([route.action, [_shown(d) for d in route.detail]])


@dataclass(frozen=True, slots=True)
class LiveNumber:
    """A number on the account, as ``tel_list_numbers`` reports it."""

    number: str
    country: str
    region: str
    did_type: str
    state: str | None = None
    price: str | None = None  # USD per month, as the API gives it ("3.00")
    purchased: str | None = None  # YYYY-MM-DD
    # The location, made on first use: the read, the planner and apply each ask every number
    # for it, and a fleet's reads are CPU-bound (docs/performance.md).
    _location: Location | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def location(self) -> Location:
        found = self._location
        if found is None:
            found = Location(
                country=self.country, region=self.region, state=self.state, did_type=self.did_type
            )
            object.__setattr__(self, "_location", found)
        return found

    @property
    def monthly_price(self) -> Decimal | None:
        if self.price is None:
            return None
        try:
            return Decimal(self.price)
        except InvalidOperation:
            return None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "country": self.country,
            "region": self.region,
            "did_type": self.did_type,
            "price": self.price,
            "purchased": self.purchased,
        }
        if self.state is not None:
            data["state"] = self.state
        return data


@dataclass(frozen=True, slots=True)
class LiveService:
    """A service read in full (every option present); secrets wrapped."""

    kind: ServiceKind
    name: str
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LiveRelayRoute:
    """An aql number's delivery, as ``command=query`` reports it."""

    number: str
    action: str
    detail: tuple[str, ...] = ()

    @property
    def is_mvno(self) -> bool:
        return self.action == "mvno"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What can be bought, fetched for pre-flight checks of purchases (each list once a run).

    Keys mirror the API's parameters; a missing key means "not fetched" (no purchase needed
    it), an empty tuple means "fetched, and empty".
    """

    countries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # did_type ->
    states: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # country ->
    # (country, state or "", did_type) -> regions (names or prefixes)
    regions: Mapping[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    # address name -> (country, region); None when not fetched
    regulation_addresses: Mapping[str, tuple[str, str]] | None = None


@dataclass(frozen=True, slots=True)
class PoolLedger:
    """What the apply journal, the purchase ledger, says of a pool that the account's list
    does not show (reconciler/apply/journal.py): ``bought``, numbers bought and not listed
    yet (the pool's, not to be bought again); ``unknown``, earlier purchases for the pool
    whose outcome is unknown, described (``1 at London, United Kingdom on 2026-...``)."""

    bought: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, repr=False)
class LiveState:
    """One complete read of the account.

    ``inbound_names``/``outbound_names`` come from the service lists (every service on the
    account); ``inbound``/``outbound`` hold the full configurations of the services that were
    read (those the desired state declares, a pool's numbers included). ``relay_routes`` holds
    one entry per relay number queried.
    """

    numbers: Mapping[str, LiveNumber] = field(default_factory=dict)
    inbound_names: frozenset[str] = frozenset()
    outbound_names: frozenset[str] = frozenset()
    inbound: Mapping[str, LiveService] = field(default_factory=dict)
    outbound: Mapping[str, LiveService] = field(default_factory=dict)
    relay_routes: Mapping[str, LiveRelayRoute] = field(default_factory=dict)
    catalogue: Catalogue = Catalogue()
    # The server's service schemas ("inbound"/"outbound"), when read: for defaults in
    # replace mode and for dry-run validation.
    service_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Per pool, what the apply journal says was bought and is not listed yet (set by
    # reconciler/operations.py from the journal of the working directory): the plan counts
    # those numbers, as apply does, and shows a pool blocked by an unknown purchase.
    ledger: Mapping[str, PoolLedger] = field(default_factory=dict)
    # resource_fingerprints(), computed by the reader while it waited on the network (so
    # planning doesn't spend 0.15-0.2 s on them for a 10,000-number account); None: computed
    # on first use. Only the reader sets it, from exactly the resources above.
    known_fingerprints: Mapping[str, str] | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        # Counts only. A full repr of an account-sized snapshot is megabytes, and Python 3.11's
        # asyncio.run() builds one (reprlib of its main task's result, via signal.signal) when
        # the coroutine returns the snapshot: 0.3-0.4 s of every `reconciler plan`.
        return (
            f"<LiveState {len(self.numbers)} numbers, {len(self.inbound_names)} inbound and "
            f"{len(self.outbound_names)} outbound services ({len(self.inbound)} and "
            f"{len(self.outbound)} read), {len(self.relay_routes)} relay routes>"
        )

    def services(self, kind: ServiceKind) -> Mapping[str, LiveService]:
        return self.inbound if kind == "inbound" else self.outbound

    def service_names(self, kind: ServiceKind) -> frozenset[str]:
        return self.inbound_names if kind == "inbound" else self.outbound_names

    def resource_fingerprints(self) -> dict[str, str]:
        """Fingerprint of every resource, keyed ``number:<n>``, ``inbound:<name>``,
        ``outbound:<name>``, ``relay:<n>``; service names that were listed but not read
        are keyed by name only (their existence is what a plan depends on)."""
        if self.known_fingerprints is not None:
            return dict(self.known_fingerprints)
        out: dict[str, str] = {}
        for n, num in self.numbers.items():
            out[f"number:{n}"] = number_fingerprint(num)
        for kind in ("inbound", "outbound"):
            read = self.services(kind)
            for name in self.service_names(kind):
                out[f"{kind}:{name}"] = service_fingerprint(read.get(name))
        for n, route in self.relay_routes.items():
            out[f"relay:{n}"] = relay_fingerprint(route)
        return out
