"""Planner rules for numbers: pools, pins, prune, releases, purchases and their price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.desired.model import PruneSettings
from reconciler.errors import PlanError
from reconciler.plan.changes import CreateService, Purchase, Release
from reconciler.plan.planner import make_plan, release_order

from .factory import desired, live, location, number, pool, service

LONDON = location(region="London")
LEEDS = location(region="Leeds")


def test_nothing_declared_and_nothing_live_is_an_empty_plan() -> None:
    plan = make_plan(desired(), live())
    assert plan.is_empty
    assert plan.unmanaged_numbers == ()


def test_a_short_pool_gets_one_purchase_of_the_difference() -> None:
    p = pool(
        "freephone",
        5,
        loc=location(region="800", did_type="tollfree"),
        allow_landline=True,
        allow_payphone=True,
        regulation_address="HQ",
        inbound={"application_type": "REST"},
    )
    at_loc = location(region="800", did_type="tollfree")
    plan = make_plan(
        desired(pools=[p]),
        live(numbers=[number("44800000002", loc=at_loc), number("44800000001", loc=at_loc)]),
    )
    [purchase] = plan.of(Purchase)
    assert purchase.quantity == 3
    assert purchase.location == at_loc
    assert (purchase.allow_landline, purchase.allow_cellular, purchase.allow_payphone) == (
        True,
        False,
        True,
    )
    assert purchase.regulation_address == "HQ"
    assert purchase.inbound is p.inbound
    assert purchase.existing == ("44800000001", "44800000002")
    assert purchase.purchase_params() == {
        "country": "United Kingdom",
        "region": "800",
        "quantity": "3",
        "did_type": "tollfree",
        "regulation_address": "HQ",
        "allow_landline": "True",
        "allow_cellular": "False",
        "allow_payphone": "True",
    }
    counts = plan.counts()
    assert counts["purchase"] == 3
    # The two live numbers have no inbound service yet: two creates, plus three pending.
    assert [c.address for c in plan.of(CreateService)] == [
        "inbound:44800000001",
        "inbound:44800000002",
    ]
    assert (counts["create"], counts["create_pending"]) == (5, 3)


def test_a_full_pool_changes_nothing() -> None:
    plan = make_plan(
        desired(pools=[pool("london", 2)]),
        live(numbers=[number("441"), number("442")]),
    )
    assert plan.is_empty


def test_live_numbers_match_pools_by_location_case_insensitively() -> None:
    plan = make_plan(
        desired(pools=[pool("london", 1, loc=location(country="united kingdom", region="LONDON"))]),
        live(numbers=[number("441", loc=LONDON)]),
    )
    assert plan.is_empty
    assert plan.unmanaged_numbers == ()


def test_a_number_of_another_did_type_does_not_count_for_the_pool() -> None:
    plan = make_plan(
        desired(pools=[pool("london", 1)]),
        live(numbers=[number("441", loc=location(region="London", did_type="national"))]),
    )
    assert [type(c) for c in plan.changes] == [Purchase]
    assert plan.unmanaged_numbers == ("441",)


@pytest.mark.parametrize(
    ("numbers", "with_service", "count", "released"),
    [
        # without an inbound service first
        (
            [("1", "2024-01-01"), ("2", "2024-01-01"), ("3", "2024-01-01")],
            {"1", "3"},
            2,
            ["2"],
        ),
        # then the most recently purchased
        ([("1", "2024-01-01"), ("2", "2024-03-01"), ("3", "2024-02-01")], set(), 1, ["2", "3"]),
        # ties broken by number
        ([("9", "2024-01-01"), ("5", "2024-01-01"), ("7", "2024-01-01")], set(), 1, ["5", "7"]),
        # an unknown purchase date is released last
        ([("1", None), ("2", "2020-01-01")], set(), 1, ["2"]),
        # a number with a service goes only after every number without one
        ([("1", "2024-09-09"), ("2", "2020-01-01")], {"1"}, 1, ["2"]),
    ],
)
def test_a_pool_over_its_count_releases_the_surplus_in_order(
    numbers: list[tuple[str, str | None]],
    with_service: set[str],
    count: int,
    released: list[str],
) -> None:
    plan = make_plan(
        desired(pools=[pool("london", count)]),
        live(
            numbers=[number(n, purchased=d) for n, d in numbers],
            inbound_names=with_service,
        ),
    )
    releases = plan.of(Release)
    assert sorted(r.number for r in releases) == sorted(released)
    for r in releases:
        assert r.pool == "london"
        assert r.reason == f"pool london has {len(numbers)} numbers, wants {count}"
        assert r.has_inbound_service == (r.number in with_service)


def test_release_order_is_deterministic() -> None:
    nums = [number(n, purchased="2024-01-01") for n in ("3", "1", "2")]
    assert [n.number for n in release_order(nums, frozenset())] == ["1", "2", "3"]
    assert [n.number for n in release_order(nums[::-1], frozenset())] == ["1", "2", "3"]


def test_a_release_carries_its_listed_monthly_price() -> None:
    plan = make_plan(desired(pools=[pool("london", 0)]), live(numbers=[number("441", price="2.5")]))
    [release] = plan.changes
    assert isinstance(release, Release)
    assert release.monthly_price == Decimal("2.5")


def test_pinned_numbers_are_outside_pools_counts_and_never_released() -> None:
    # The pool wants 1 number at London; the only London number is pinned, so the pool
    # buys one, and a pool of 0 never releases the pinned number.
    d = desired(pools=[pool("london", 1)], pinned=["441"])
    plan = make_plan(d, live(numbers=[number("441")]))
    [purchase] = plan.changes
    assert isinstance(purchase, Purchase) and purchase.quantity == 1
    assert purchase.existing == ()

    plan = make_plan(
        desired(pools=[pool("london", 0)], pinned=["441"]), live(numbers=[number("441")])
    )
    assert plan.is_empty


def test_a_pinned_number_is_never_pruned() -> None:
    d = desired(pinned=["441"], prune=PruneSettings(numbers=True))
    plan = make_plan(d, live(numbers=[number("441")]))
    assert plan.is_empty
    assert plan.unmanaged_numbers == ()


def test_every_missing_pinned_number_is_a_plan_error_with_its_origin() -> None:
    d = desired(pinned=["441", "442", "443"])
    with pytest.raises(PlanError) as caught:
        make_plan(d, live(numbers=[number("442")]))
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("desired.yaml:5:3: pinned number 441 is not on the account")
    assert problems[1].startswith("desired.yaml:7:3: pinned number 443 is not on the account")
    assert "can't be bought back" in str(caught.value)


@pytest.mark.parametrize(
    ("prune", "released", "unmanaged"),
    [
        (PruneSettings(), [], ["447", "449"]),
        (PruneSettings(numbers=True), ["447", "449"], []),
        (PruneSettings(numbers=True, ignore=("449*",)), ["447"], ["449"]),
    ],
)
def test_numbers_matching_no_pool_or_pin(
    prune: PruneSettings, released: list[str], unmanaged: list[str]
) -> None:
    d = desired(pools=[pool("london", 1)], pinned=["448"], prune=prune)
    elsewhere = location(region="Bristol")
    lv = live(
        numbers=[
            number("441"),
            number("447", loc=elsewhere),
            number("448", loc=elsewhere),
            number("449", loc=elsewhere),
        ]
    )
    plan = make_plan(d, lv)
    releases = plan.of(Release)
    assert [r.number for r in releases] == released
    assert all(r.reason == "prune: matches no pool or pin" and r.pool is None for r in releases)
    assert list(plan.unmanaged_numbers) == unmanaged


def test_pool_ignore_globs_do_not_protect_a_pool_surplus() -> None:
    d = desired(pools=[pool("london", 0)], prune=PruneSettings(ignore=("44*",)))
    plan = make_plan(d, live(numbers=[number("441")]))
    assert [r.number for r in plan.of(Release)] == ["441"]


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        (["1.00", "1.00", "4.00"], Decimal("1.00")),  # the median, not the mean
        (["1.00", "2.00"], Decimal("1.50")),
        (["1.234"], Decimal("1.23")),
        ([None], None),  # no listed price: unknown
        ([], None),  # no number of that country and type: unknown
    ],
)
def test_purchase_price_is_estimated_from_numbers_of_the_same_country_and_type(
    prices: list[str | None], expected: Decimal | None
) -> None:
    numbers = [
        number(f"44{i}", loc=location(region=f"Region {i}"), price=price)
        for i, price in enumerate(prices)
    ]
    # Same country, other did_type, and other country: never used for the estimate.
    numbers.append(number("4480", loc=location(region="800", did_type="tollfree"), price="99"))
    numbers.append(number("1403", loc=location(country="Canada", region="Calgary"), price="99"))
    plan = make_plan(desired(pools=[pool("leeds", 2, loc=LEEDS)]), live(numbers=numbers))
    [purchase] = plan.of(Purchase)
    assert purchase.unit_price == expected
    assert purchase.price_estimated


def test_plan_counts_and_cost() -> None:
    d = desired(pools=[pool("london", 3), pool("leeds", 0, loc=LEEDS)])
    lv = live(
        numbers=[
            number("441", price="2.00"),
            number("442", loc=LEEDS, price="0.50"),
            number("443", loc=LEEDS, price=None),
        ]
    )
    plan = make_plan(d, lv)
    assert plan.counts() == {
        "purchase": 2,
        "create": 0,
        "create_pending": 0,
        "update": 0,
        "delete": 0,
        "relay": 0,
        "release": 2,
    }
    cost = plan.cost()
    # The estimate is the median of every UK geographic number: 0.50 and 2.00.
    assert cost.purchased == Decimal("2.50")
    assert cost.purchased_unknown == 0
    assert cost.released == Decimal("0.50")
    assert cost.released_unknown == 1
    assert cost.net == Decimal("2.00")


def test_prune_never_releases_a_number_whose_inbound_service_the_yaml_declares() -> None:
    # The YAML declares a service for 447 (it expects calls to 447): releasing 447 would
    # lose a number the desired state uses, so number pruning leaves it alone.
    d = desired(
        services=[service("447", {"description": "Main line"})],
        prune=PruneSettings(numbers=True),
    )
    lv = live(
        numbers=[number("447", loc=LEEDS), number("449", loc=LEEDS)],
        inbound={"447": {"description": "Main line"}},
    )
    plan = make_plan(d, lv)
    assert [r.number for r in plan.of(Release)] == ["449"]
    assert list(plan.unmanaged_numbers) == ["447"]


def test_a_pool_surplus_never_releases_a_number_whose_inbound_service_is_declared() -> None:
    d = desired(pools=[pool("london", 1)], services=[service("442", {"description": "Sales"})])
    lv = live(
        numbers=[number("441", purchased="2020-01-01"), number("442", purchased="2024-01-01")],
        # Both have a service; 442 is the most recent, but its service is declared.
        inbound={"441": {"description": "Old"}, "442": {"description": "Sales"}},
    )
    plan = make_plan(d, lv)
    assert [r.number for r in plan.of(Release)] == ["441"]

    # Both declared: nothing can go; the pool stays over its count, with a warning.
    d = desired(
        pools=[pool("london", 1)],
        services=[service("441", {"description": "A"}), service("442", {"description": "B"})],
    )
    lv = live(
        numbers=[number("441"), number("442")],
        inbound={"441": {"description": "A"}, "442": {"description": "B"}},
    )
    plan = make_plan(d, lv)
    assert plan.of(Release) == []
    assert any("london" in w and "declared" in w for w in plan.warnings)
