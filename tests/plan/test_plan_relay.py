"""Planner rules for aql relay routes."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.plan.changes import ModifyRelay
from reconciler.plan.planner import make_plan

from .factory import desired, live, route

N = "44113000111"


@pytest.mark.parametrize(
    ("declared", "current", "changed"),
    [
        (("httppost", "https://a", "https://b"), ("httppost", "https://a", "https://b"), False),
        (("null-route",), ("null-route",), False),
        (("null-route",), ("null-route", ""), False),  # an empty detail is no detail
        (("httppost", "https://a"), ("httpget", "https://a"), True),  # action
        (("httppost", "https://a"), ("httppost", "https://b"), True),  # detail
        (("httppost", "https://a", "https://b"), ("httppost", "https://b", "https://a"), True),
        (("email", "a@example.com"), ("email", "a@example.com", "b@example.com"), True),
    ],
)
def test_relay_routes_compare_action_and_detail(
    declared: tuple[str, ...], current: tuple[str, ...], changed: bool
) -> None:
    plan = make_plan(desired(routes=[route(N, *declared)]), live(routes={N: current}))
    if not changed:
        assert plan.is_empty
        return
    [change] = plan.changes
    assert isinstance(change, ModifyRelay)
    assert (change.new_action, change.new_detail) == (declared[0], declared[1:])
    assert (change.old_action, change.old_detail) == (current[0], current[1:])
    assert not change.mvno_takeover
    assert plan.counts()["relay"] == 1


def test_an_mvno_route_is_left_alone_with_a_warning() -> None:
    plan = make_plan(desired(routes=[route(N, "null-route", line=31)]), live(routes={N: ("mvno",)}))
    assert plan.is_empty
    assert plan.warnings == (
        f"desired.yaml:31:3: relay route {N} delivers to an MVNO SIM; left alone (set "
        "allow_mvno_takeover: true to take it over)",
    )


def test_an_mvno_route_is_taken_over_only_when_allowed() -> None:
    d = desired(routes=[route(N, "httpget", "https://a", allow_mvno_takeover=True, line=31)])
    plan = make_plan(d, live(routes={N: ("mvno",)}))
    [change] = plan.changes
    assert isinstance(change, ModifyRelay)
    assert change.mvno_takeover
    assert change.old_action == "mvno"
    [warning] = plan.warnings
    assert "SMS delivery to the SIM stops" in warning


def test_a_route_that_was_not_read_is_a_plan_error() -> None:
    with pytest.raises(PlanError) as caught:
        make_plan(desired(routes=[route(N, "null-route", line=31)]), live())
    assert caught.value.problems == [
        f"desired.yaml:31:3: relay route {N} was not read from aql; run the plan again"
    ]
