"""Seeded random scenarios: a live account in the simulator and a desired state for it.

:func:`make_scenario` draws, from one integer seed, a small account (numbers at a few
locations, inbound services on some of them, SIP-named and outbound services, aql relay
routes) and a desired state over it: pools of 0-3 numbers (some with an inbound template,
merge or replace mode), pinned numbers, SIP-named inbound and outbound services in merge or
replace mode (with passwords from the environment and ``ignore_changes``), relay routes, and
prune switched on or off per kind, with ``ignore`` globs. The same seed gives the same
scenario, so a failing seed replays exactly.

The scenario also carries its own expectations, worked out here and not by the planner under
test: how many numbers each pool must buy, which numbers must stay, how many must go.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.simulator import Faults, Simulator
from reconciler.simulator import numbers as sim_numbers
from reconciler.simulator import services as sim_services


@dataclass(frozen=True)
class Place:
    """A location the simulator sells numbers at."""

    country: str
    region: str
    state: str | None = None
    did_type: str = "geographic"

    def params(self, quantity: int) -> dict[str, str]:
        out = {"country": self.country, "region": self.region, "quantity": str(quantity)}
        if self.state:
            out["state"] = self.state
        if self.did_type != "geographic":
            out["did_type"] = self.did_type
        if self.did_type == "tollfree":
            out.update(allow_landline="True", allow_payphone="True", allow_cellular="True")
        return out

    def pool(self, count: int) -> dict[str, Any]:
        out: dict[str, Any] = {"country": self.country}
        if self.state:
            out["state"] = self.state
        out["region"] = self.region
        if self.did_type != "geographic":
            out["did_type"] = self.did_type
        if self.did_type == "tollfree":
            out.update(allow_landline=True, allow_cellular=True, allow_payphone=True)
        out["count"] = count
        return out

    def bought(self, params: dict[str, str]) -> bool:
        """Is this the place of a ``tel_purchase`` call's parameters?"""
        return (
            params.get("country") == self.country
            and params.get("region") == self.region
            and params.get("state") == self.state
            and params.get("did_type", "geographic") == self.did_type
        )

    def holds(self, info: dict[str, str]) -> bool:
        return (
            info.get("country") == self.country
            and info.get("region") == self.region
            and info.get("state") == self.state
            and info.get("did_type") == self.did_type
        )


PLACES: tuple[Place, ...] = (
    Place("United Kingdom", "London"),
    Place("United Kingdom", "Manchester"),
    Place("United Kingdom", "Leeds"),
    Place("Canada", "Calgary", "Alberta"),
    Place("Canada", "Toronto", "Ontario"),
    Place("United States", "Austin", "Texas"),
    Place("Germany", "Berlin"),
    Place("United Kingdom", "330", did_type="national"),
    Place("United Kingdom", "7", did_type="mobile"),
    Place("United Kingdom", "800", did_type="tollfree"),
)
RELAY_NUMBERS: tuple[str, ...] = tuple(f"4411300012{i}" for i in range(6))
OUTBOUND_NAMES: tuple[str, ...] = ("wakeup", "reminders", "survey", "legacy-dialer")
SIP_NAMES: tuple[str, ...] = ("sales-sip", "support-desk", "night-line", "test-desk")

# Environment variables the desired states read, and their values in every run.
ENVIRON: dict[str, str] = {
    "ACULAB_API_KEY": "sim-api-key",
    "AQL_PASSWORD": "sim-aql-password",
    **{f"PW_{name.upper().replace('-', '_')}": f"pw-{name}-0451" for name in OUTBOUND_NAMES},
}

# Fault profiles: each alone, then all together. Rates as the issue asks (20%); waits kept
# small (Retry-After 0, lag under a second) so that fifty scenarios run in a minute or two.
PROFILES: dict[str, Faults] = {
    "5xx": Faults(error_rate=0.2),
    "429": Faults(rate_limit=0.2, retry_after_s=0),
    "jitter": Faults(latency_ms=1, latency_jitter_ms=12),
    "lost-reply": Faults(lost_purchase_reply="drop", lost_purchase_rate=0.6),
    "list-lag": Faults(list_lag_s=0.8),
    "combined": Faults(
        error_rate=0.2,
        rate_limit=0.2,
        retry_after_s=0,
        latency_ms=1,
        latency_jitter_ms=8,
        lost_purchase_reply="drop",
        lost_purchase_rate=0.6,
        list_lag_s=0.8,
        garbage_rate=0.03,
    ),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


@dataclass
class Scenario:
    """One seeded scenario: the account to start from, the desired state, the faults and
    what must hold at the end."""

    seed: int
    profile: str
    state: dict[str, Any]  # SimState fields to install: numbers, services, relay
    desired: dict[str, Any]  # without endpoints (they depend on the port)
    pools: dict[str, tuple[Place, int]]
    pinned: set[str]
    prune_numbers: bool
    ignored_numbers: set[str]

    @property
    def faults(self) -> Faults:
        """The profile's faults, their dice seeded by the scenario's seed."""
        return dataclasses.replace(PROFILES[self.profile], seed=self.seed)

    def describe(self) -> str:
        pools = ", ".join(f"{n}={c}" for n, (_p, c) in sorted(self.pools.items()))
        return (
            f"seed {self.seed} ({self.profile}): {len(self.state['numbers'])} live numbers, "
            f"pools [{pools}], {len(self.pinned)} pinned, prune numbers {self.prune_numbers}"
        )

    # ----------------------------------------------------------------- the account

    def install(self, sim: Simulator) -> None:
        """Put the scenario's account into a fresh simulator (no purchase logged)."""
        state = sim.state
        state.numbers = copy.deepcopy(self.state["numbers"])
        state.services = copy.deepcopy(self.state["services"])
        state.relay = dict(self.state["relay"])
        state.serial = self.state["serial"]
        state.purchase_log = []
        state.visible_after = {}

    def yaml_text(self, base_url: str, aql_url: str) -> str:
        data = dict(self.desired)
        data["aculab"] = {**data["aculab"], "endpoint": base_url}
        data["aql"] = {**data["aql"], "endpoint": aql_url}
        return yaml.safe_dump(data, sort_keys=False, width=200)

    # ----------------------------------------------------------------- expectations

    def at(self, numbers: dict[str, dict[str, str]], place: Place) -> set[str]:
        """The numbers at ``place`` that count toward a pool (pinned ones never do)."""
        return {n for n, info in numbers.items() if place.holds(info) and n not in self.pinned}

    def expected_purchases(self) -> dict[str, int]:
        """Pool -> how many numbers it must buy, from the starting account."""
        start = self.state["numbers"]
        return {
            name: max(0, count - len(self.at(start, place)))
            for name, (place, count) in self.pools.items()
        }

    def expected_release_count(self) -> int:
        """How many of the starting numbers must be gone at the end."""
        start = self.state["numbers"]
        surplus = sum(
            max(0, len(self.at(start, place)) - count) for place, count in self.pools.values()
        )
        pooled = {p for p, _c in self.pools.values()}
        stray = [
            n
            for n, info in start.items()
            if n not in self.pinned
            and not any(p.holds(info) for p in pooled)
            and n not in self.ignored_numbers
        ]
        return surplus + (len(stray) if self.prune_numbers else 0)


# --------------------------------------------------------------------------- drawing


def _address(rng: random.Random, what: str) -> str:
    return f"https://app.example.com/{what}/{rng.randint(1, 4)}"


def _rest(rng: random.Random, what: str) -> dict[str, Any]:
    return {"application_type": "REST", "rest": {"first_page": {"address": _address(rng, what)}}}


def _buy(state: Any, place: Place, quantity: int) -> list[str]:
    return sim_numbers.purchase(state, place.params(quantity))


def make_scenario(seed: int, profile: str | None = None) -> Scenario:
    """The scenario of ``seed`` (the profile cycles with the seed unless given)."""
    rng = random.Random(seed)
    profile = profile or PROFILE_NAMES[seed % len(PROFILE_NAMES)]
    scratch = Simulator(seed="empty", rng_seed=seed)
    state = scratch.state

    # The live account: a few locations with 0-3 numbers each, bought over the years.
    places = rng.sample(PLACES, k=rng.randint(3, 6))
    for place in places:
        for number in _buy(state, place, rng.randint(1, 3)):
            state.numbers[number]["purchased"] = (
                f"20{rng.randint(15, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            )
    live_numbers = sorted(state.numbers)
    inbound = state.services["inbound"]
    for number in live_numbers:
        if rng.random() < 0.5:
            inbound[number] = sim_services.fill_defaults("inbound", _rest(rng, "support"))
    for name in rng.sample(SIP_NAMES, k=rng.randint(0, 3)):
        inbound[name] = sim_services.fill_defaults("inbound", _rest(rng, name))
    outbound = state.services["outbound"]
    for name in rng.sample(OUTBOUND_NAMES, k=rng.randint(0, 3)):
        config = {**_rest(rng, name), "service_password": f"old-{name}-{rng.randint(1, 2)}"}
        if rng.random() < 0.5:
            config["description"] = f"{name} (by hand)"
        outbound[name] = sim_services.fill_defaults("outbound", config)
    relay_actions = ["null-route", "email", "httpget", "httppost", "mvno"]
    for number in RELAY_NUMBERS:
        action = rng.choice(relay_actions)
        detail = {
            "null-route": "",
            "mvno": "",
            "email": f"sms{rng.randint(1, 3)}@example.com",
            "httpget": f"https://sms.example.com/in?id=%i&n={rng.randint(1, 3)}",
            "httppost": f"https://sms.example.com/post?id=%i&n={rng.randint(1, 3)}",
        }[action]
        state.relay[number] = (action, detail)

    # The desired state.
    pool_places = rng.sample(PLACES, k=rng.randint(1, 4))
    pinned = set(rng.sample(live_numbers, k=min(len(live_numbers), rng.randint(0, 2))))
    templates = {
        "support-app": _rest(rng, "support"),
    }
    pools: dict[str, dict[str, Any]] = {}
    pool_plan: dict[str, tuple[Place, int]] = {}
    for place in pool_places:
        name = f"{place.region.lower()}-{place.did_type}"
        count = rng.randint(0, 3)
        spec = place.pool(count)
        roll = rng.random()
        if roll < 0.4:
            spec["inbound"] = {"template": "support-app"}
        elif roll < 0.55:
            spec["inbound"] = {"template": "support-app", "mode": "replace"}
        elif roll < 0.7:
            spec["inbound"] = {**_rest(rng, name), "description": f"pool {name}"}
        pools[name] = spec
        pool_plan[name] = (place, count)

    inbound_services: dict[str, Any] = {}
    for number in sorted(pinned):
        if rng.random() < 0.6:
            inbound_services[number] = {"template": "support-app", "description": "pinned line"}
    for name in rng.sample(SIP_NAMES, k=rng.randint(0, 3)):
        spec = _rest(rng, name)
        if rng.random() < 0.3:
            spec["mode"] = "replace"
        if rng.random() < 0.3:
            spec["description"] = f"{name} desk"
        inbound_services[name] = spec

    outbound_services: dict[str, Any] = {}
    for name in rng.sample(OUTBOUND_NAMES, k=rng.randint(0, 3)):
        spec = {
            **_rest(rng, name),
            "service_password": "${PW_" + name.upper().replace("-", "_") + "}",
        }
        if rng.random() < 0.4:
            spec["mode"] = "replace"
        if rng.random() < 0.3:
            spec["ignore_changes"] = ["description"]
        outbound_services[name] = spec

    relay_routes: dict[str, Any] = {}
    for number in rng.sample(RELAY_NUMBERS, k=rng.randint(0, 4)):
        action = rng.choice(["null-route", "email", "httpget", "httppost"])
        route: dict[str, Any] = {"action": action}
        if action == "email":
            route["detail"] = [f"sms{i}@example.com" for i in range(1, rng.randint(2, 3))]
        elif action in ("httpget", "httppost"):
            route["detail"] = [
                f"https://sms.example.com/{action}?id=%i&n={i}" for i in range(rng.randint(1, 2))
            ]
        if state.relay[number][0] == "mvno" and rng.random() < 0.5:
            route["allow_mvno_takeover"] = True
        relay_routes[number] = route

    prune: dict[str, Any] = {
        "numbers": rng.random() < 0.5,
        "inbound_services": rng.random() < 0.5,
        "outbound_services": rng.random() < 0.5,
    }
    ignore: list[str] = []
    if rng.random() < 0.5:
        ignore.append("test-*")
    strays = [
        n
        for n in live_numbers
        if n not in pinned and not any(p.holds(state.numbers[n]) for p in pool_places)
    ]
    ignored: set[str] = set()
    if strays and rng.random() < 0.5:
        kept = rng.choice(strays)
        ignore.append(kept)
        ignored.add(kept)
    if ignore:
        prune["ignore"] = ignore

    desired: dict[str, Any] = {
        "version": 1,
        "aculab": {
            "cloud_id": "1-2-0",
            "username": "ops@example.com",
            "api_key": "${ACULAB_API_KEY}",
        },
        "aql": {"username": "example", "password": "${AQL_PASSWORD}"},
        "templates": templates,
        "numbers": {"pools": pools},
    }
    if pinned:
        desired["numbers"]["pinned"] = {n: {} for n in sorted(pinned)}
    if inbound_services:
        desired["inbound_services"] = inbound_services
    if outbound_services:
        desired["outbound_services"] = outbound_services
    if relay_routes:
        desired["relay_routes"] = relay_routes
    desired["prune"] = prune
    desired["safety"] = {"max_purchase": 50, "max_delete_percent": 100, "max_update_percent": 100}

    return Scenario(
        seed=seed,
        profile=profile,
        state={
            "numbers": state.numbers,
            "services": state.services,
            "relay": state.relay,
            "serial": state.serial,
        },
        desired=desired,
        pools=pool_plan,
        pinned=pinned,
        prune_numbers=bool(prune["numbers"]),
        ignored_numbers=ignored,
    )
