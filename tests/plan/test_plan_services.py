"""Planner rules for services: merge and replace modes, ignore_changes, creates, pool
numbers' services, prune, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.desired.model import PruneSettings
from reconciler.errors import PlanError
from reconciler.plan import diff as diff_module
from reconciler.plan.changes import (
    CreateService,
    DeleteService,
    FieldChange,
    Purchase,
    Release,
    UpdateService,
)
from reconciler.plan.planner import make_plan
from reconciler.secret import Secret, conceal

from .factory import OUTBOUND_SCHEMA, desired, live, location, number, pool, service

REST = {"application_type": "REST", "rest": {"first_page": {"address": "https://a"}}}


def plan_one(
    declared: dict[str, Any],
    current: dict[str, Any],
    *,
    kind: str = "outbound",
    mode: str = "merge",
    ignore: tuple[str, ...] = (),
    schemas: dict[str, Any] | None = None,
) -> UpdateService | None:
    """Plan one service against its live configuration; the update, or None."""
    d = desired(services=[service("svc", declared, kind=kind, mode=mode, ignore=ignore)])
    lv = live(**{kind: {"svc": current}}, schemas=schemas)  # type: ignore[arg-type]
    plan = make_plan(d, lv)
    assert len(plan.changes) <= 1
    if not plan.changes:
        return None
    [change] = plan.changes
    assert isinstance(change, UpdateService)
    return change


# ----------------------------------------------------------------------------- merge

MERGE_CASES: list[
    tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None, list[FieldChange]]
] = [
    (
        "undeclared live keys are not managed",
        {"description": "x"},
        {"description": "x", "enabled": False, "rest": {"tts_voice": "Bob"}},
        None,
        [],
    ),
    (
        "nested objects compare their declared keys only",
        {"rest": {"first_page": {"address": "https://a"}}},
        {"rest": {"first_page": {"address": "https://a", "method": "GET"}, "api_version": "2"}},
        None,
        [],
    ),
    (
        "a changed nested value: a minimal nested PATCH",
        {"description": "d", "rest": {"first_page": {"address": "https://b", "method": "POST"}}},
        {"description": "d", "rest": {"first_page": {"address": "https://a", "method": "POST"}}},
        {"rest": {"first_page": {"address": "https://b"}}},
        [FieldChange("rest.first_page.address", "change", "https://a", "https://b")],
    ),
    (
        "a declared key absent from the live configuration is added",
        {"description": "d", "g729": True},
        {"description": "d"},
        {"g729": True},
        [FieldChange("g729", "add", None, True)],
    ),
    (
        "lists compare whole",
        {"codecs": ["a", "b"]},
        {"codecs": ["a", "b", "c"]},
        {"codecs": ["a", "b"]},
        [FieldChange("codecs", "change", ["a", "b", "c"], ["a", "b"])],
    ),
    (
        "null clears",
        {"description": None},
        {"description": "by hand"},
        {"description": None},
        [FieldChange("description", "change", "by hand", None)],
    ),
    (
        "a type change",
        {"rest": {"max_call_duration": 60}},
        {"rest": {"max_call_duration": "60"}},
        {"rest": {"max_call_duration": 60}},
        [FieldChange("rest.max_call_duration", "change", "60", 60)],
    ),
    (
        "an object declared where the live value is not one",
        {"uas": {"application_name": "x"}},
        {"uas": None},
        {"uas": {"application_name": "x"}},
        [FieldChange("uas", "change", None, {"application_name": "x"})],
    ),
]


@pytest.mark.parametrize(
    ("declared", "current", "body", "field_changes"),
    [c[1:] for c in MERGE_CASES],
    ids=[c[0] for c in MERGE_CASES],
)
def test_merge_mode(
    declared: dict[str, Any],
    current: dict[str, Any],
    body: dict[str, Any] | None,
    field_changes: list[FieldChange],
) -> None:
    change = plan_one(declared, current)
    if body is None:
        assert change is None
        return
    assert change is not None
    assert change.method == "PATCH"
    assert change.body == body
    assert list(change.diff) == field_changes


def test_merge_mode_skips_ignore_changes_paths() -> None:
    declared = {"description": "d", "rest": {"tts_voice": "Amy", "first_page": {"address": "x"}}}
    current = {"description": "d", "rest": {"tts_voice": "Bob", "first_page": {"address": "y"}}}
    change = plan_one(declared, current, ignore=("rest.tts_voice",))
    assert change is not None
    assert change.body == {"rest": {"first_page": {"address": "x"}}}
    assert [d.path for d in change.diff] == ["rest.first_page.address"]
    assert plan_one(declared, current, ignore=("rest.tts_voice", "rest.first_page")) is None


# ----------------------------------------------------------------------------- replace

FULL_DEFAULTS = {
    "enabled": True,
    "service_password": None,
    "description": None,
    "application_type": "UAS",
    "rest": {
        "first_page": {"address": None, "method": "POST"},
        "tts_voice": "English UK Female Polly Amy",
        "max_call_duration": 240,
    },
}


def as_read(declared: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the server reads back after a PUT of ``declared``: every option present."""
    from reconciler.configuration import deep_merge

    config = deep_merge(FULL_DEFAULTS, declared)
    config.update(changes)
    return config


def test_replace_mode_equal_when_the_rest_is_at_its_defaults() -> None:
    declared = {"service_password": "pw", **REST}
    assert (
        plan_one(declared, as_read(declared), mode="replace", schemas={"outbound": OUTBOUND_SCHEMA})
        is None
    )


def test_replace_mode_compares_undeclared_keys_against_the_schema_defaults() -> None:
    declared = {"service_password": "pw", **REST}
    current = as_read(declared, description="by hand", enabled=False)
    change = plan_one(declared, current, mode="replace", schemas={"outbound": OUTBOUND_SCHEMA})
    assert change is not None
    assert change.method == "PUT"
    assert change.body == conceal(declared)  # the declared configuration, whole
    assert list(change.diff) == [
        FieldChange("description", "change", "by hand", None),
        FieldChange("enabled", "change", False, True),
    ]


def test_replace_mode_unknown_live_keys_must_be_unset() -> None:
    declared = dict(REST)
    schemas = {"outbound": OUTBOUND_SCHEMA}
    # Empty values of keys the schema doesn't default count as unset.
    empty = as_read(declared, fax=None, uas={"application_name": "", "x": None})
    assert plan_one(declared, empty, mode="replace", schemas=schemas) is None
    change = plan_one(
        declared, as_read(declared, fax={"pages": 3}), mode="replace", schemas=schemas
    )
    assert change is not None
    assert list(change.diff) == [FieldChange("fax", "remove", {"pages": 3}, None)]


def test_replace_mode_ignore_changes_keeps_the_live_value_in_the_put() -> None:
    declared = {"description": "d", **REST}
    current = as_read(declared, description="by hand")
    current["rest"]["tts_voice"] = "Custom"
    change = plan_one(
        declared,
        current,
        mode="replace",
        ignore=("rest.tts_voice",),
        schemas={"outbound": OUTBOUND_SCHEMA},
    )
    assert change is not None
    assert [d.path for d in change.diff] == ["description"]
    # A PUT resets what it omits: the ignored field is written back at its live value.
    assert change.body["rest"]["tts_voice"] == "Custom"
    assert change.body["rest"]["first_page"] == {"address": "https://a"}


def test_replace_mode_without_the_schema_compares_declared_keys_and_warns() -> None:
    declared = {"description": "d"}
    d = desired(services=[service("svc", declared, kind="outbound", mode="replace", line=77)])
    plan = make_plan(d, live(outbound={"svc": {"description": "x", "enabled": False}}))
    [change] = plan.changes
    assert isinstance(change, UpdateService)
    assert change.method == "PUT"
    assert [f.path for f in change.diff] == ["description"]
    [warning] = plan.warnings
    assert warning.startswith("desired.yaml:77:3: outbound service svc uses mode: replace")
    assert "schema was not read" in warning


def test_replace_mode_reads_defaults_through_refs() -> None:
    from reconciler.configuration import schema_defaults

    assert schema_defaults(OUTBOUND_SCHEMA) == FULL_DEFAULTS


# ----------------------------------------------------------------------------- presence


def test_a_declared_service_absent_from_the_account_is_created_with_put() -> None:
    d = desired(
        services=[service("sales", REST), service("w", {"service_password": "p"}, kind="outbound")]
    )
    plan = make_plan(d, live())
    assert [(c.address, c.body) for c in plan.of(CreateService)] == [
        ("inbound:sales", REST),
        ("outbound:w", {"service_password": Secret("p")}),
    ]
    assert plan.counts()["create"] == 2


def test_a_listed_service_that_was_not_read_is_a_plan_error() -> None:
    d = desired(services=[service("sales", REST, line=9)])
    with pytest.raises(PlanError) as caught:
        make_plan(d, live(inbound_names=["sales"]))
    assert caught.value.problems[0].startswith(
        "desired.yaml:9:3: inbound service sales is listed on the account"
    )


def test_an_inbound_service_named_by_a_number_not_on_the_account_warns() -> None:
    d = desired(services=[service("441234", REST, line=8), service("sip-user", REST)])
    plan = make_plan(d, live())
    assert plan.warnings == (
        "desired.yaml:8:3: inbound service 441234 is named by a number that is not on the "
        "account: no call will reach it",
    )


# ----------------------------------------------------------------------------- pool numbers


TEMPLATE = {"application_type": "REST", "rest": {"first_page": {"address": "https://pool"}}}


def test_every_live_number_of_a_pool_with_inbound_gets_its_service() -> None:
    d = desired(pools=[pool("london", 4, inbound=TEMPLATE)])
    lv = live(
        numbers=[number("441"), number("442"), number("443")],
        inbound={
            "441": TEMPLATE,  # matches
            "442": {"application_type": "REST", "rest": {"first_page": {"address": "https://x"}}},
        },  # 443: no service yet
    )
    plan = make_plan(d, lv)
    assert [c.address for c in plan.changes] == ["pool:london", "inbound:443", "inbound:442"]
    create = plan.of(CreateService)[0]
    assert create.body == TEMPLATE
    update = plan.of(UpdateService)[0]
    assert update.body == {"rest": {"first_page": {"address": "https://pool"}}}
    counts = plan.counts()
    assert (counts["purchase"], counts["create"], counts["create_pending"]) == (1, 2, 1)
    # Live and managed: 441 and 442; 443's service is a create, and creates never count.
    assert plan.managed_services == {"inbound": 2, "outbound": 0}


def test_an_explicit_declaration_wins_over_the_pool_template() -> None:
    own = {"application_type": "REST", "description": "Main line"}
    d = desired(pools=[pool("london", 1, inbound=TEMPLATE)], services=[service("441", own)])
    lv = live(
        numbers=[number("441")], inbound={"441": {"application_type": "REST", "description": "x"}}
    )
    plan = make_plan(d, lv)
    [update] = plan.changes
    assert isinstance(update, UpdateService)
    assert update.body == {"description": "Main line"}  # not the template's rest.first_page
    assert plan.managed_services == {"inbound": 1, "outbound": 0}  # counted once


@pytest.mark.parametrize(
    ("prune", "addresses"),
    [
        # Without service pruning the released number's service is neither updated nor
        # deleted: it stays on the account, undeclared.
        (PruneSettings(), ["number:442"]),
        # With it, one apply converges: the service is deleted (before the release).
        (PruneSettings(inbound_services=True), ["inbound:442", "number:442"]),
    ],
)
def test_services_of_released_numbers(prune: PruneSettings, addresses: list[str]) -> None:
    d = desired(pools=[pool("london", 1, inbound=TEMPLATE)], prune=prune)
    lv = live(
        numbers=[number("441", purchased="2020-01-01"), number("442", purchased="2024-01-01")],
        inbound={"441": TEMPLATE, "442": {"application_type": "UAS"}},
    )
    plan = make_plan(d, lv)
    # 442 has a service too, and is newer: it goes, and its service is never updated.
    assert [c.address for c in plan.changes] == addresses
    assert isinstance(plan.changes[-1], Release)


# ----------------------------------------------------------------------------- prune


@pytest.mark.parametrize(
    ("prune", "deleted"),
    [
        (PruneSettings(), []),
        (PruneSettings(inbound_services=True), ["inbound:old-sip", "inbound:test-1"]),
        (PruneSettings(outbound_services=True), ["outbound:old-out"]),
        (
            PruneSettings(inbound_services=True, outbound_services=True, ignore=("test-*",)),
            ["inbound:old-sip", "outbound:old-out"],
        ),
    ],
)
def test_prune_deletes_undeclared_services(prune: PruneSettings, deleted: list[str]) -> None:
    d = desired(
        pools=[pool("london", 2, inbound=TEMPLATE), pool("leeds", 1, loc=location(region="Leeds"))],
        services=[service("sales", REST), service("w", {}, kind="outbound")],
        prune=prune,
    )
    lv = live(
        numbers=[number("441"), number("442"), number("451", loc=location(region="Leeds"))],
        inbound={
            "sales": REST,
            "441": TEMPLATE,
            "442": TEMPLATE,
            "451": {"application_type": "UAS"},  # a pool number's service: never pruned
        },
        inbound_names=["old-sip", "test-1"],
        outbound={"w": {}},
        outbound_names=["old-out"],
    )
    plan = make_plan(d, lv)
    assert all(isinstance(c, DeleteService) for c in plan.changes)
    assert [c.address for c in plan.changes] == deleted


# ----------------------------------------------------------------------------- secrets


def test_a_changed_secret_is_a_field_change_holding_secrets() -> None:
    change = plan_one({"service_password": "new-one"}, {"service_password": "old-one"})
    assert change is not None
    [field] = change.diff
    assert field.path == "service_password"
    assert isinstance(field.old, Secret) and isinstance(field.new, Secret)
    assert field.old.reveal() == "old-one" and field.new.reveal() == "new-one"
    assert isinstance(change.body["service_password"], Secret)


def test_an_unchanged_secret_is_no_change_even_if_one_side_was_not_wrapped() -> None:
    from reconciler.desired.model import ServiceSpec

    spec = ServiceSpec("outbound", "svc", {"service_password": "same"})
    d = desired(services=[spec])
    assert make_plan(d, live(outbound={"svc": {"service_password": "same"}})).is_empty


def test_equal_services_never_reach_the_field_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: Any) -> Any:
        raise AssertionError("field diff computed for equal configurations")

    monkeypatch.setattr(diff_module, "field_changes", boom)
    declared = {"service_password": "pw", **REST}
    d = desired(
        services=[
            service("a", declared, kind="outbound"),
            service("b", declared, kind="outbound", mode="replace"),
        ]
    )
    lv = live(
        outbound={"a": declared, "b": as_read(declared)},
        schemas={"outbound": OUTBOUND_SCHEMA},
    )
    assert make_plan(d, lv).is_empty


def test_purchases_count_pending_services_in_the_summary() -> None:
    d = desired(
        pools=[pool("london", 3, inbound=TEMPLATE), pool("leeds", 2, loc=location(region="Leeds"))]
    )
    plan = make_plan(d, live())
    assert [type(c) for c in plan.changes] == [Purchase, Purchase]
    counts = plan.counts()
    assert (counts["purchase"], counts["create"], counts["create_pending"]) == (5, 3, 3)


def test_a_pool_template_in_replace_mode_without_schema_warns_once() -> None:
    d = desired(pools=[pool("london", 3, inbound=TEMPLATE, inbound_mode="replace", line=12)])
    lv = live(
        numbers=[number("441"), number("442"), number("443")],
        inbound={n: TEMPLATE for n in ("441", "442", "443")},
    )
    plan = make_plan(d, lv)
    assert plan.is_empty
    [warning] = plan.warnings
    assert warning.startswith("desired.yaml:12:3: inbound service 441 uses mode: replace")
