"""Renderers: golden files for text, JSON and Markdown; JSON validated by its schema."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from reconciler.desired.model import PruneSettings
from reconciler.plan.changes import Plan
from reconciler.plan.planner import make_plan
from reconciler.plan.render import NO_CHANGES, render_json, render_markdown, render_text
from reconciler.plan.safety import Verdict, check_safety
from reconciler.plan.saved import plan_schema

from .factory import (
    TEMPLATE_EMPTY,
    desired,
    live,
    location,
    number,
    pool,
    rich,
    route,
    service,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def blocked(plan: Plan) -> Verdict:
    """The verdict `reconciler plan` renders with: releases blocked (no --allow-release)."""
    return check_safety(plan, plan.safety, allow_release=False, force=False)


def allowed(plan: Plan) -> Verdict:
    return check_safety(plan, plan.safety, allow_release=True, force=False)


def _text(plan: Plan, *, color: bool, allow: bool = False) -> str:
    return render_text(plan, allowed(plan) if allow else blocked(plan), color=color)


def _json(plan: Plan, *, allow: bool = False) -> str:
    return render_json(plan, allowed(plan) if allow else blocked(plan))


def _markdown(plan: Plan, *, allow: bool = False) -> str:
    return render_markdown(plan, allowed(plan) if allow else blocked(plan))


def check_golden(name: str, text: str) -> None:
    """Compare with ``golden/<name>``; ``UPDATE_GOLDEN=1`` rewrites the file instead."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1 to accept)"


def rich_plan() -> Plan:
    return make_plan(*rich())


def empty_plan() -> Plan:
    return make_plan(desired(), live())


def warned_plan() -> Plan:
    d = desired(routes=[route("44113000112", "null-route", line=33)], pools=[pool("p", 0)])
    return make_plan(
        d,
        live(
            routes={"44113000112": ("mvno",)},
            numbers=[number(f"44{i}", loc=location(region="Bristol")) for i in range(25)],
        ),
    )


def prune_plan() -> Plan:
    d = desired(
        pools=[pool("p", 2, inbound=TEMPLATE_EMPTY)],
        routes=[route("44113000112", "email", "a@example.com", allow_mvno_takeover=True)],
        prune=PruneSettings(numbers=True),
    )
    return make_plan(
        d,
        live(
            routes={"44113000112": ("mvno",)},
            numbers=[number("447", loc=location(region="Bristol"), price=None)],
        ),
    )


def grouped_plan(size: int = 12, releases: int = 4, unmanaged: int = 14) -> Plan:
    """The same edit to every number of a pool (its inbound description), releases alike
    but for the number, and undeclared services: what the grouped outputs fold."""
    london, leeds = location(region="London"), location(region="Leeds")
    numbers = [number(f"4410000{i:05d}", loc=london) for i in range(size)]
    numbers += [number(f"4420000{i:05d}", loc=leeds) for i in range(releases + 1)]
    d = desired(
        pools=[
            pool("support", size, loc=london, inbound={"description": "Support line"}),
            pool("leeds", 1, loc=leeds, line=18),
        ],
        services=[service("sales-sip", {"application_type": "REST"}, line=44)],
    )
    inbound = {n.number: {"description": "support"} for n in numbers[:size]}
    inbound.update({f"legacy-{i:02d}": {} for i in range(unmanaged)})
    return make_plan(d, live(numbers=numbers, inbound=inbound))


PLANS: dict[str, Callable[[], Plan]] = {
    "rich": rich_plan,
    "empty": empty_plan,
    "warned": warned_plan,
    "prune": prune_plan,
    "grouped": grouped_plan,
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_text_golden(name: str) -> None:
    plan = PLANS[name]()
    check_golden(f"{name}.txt", _text(plan, color=False) + "\n")


def test_text_golden_with_colour_and_allowed_releases() -> None:
    plan = rich_plan()
    check_golden("rich.color.txt", _text(plan, color=True) + "\n")
    check_golden("rich.allow-release.txt", _text(plan, allow=True, color=False) + "\n")


@pytest.mark.parametrize("name", sorted(PLANS))
def test_json_golden(name: str) -> None:
    check_golden(f"{name}.json", _json(PLANS[name]()) + "\n")


@pytest.mark.parametrize("name", sorted(PLANS))
def test_markdown_golden(name: str) -> None:
    check_golden(f"{name}.md", _markdown(PLANS[name]()))


@pytest.mark.parametrize("allow_release", [False, True])
@pytest.mark.parametrize("name", sorted(PLANS))
def test_every_json_plan_validates_against_the_schema(name: str, allow_release: bool) -> None:
    data = json.loads(_json(PLANS[name](), allow=allow_release))
    jsonschema.Draft202012Validator(plan_schema()).validate(data)
    assert data["format_version"] == 2


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(plan_schema())


def test_json_is_stable_and_sorted() -> None:
    first, second = _json(rich_plan()), _json(rich_plan())
    assert first == second
    data = json.loads(first)
    assert list(data) == sorted(data)
    assert [c["kind"] for c in data["changes"]] == [
        "purchase",
        "purchase",
        "create_service",
        "update_service",
        "update_service",
        "update_service",
        "modify_relay",
        "delete_service",
        "release",
        "release",
    ]


def test_summary_line() -> None:
    text = _text(rich_plan(), color=False)
    assert (
        "Plan: 3 to purchase, 2 to create (1 for new numbers), 3 to update, 1 to delete, "
        "2 to release (blocked: needs --allow-release), 1 relay route to change"
    ) in text.splitlines()
    allowed_text = _text(rich_plan(), allow=True, color=False)
    assert (
        "Plan: 3 to purchase, 2 to create (1 for new numbers), 3 to update, 1 to delete, "
        "2 to release, 1 relay route to change"
    ) in allowed_text.splitlines()
    assert "blocked" not in allowed_text


def test_field_level_diff_lines() -> None:
    text = _text(rich_plan(), color=False)
    assert (
        '      ~ rest.first_page.address: "https://old.example.com/support" -> '
        '"https://app.example.com/support"'
    ) in text.splitlines()
    assert "      ~ service_password: (sensitive) -> (sensitive)" in text.splitlines()


def test_empty_plan_says_so() -> None:
    assert _text(empty_plan(), color=False) == NO_CHANGES
    assert NO_CHANGES in _markdown(empty_plan())


def test_colour_only_when_asked() -> None:
    assert "\x1b[" not in _text(rich_plan(), color=False)
    coloured = _text(rich_plan(), color=True)
    assert "\x1b[32m" in coloured and "\x1b[31m" in coloured  # green +, red -
    assert "\x1b[" not in _json(rich_plan()) + _markdown(rich_plan())


def test_cost_line() -> None:
    text = _text(rich_plan(), color=False)
    assert text.splitlines()[-1] == (
        "Monthly cost: +$0.98 est. for 3 new numbers (2 of them unknown), -$1.85 for 2 "
        "released numbers (blocked); net -$0.87 est. plus unknown"
    )
    prune = _text(prune_plan(), color=False)
    assert prune.splitlines()[-1] == (
        "Monthly cost: unknown for 2 new numbers (no such numbers on the account to estimate "
        "from), unknown for 1 released number (no listed price) (blocked)"
    )


def test_markdown_collapses_long_diffs() -> None:
    md = _markdown(warned_plan())
    assert "<details>" not in md
    big = {f"key{i}": i for i in range(10)}
    d2 = desired(services=[service("big", big)])
    md = _markdown(make_plan(d2, live(inbound={"big": {}})))
    assert "<details><summary><code>inbound:big</code>: 10 fields</summary>" in md
    assert "| ➕ " not in md and "| 🔄 | `inbound:big` | update (PATCH) | 10 fields |" in md


def test_the_same_edit_to_many_resources_shows_once_with_its_count_and_names() -> None:
    plan = grouped_plan()
    text = _text(plan, color=False)
    assert "  ~ 12 inbound services: update (PATCH)" in text.splitlines()
    assert text.count('~ description: "support" -> "Support line"') == 1
    assert "inbound:441000000000, inbound:441000000001" in text and "and 7 more" in text
    assert "  - 4 numbers: release (blocked: needs --allow-release)" in text.splitlines()
    md = _markdown(plan)
    assert md.count("- description:") == 1 and "12 inbound services" in md
    data = json.loads(_json(plan))
    assert len(data["changes"]) == 12 + 4 + 1  # every change is still there
    assert [(g["kind"], g["count"]) for g in data["groups"]] == [
        ("update_service", 12),
        ("release", 4),
    ]
    assert data["groups"][0]["addresses"] == [f"inbound:4410000{i:05d}" for i in range(12)]


def test_changes_that_differ_are_not_folded() -> None:
    d = desired(services=[service("a", {"x": 1}), service("b", {"x": 2})])
    plan = make_plan(d, live(inbound={"a": {"x": 0}, "b": {"x": 0}}))
    assert [len(g) for g in plan.groups()] == [1, 1]
    assert "2 inbound services" not in _text(plan, color=False)


def test_unmanaged_services_are_listed_with_their_count() -> None:
    plan = grouped_plan(unmanaged=14)
    assert plan.unmanaged_services == tuple(f"inbound:legacy-{i:02d}" for i in range(14))
    text = _text(plan, color=False)
    assert (
        "Unmanaged: 14 inbound services on the account are declared nowhere and left alone "
        "(see prune.inbound_services):"
    ) in text.splitlines()
    assert "inbound:legacy-09 and 4 more" in text
    assert "14 inbound services on the account" in _markdown(plan)


def test_markdown_of_a_5000_number_pool_change_fits_one_github_comment() -> None:
    plan = grouped_plan(size=5000, releases=0, unmanaged=3000)
    md = _markdown(plan)
    assert len(md) < 65_536
    assert "5,000 inbound services" in md and "5,000 to update" in md
    text = _text(plan, color=False)
    assert len(text.splitlines()) < 60


def test_markdown_that_does_not_fit_says_what_is_left_out_and_names_the_full_plan() -> None:
    # 300 different edits: one row each, more than a small limit holds.
    d = desired(services=[service(f"s{i:03d}", {"x": i}) for i in range(300)])
    plan = make_plan(d, live(inbound={f"s{i:03d}": {"x": -1} for i in range(300)}))
    verdict = blocked(plan)
    md = render_markdown(plan, verdict, full_plan="plan.json", limit=8000)
    assert len(md) <= 8000
    assert md.index("Plan: 0 to purchase") < md.index("| | Resource |")  # summary first
    assert "of the 300 changes" in md and "`plan.json`" in md
    whole = render_markdown(plan, verdict, full_plan="plan.json")
    assert "too long" not in whole and whole.count("| 🔄 |") == 300
    unnamed = render_markdown(plan, verdict, limit=8000)
    assert "Run `reconciler plan` for the full plan" in unnamed
