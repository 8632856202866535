"""The generated account the benchmarks run against, at any scale.

At scale 1 (issue 8): 10,000 numbers in 20 pools of 500 (4 pools with ``inbound:``, so 2,000
inbound services named by their numbers), 200 outbound services and 1,000 relay routes. The
simulator's side is built with the simulator's own state class
(:class:`reconciler.simulator.SimState`, full service configurations from its schema defaults),
the desired side as the typed model the planner consumes, declaring all of it: so a read is the
whole account, 3,203 calls (one number list, two service lists, 2,200 service reads, 1,000 relay
queries), and a plan of an untouched account is empty.

:func:`for_apply` changes about a tenth of it for the apply benchmark (:class:`ApplyScenario`
says exactly what, and the fewest write calls that can carry it out).
"""

from __future__ import annotations

import base64
import copy
import math
from dataclasses import dataclass, replace
from typing import Any

from reconciler.desired.model import (
    AculabAccount,
    AqlAccount,
    DesiredState,
    Location,
    NumberPool,
    PoolInbound,
    PruneSettings,
    RelayRoute,
    SafetyLimits,
    ServiceSpec,
)
from reconciler.secret import Secret
from reconciler.simulator import SimState
from reconciler.simulator import services as sim_services

# Credentials of the benchmark's own local simulator (test values).
CLOUD_ID = "1-2-0"
USERNAME = "ops@example.com"
API_KEY = "bench-api-key"
AQL_USERNAME = "example"
AQL_PASSWORD = "bench-aql-password"

# The account at scale 1.
POOLS = 20
POOL_SIZE = 500
INBOUND_POOLS = 4  # 4 x 500 pool numbers with an inbound service: 2,000 inbound services
OUTBOUND = 200
RELAY = 1_000

# Every location is in the simulator's catalogue and needs no regulation address, so the
# purchases of short pools pass pre-flight and go through.
REGIONS: tuple[tuple[str, str | None, str], ...] = (
    ("United Kingdom", None, "London"),
    ("United Kingdom", None, "Milton Keynes"),
    ("United Kingdom", None, "Manchester"),
    ("United Kingdom", None, "Birmingham"),
    ("United Kingdom", None, "Leeds"),
    ("United Kingdom", None, "Edinburgh"),
    ("United Kingdom", None, "Cambridge"),
    ("United Kingdom", None, "Glasgow"),
    ("Canada", "Alberta", "Calgary"),
    ("Canada", "Manitoba", "Winnipeg"),
    ("Canada", "Ontario", "Toronto"),
    ("Canada", "Quebec", "Montreal"),
    ("Germany", None, "Berlin"),
    ("Germany", None, "Munich"),
    ("Germany", None, "Hamburg"),
    ("Germany", None, "Mönchengladbach"),
    ("Spain", None, "Bilbao"),
    ("Spain", None, "Madrid"),
    ("Ireland", None, "Dublin"),
    ("Sweden", None, "Stockholm"),
)
assert len(REGIONS) == POOLS

# Numbers on the account that no pool or pin claims (the apply scenario releases them).
STRAY_LOCATION = ("Netherlands", None, "Amsterdam")


@dataclass(frozen=True)
class Size:
    """How big the account is; :meth:`scaled` keeps the proportions of scale 1."""

    pool_size: int = POOL_SIZE
    outbound: int = OUTBOUND
    relay: int = RELAY
    scale: float = 1.0

    @classmethod
    def scaled(cls, scale: float) -> Size:
        def part(n: int) -> int:
            return max(1, round(n * scale))

        return cls(part(POOL_SIZE), part(OUTBOUND), part(RELAY), scale)

    @property
    def numbers(self) -> int:
        return POOLS * self.pool_size

    @property
    def inbound(self) -> int:
        return INBOUND_POOLS * self.pool_size

    @property
    def reads(self) -> int:
        """The calls of a complete read: 3 lists, every service, every relay route."""
        return 3 + self.inbound + self.outbound + self.relay

    def describe(self) -> str:
        return (
            f"{self.numbers:,} numbers, {self.inbound:,} inbound services, "
            f"{self.outbound:,} outbound services, {self.relay:,} relay routes"
        )


def latency_bound(latency_s: float, calls: int, concurrency: int) -> float:
    """The least wall time ``calls`` can take: every call in flight at the concurrency limit,
    the lists in the first round (``latency x (1 + ceil(calls / concurrency))``)."""
    return latency_s * (1 + math.ceil(calls / concurrency))


def accounts(base_url: str) -> tuple[AculabAccount, AqlAccount]:
    """The account settings that point the clients at a benchmark simulator."""
    return (
        AculabAccount(CLOUD_ID, USERNAME, Secret(API_KEY), base_url),
        AqlAccount(AQL_USERNAME, Secret(AQL_PASSWORD), base_url + "/sms/sms-relay.api.php"),
    )


def pool_number(pool: int, i: int) -> str:
    """The ``i``-th number of pool ``pool`` (the first ``INBOUND_POOLS`` pools' numbers name
    their inbound services)."""
    return f"44{7000000000 + pool * 100_000 + i}"


def _outbound_name(i: int) -> str:
    return f"campaign-{i:04d}"


def _outbound_address(i: int) -> str:
    return f"https://app.example.com/out/{i}"


def _relay_number(i: int) -> str:
    return f"4411300{i:05d}"


def _relay_url(i: int) -> str:
    return f"https://sms.example.com/in?n={i}&id=%i&orig=%o&msg=%m"


def basic_authorization() -> str:
    """The ``Authorization`` header of the benchmark's Aculab account."""
    token = base64.b64encode(f"{CLOUD_ID}/{USERNAME}:{API_KEY}".encode()).decode()
    return f"Basic {token}"


def read_calls(size: Size) -> list[tuple[str, str, dict[str, str] | None]]:
    """The calls a complete read of the account makes, as (method, path, form): what a bare
    HTTP client replays to measure the floor that the machine and the simulator set."""
    calls: list[tuple[str, str, dict[str, str] | None]] = [
        ("POST", "/tel_list_numbers", None),
        ("GET", "/service/v1/inbound", None),
        ("GET", "/service/v1/outbound", None),
    ]
    calls += [
        ("GET", f"/service/v1/inbound/{pool_number(p, i)}", None)
        for p in range(INBOUND_POOLS)
        for i in range(size.pool_size)
    ]
    calls += [
        ("GET", f"/service/v1/outbound/{_outbound_name(i)}", None) for i in range(size.outbound)
    ]
    aql = {"username": AQL_USERNAME, "password": AQL_PASSWORD, "command": "query"}
    calls += [
        ("POST", "/sms/sms-relay.api.php", {**aql, "number": _relay_number(i)})
        for i in range(size.relay)
    ]
    return calls


def build_desired(size: Size) -> DesiredState:
    """The desired state: every pool, outbound service and relay route of the account."""
    pools: dict[str, NumberPool] = {}
    for index, (country, state, region) in enumerate(REGIONS):
        name = f"pool-{index:02d}"
        inbound = (
            PoolInbound(config={"description": f"{region} desk"}) if index < INBOUND_POOLS else None
        )
        pools[name] = NumberPool(
            name=name,
            location=Location(country=country, region=region, state=state),
            count=size.pool_size,
            inbound=inbound,
        )
    outbound = {
        _outbound_name(i): ServiceSpec(
            kind="outbound",
            name=_outbound_name(i),
            config={
                "service_password": Secret(f"pw-{i:04d}-secret"),
                "rest": {"first_page": {"address": _outbound_address(i)}},
            },
        )
        for i in range(size.outbound)
    }
    relay = {
        _relay_number(i): RelayRoute(_relay_number(i), "httppost", (_relay_url(i),))
        for i in range(size.relay)
    }
    return DesiredState(
        pools=pools,
        outbound_services=outbound,
        relay_routes=relay,
        prune=PruneSettings(numbers=True, inbound_services=True, outbound_services=True),
        # The apply scenario buys and changes far more than the default limits allow.
        safety=SafetyLimits(max_purchase=100_000, max_delete_percent=100, max_update_percent=100),
        sources=("generated",),
    )


def build_state(size: Size) -> SimState:
    """The simulator's account, exactly as :func:`build_desired` declares it."""
    state = SimState()
    inbound_defaults = sim_services.fill_defaults(
        "inbound",
        {"application_type": "REST", "rest": {"first_page": {"address": "https://app/in"}}},
    )
    for index, (country, st, region) in enumerate(REGIONS):
        for i in range(size.pool_size):
            number = pool_number(index, i)
            entry = {
                "country": country,
                "region": region,
                "price": "3.00",
                "purchased": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "did_type": "geographic",
            }
            if st:
                entry["state"] = st
            state.numbers[number] = entry
            if index < INBOUND_POOLS:
                config = copy.deepcopy(inbound_defaults)
                config["description"] = f"{region} desk"
                state.services["inbound"][number] = config
    for i in range(size.outbound):
        state.services["outbound"][_outbound_name(i)] = sim_services.fill_defaults(
            "outbound",
            {
                "service_password": f"pw-{i:04d}-secret",
                "application_type": "REST",
                "rest": {"first_page": {"address": _outbound_address(i)}},
            },
        )
    for i in range(size.relay):
        state.relay[_relay_number(i)] = ("httppost", _relay_url(i))
    return state


# --------------------------------------------------------------------------- apply


@dataclass(frozen=True)
class ApplyScenario:
    """About 10% of the account changed by hand, and what apply must do to undo it.

    At scale 1: every pool short by 50 numbers (20 purchases, 1,000 numbers; the 4 pools
    with ``inbound:`` then need 200 services created for the new numbers), 200 services
    edited (150 inbound, 50 outbound: PATCH each), 100 relay routes pointing elsewhere,
    50 undeclared outbound services (pruned: DELETE each) and 50 numbers no pool claims
    (released: one ``tel_delete_numbers`` for all of them).
    """

    size: Size
    state: SimState
    desired: DesiredState
    short_per_pool: int
    creates: int
    updates: int
    relay_changes: int
    deletes: int
    releases: int

    @property
    def purchases(self) -> int:
        return POOLS

    @property
    def confirming_reads(self) -> int:
        """The reads apply must make besides its writes: a create in ``merge`` mode reads the
        name before its PUT (the API has no create-only write; docs/commands.md, Apply). The
        pools' ``inbound:`` configurations here are ``merge`` (the default)."""
        return sum(
            self.short_per_pool
            for pool in self.desired.pools.values()
            if pool.inbound is not None and pool.inbound.mode != "replace"
        )

    @property
    def minimum_writes(self) -> dict[str, int]:
        """The fewest write calls, by kind: one purchase per pool, one per service write or
        relay route, ONE release call for every number released."""
        return {
            "purchase": self.purchases,
            "service_create": self.creates,
            "service_update": self.updates,
            "relay_modify": self.relay_changes,
            "service_delete": self.deletes,
            "release": 1 if self.releases else 0,
        }

    def describe(self) -> str:
        return (
            f"{self.purchases} purchases ({self.purchases * self.short_per_pool:,} numbers; "
            f"{self.creates:,} inbound services for them), {self.updates:,} service updates, "
            f"{self.relay_changes:,} relay changes, {self.deletes:,} service deletes, "
            f"{self.releases:,} numbers released"
        )


def for_apply(size: Size) -> ApplyScenario:
    """The account of :func:`build_state` with about 10% changed (see :class:`ApplyScenario`)."""
    state = build_state(size)
    desired = build_desired(size)
    short = max(1, size.pool_size // 10)
    for index in range(POOLS):
        for i in range(size.pool_size - short, size.pool_size):
            number = pool_number(index, i)
            del state.numbers[number]
            state.services["inbound"].pop(number, None)
    creates = INBOUND_POOLS * short

    # 200 edited services at scale 1: 3 of 4 inbound (kept pool numbers), 1 of 4 outbound.
    updates = max(2, round(200 * size.scale))
    inbound_edits = updates * 3 // 4
    outbound_edits = min(updates - inbound_edits, size.outbound)
    for name in list(state.services["inbound"])[:inbound_edits]:
        state.services["inbound"][name]["description"] = "edited by hand"
    for i in range(outbound_edits):
        config = state.services["outbound"][_outbound_name(i)]
        config["rest"]["first_page"]["address"] = _outbound_address(i) + "/old"

    relay_changes = min(size.relay, max(1, round(100 * size.scale)))
    for i in range(relay_changes):
        state.relay[_relay_number(i)] = ("httppost", "https://old.example.com/sms")

    deletes = max(1, round(50 * size.scale))
    for i in range(deletes):
        state.services["outbound"][f"old-campaign-{i:04d}"] = sim_services.fill_defaults(
            "outbound", {"service_password": f"old-{i}-secret", "application_type": "REST"}
        )

    releases = max(1, round(50 * size.scale))
    country, _st, region = STRAY_LOCATION
    for i in range(releases):
        state.numbers[f"3120{7000000 + i}"] = {
            "country": country,
            "region": region,
            "price": "2.00",
            "purchased": "2023-06-01",
            "did_type": "geographic",
        }
    return ApplyScenario(
        size=size,
        state=state,
        desired=desired,
        short_per_pool=short,
        creates=creates,
        updates=inbound_edits + outbound_edits,
        relay_changes=relay_changes,
        deletes=deletes,
        releases=releases,
    )


def with_accounts(desired: DesiredState, base_url: str) -> DesiredState:
    """``desired`` pointing at the simulator at ``base_url``."""
    aculab, aql = accounts(base_url)
    return replace(desired, aculab=aculab, aql=aql)


def jsonable_size(size: Size) -> dict[str, Any]:
    return {
        "scale": size.scale,
        "numbers": size.numbers,
        "inbound_services": size.inbound,
        "outbound_services": size.outbound,
        "relay_routes": size.relay,
        "reads": size.reads,
    }
