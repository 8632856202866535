"""Round trips: a live account equal to the desired state plans empty; applying a plan's
changes to a model of the account (with the API's PUT/PATCH semantics) converges."""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.configuration import deep_merge, schema_defaults
from reconciler.desired.model import DesiredState
from reconciler.live.model import LiveNumber, LiveRelayRoute, LiveService, LiveState
from reconciler.plan.changes import (
    CreateService,
    DeleteService,
    ModifyRelay,
    Plan,
    Purchase,
    Release,
    UpdateService,
)
from reconciler.plan.planner import make_plan

from .factory import rich


def _put(live: LiveState, kind: str, body: Any) -> dict[str, Any]:
    schema = live.service_schemas.get(kind)
    return deep_merge(schema_defaults(schema) if schema else {}, body)


def apply_to_model(plan: Plan, live: LiveState, *, new_numbers: list[str]) -> LiveState:
    """What the account looks like after every change of ``plan`` (releases allowed)."""
    numbers = dict(live.numbers)
    services: dict[str, dict[str, LiveService]] = {
        "inbound": dict(live.inbound),
        "outbound": dict(live.outbound),
    }
    names = {"inbound": set(live.inbound_names), "outbound": set(live.outbound_names)}
    routes = dict(live.relay_routes)
    fresh = iter(new_numbers)
    for change in plan.changes:
        if isinstance(change, Purchase):
            for _ in range(change.quantity):
                n = next(fresh)
                loc = change.location
                numbers[n] = LiveNumber(n, loc.country, loc.region, loc.did_type, loc.state)
                if change.inbound is not None:
                    services["inbound"][n] = LiveService(
                        "inbound", n, _put(live, "inbound", change.inbound.config)
                    )
                    names["inbound"].add(n)
        elif isinstance(change, CreateService):
            config = _put(live, change.service_kind, change.body)
            services[change.service_kind][change.name] = LiveService(
                change.service_kind, change.name, config
            )
            names[change.service_kind].add(change.name)
        elif isinstance(change, UpdateService):
            old = services[change.service_kind][change.name].config
            if change.method == "PUT":
                config = _put(live, change.service_kind, change.body)
            else:
                config = deep_merge(old, change.body)
            services[change.service_kind][change.name] = LiveService(
                change.service_kind, change.name, config
            )
        elif isinstance(change, DeleteService):
            services[change.service_kind].pop(change.name, None)
            names[change.service_kind].discard(change.name)
        elif isinstance(change, ModifyRelay):
            routes[change.number] = LiveRelayRoute(
                change.number, change.new_action, change.new_detail
            )
        elif isinstance(change, Release):
            numbers.pop(change.number)
    return dataclasses.replace(
        live,
        numbers=numbers,
        inbound=services["inbound"],
        outbound=services["outbound"],
        inbound_names=frozenset(names["inbound"]),
        outbound_names=frozenset(names["outbound"]),
        relay_routes=routes,
    )


def test_applying_a_plan_converges_to_an_empty_plan() -> None:
    d, lv = rich()
    first = make_plan(d, lv)
    assert not first.is_empty
    after = apply_to_model(first, lv, new_numbers=["44800000001", "44800000002", "441000000009"])
    second = make_plan(d, after)
    assert second.is_empty, [c.address for c in second.changes]
    assert second.warnings == first.warnings  # the MVNO route left alone is still reported


def live_equal_to(desired: DesiredState, live: LiveState) -> LiveState:
    """The account exactly as ``desired`` describes it (pool numbers taken from ``live``)."""
    plan = make_plan(desired, live)
    fresh = [f"4499{i:06d}" for i in range(100)]
    return apply_to_model(plan, live, new_numbers=fresh)


def test_live_equal_to_desired_gives_an_empty_plan() -> None:
    d, lv = rich()
    same = live_equal_to(d, lv)
    plan = make_plan(d, same)
    assert plan.is_empty
    assert plan.counts() == dict.fromkeys(plan.counts(), 0)
    # Planning is pure: the same inputs give the same plan.
    assert make_plan(d, same) == plan
