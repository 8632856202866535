"""Pre-flight checks of purchases against the catalogue."""

from __future__ import annotations

import pytest

from reconciler.desired.model import Location, NumberPool
from reconciler.errors import PlanError
from reconciler.live.model import Catalogue
from reconciler.plan.planner import make_plan

from .factory import desired, live, location, number, pinned_missing_desired, pool

CATALOGUE = Catalogue(
    countries={"geographic": ("United Kingdom", "Canada", "Germany"), "tollfree": ("Canada",)},
    states={"United Kingdom": (), "Canada": ("Alberta", "Ontario", "Quebec")},
    regions={
        ("United Kingdom", "", "geographic"): ("London", "Leeds", "Manchester"),
        ("Canada", "Alberta", "geographic"): ("Calgary", "Edmonton"),
    },
    regulation_addresses={
        "HQ": ("United Kingdom", "London"),
        "Toronto office": ("Canada", "Toronto"),
    },
)


def problems_for(p: NumberPool, catalogue: Catalogue = CATALOGUE) -> list[str]:
    try:
        make_plan(desired(pools=[p]), live(catalogue=catalogue))
    except PlanError as err:
        return err.problems
    return []


@pytest.mark.parametrize(
    ("loc", "regulation_address"),
    [
        (location(region="London"), None),
        (location(country="United Kingdom", region="Leeds"), "HQ"),
        (location(country="Canada", state="Alberta", region="Calgary"), "Toronto office"),
        # Lists that were not fetched are not checked.
        (location(country="Germany", region="Berlin"), None),
    ],
)
def test_a_purchasable_location_passes(loc: Location, regulation_address: str | None) -> None:
    assert problems_for(pool("p", 1, loc=loc, regulation_address=regulation_address)) == []


@pytest.mark.parametrize(
    ("loc", "regulation_address", "expected"),
    [
        (
            location(country="Untied Kingdom", region="London"),
            None,
            "country 'Untied Kingdom' has no geographic numbers for sale (did you mean "
            "'United Kingdom'?; valid: Canada, Germany, United Kingdom)",
        ),
        (
            location(country="United Kingdom", region="800", did_type="tollfree"),
            None,
            "country 'United Kingdom' has no tollfree numbers for sale (valid: Canada)",
        ),
        (
            location(country="Canada", region="Calgary"),
            None,
            "Canada needs a state (valid: Alberta, Ontario, Quebec)",
        ),
        (
            location(country="Canada", state="Alberto", region="Calgary"),
            None,
            "state 'Alberto' is not sold in Canada (did you mean 'Alberta'?; valid: Alberta, "
            "Ontario, Quebec)",
        ),
        (
            location(country="United Kingdom", state="Kent", region="London"),
            None,
            "United Kingdom has no states; remove state 'Kent'",
        ),
        (
            location(region="Londno"),
            None,
            "region 'Londno' has no geographic numbers for sale in United Kingdom (did you "
            "mean 'London'?; valid: Leeds, London, Manchester)",
        ),
        (
            location(region="London"),
            "HQ2",
            "regulation address 'HQ2' does not exist on the account (did you mean 'HQ'?; "
            "valid: HQ, Toronto office)",
        ),
        (
            location(region="London"),
            "Toronto office",
            "regulation address 'Toronto office' is in Canada, not United Kingdom (valid for "
            "United Kingdom: HQ)",
        ),
    ],
)
def test_a_bad_location_is_a_plan_error_naming_the_pool_and_what_is_valid(
    loc: Location, regulation_address: str | None, expected: str
) -> None:
    [problem] = problems_for(pool("p", 2, loc=loc, regulation_address=regulation_address, line=14))
    assert problem == f"desired.yaml:14:3: pool p: {expected}"


def test_long_lists_are_summarised_with_close_matches() -> None:
    regions = (*(f"Town {i}" for i in range(100)), "Londonderry")
    catalogue = Catalogue(regions={("United Kingdom", "", "geographic"): regions})
    [problem] = problems_for(pool("p", 1, loc=location(region="Londonderrry")), catalogue)
    assert "did you mean 'Londonderry'?" in problem
    assert "101 are valid" in problem


def test_only_short_pools_are_checked() -> None:
    bad = location(country="Atlantis", region="Poseidonis")
    d = desired(pools=[pool("p", 1, loc=bad)])
    plan = make_plan(d, live(numbers=[number("1", loc=bad)], catalogue=CATALOGUE))
    assert plan.is_empty


def test_every_problem_is_reported_at_once() -> None:
    d = pinned_missing_desired(
        pools=[
            pool("a", 1, loc=location(country="Narnia", region="x"), line=3),
            pool("b", 1, loc=location(region="Nowhere"), line=4),
        ]
    )
    with pytest.raises(PlanError) as caught:
        make_plan(d, live(catalogue=CATALOGUE))
    text = str(caught.value)
    assert "pinned number 449 is not on the account" in text
    assert "desired.yaml:3:3: pool a: country 'Narnia'" in text
    assert "desired.yaml:4:3: pool b: region 'Nowhere'" in text


@pytest.mark.parametrize(
    ("loc", "regulation_address", "expected"),
    [
        (location(region="LONDON"), None, "region 'LONDON' is not spelt as the server lists it: "
         "did you mean 'London'?"),
        (location(country="united kingdom", region="Leeds"), None, "country 'united kingdom' is "
         "not spelt as the server lists it: did you mean 'United Kingdom'?"),
        (location(country="Canada", state="alberta", region="Calgary"), None, "state 'alberta' "
         "is not spelt as the server lists it: did you mean 'Alberta'?"),
        (location(region="London"), "hq", "regulation address 'hq' is not spelt as the server "
         "lists it: did you mean 'HQ'?"),
    ],
)  # fmt: skip
def test_a_name_spelt_otherwise_than_the_server_lists_it_is_a_plan_error(
    loc: Location, regulation_address: str | None, expected: str
) -> None:
    # The vendor refuses a purchase for "LONDON" where it sells "London".
    [problem] = problems_for(pool("p", 1, loc=loc, regulation_address=regulation_address))
    assert expected in problem
    assert problem.startswith("desired.yaml:")
