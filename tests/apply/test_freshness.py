"""A saved plan is applied only while it is still the plan: the resources it depends on are
unchanged and planning again gives the same plan."""

from __future__ import annotations

import pytest

from reconciler.apply.freshness import check_saved_plan, plan_differences, stale_resources
from reconciler.desired.model import Location
from reconciler.errors import PlanMismatchError, StalePlanError
from reconciler.live.model import LiveNumber, LiveService, LiveState
from reconciler.plan.changes import ABSENT, CreateService, Plan, Purchase, UpdateService

LONDON = Location(country="United Kingdom", region="London")
NUMBER = LiveNumber("442079460123", "United Kingdom", "London", "geographic", None, "3.00")


def live(description: str = "Wake-up calls", with_new: bool = False) -> LiveState:
    inbound = {"sales-sip": LiveService("inbound", "sales-sip", {"x": 1})} if with_new else {}
    return LiveState(
        numbers={NUMBER.number: NUMBER},
        outbound_names=frozenset({"wakeup"}),
        outbound={"wakeup": LiveService("outbound", "wakeup", {"description": description})},
        inbound_names=frozenset(inbound),
        inbound=inbound,
    )


def saved_plan(state: LiveState, quantity: int = 2) -> Plan:
    fingerprints = state.resource_fingerprints()
    changes = (
        Purchase(pool="london", location=LONDON, quantity=quantity, existing=(NUMBER.number,)),
        CreateService(service_kind="inbound", name="sales-sip", body={"x": 1}),
        UpdateService("outbound", "wakeup", "PATCH", {"description": "Wake"}, ()),
    )
    deps = {k for c in changes for k in c.depends_on}
    return Plan(changes=changes, fingerprints={k: fingerprints.get(k, ABSENT) for k in deps})


def test_an_unchanged_account_and_plan_pass() -> None:
    state = live()
    check_saved_plan(saved_plan(state), saved_plan(state), state)


def test_each_kind_of_change_to_a_dependency_is_named() -> None:
    plan = saved_plan(live())
    now = live(description="by hand", with_new=True)
    now_numbers = LiveState(
        numbers={},
        outbound_names=now.outbound_names,
        outbound=now.outbound,
        inbound_names=now.inbound_names,
        inbound=now.inbound,
    )
    assert stale_resources(plan, now_numbers) == [
        "inbound:sales-sip: appeared since the plan was made",
        "number:442079460123: is gone since the plan was made",
        "outbound:wakeup: changed since the plan was made",
    ]
    with pytest.raises(StalePlanError) as err:
        check_saved_plan(plan, plan, now_numbers)
    assert "outbound:wakeup: changed" in err.value.message


def test_a_different_re_plan_is_refused_naming_the_change() -> None:
    state = live()
    with pytest.raises(PlanMismatchError) as err:
        check_saved_plan(saved_plan(state, quantity=2), saved_plan(state, quantity=3), state)
    assert err.value.changed == ["purchase pool:london: different now"]
    assert plan_differences(saved_plan(state), Plan()) == [
        "create_service inbound:sales-sip: in the saved plan, no longer needed",
        "purchase pool:london: in the saved plan, no longer needed",
        "update_service outbound:wakeup: in the saved plan, no longer needed",
    ]
