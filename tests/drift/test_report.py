"""The drift report built from plain Plan objects: ignore rules, renderers, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.desired.model import Location
from reconciler.drift import IgnoreRule, detect_drift
from reconciler.drift.render import render_json, render_markdown, render_text
from reconciler.errors import ConfigError
from reconciler.plan.changes import (
    CreateService,
    DeleteService,
    FieldChange,
    ModifyRelay,
    Plan,
    Purchase,
    Release,
    UpdateService,
)
from reconciler.secret import Secret

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "drift.schema.json").read_text(encoding="utf-8")
)
SECRET = "s3cr3t-drift-Zq9"


def _update(name: str = "441908538007", *fields: FieldChange) -> UpdateService:
    diff = fields or (FieldChange("description", "change", "Old", "Main line"),)
    return UpdateService(
        service_kind="inbound",
        name=name,
        method="PATCH",
        body={fc.path: fc.new for fc in diff},
        diff=diff,
    )


def _plan(*changes: object, **kw: object) -> Plan:
    return Plan(changes=tuple(changes), sources=("telephony.yaml",), **kw)  # type: ignore[arg-type]


def test_empty_plan_is_in_sync() -> None:
    report = detect_drift(_plan())
    assert report.in_sync
    assert report.exit_code() == 0
    assert "No drift" in render_text(report)


def test_each_change_is_a_drifted_resource_with_its_fields() -> None:
    plan = _plan(
        Purchase(
            pool="london",
            location=Location("United Kingdom", "London"),
            quantity=1,
            existing=("442070000001", "442070000002"),
        ),
        CreateService(service_kind="outbound", name="wakeup", body={"enabled": True}),
        _update(
            "441908538007",
            FieldChange("description", "change", "Hand-edited", "Main line"),
            FieldChange("rest.first_page.address", "change", "https://a/x", "https://a/y"),
        ),
        ModifyRelay(
            number="44113000111",
            old_action="httpget",
            old_detail=("https://old.example.com/sms",),
            new_action="httppost",
            new_detail=("https://new.example.com/sms",),
        ),
        DeleteService(service_kind="inbound", name="old-sip"),
        Release(number="442070000003", reason="pool london has 4, wants 3", pool="london"),
    )
    report = detect_drift(plan)
    assert report.exit_code() == 2
    by_address = {i.address: i for i in report.items}
    assert set(by_address) == {
        "pool:london",
        "outbound:wakeup",
        "inbound:441908538007",
        "relay:44113000111",
        "inbound:old-sip",
        "number:442070000003",
    }
    update = by_address["inbound:441908538007"]
    assert [f.path for f in update.fields] == ["description", "rest.first_page.address"]
    assert update.fields[0].live == "Hand-edited"
    assert "PATCH description, rest.first_page.address" in update.remedy
    assert by_address["pool:london"].summary.startswith("has 2 of 3 numbers")
    assert by_address["number:442070000003"].blocked
    relay = by_address["relay:44113000111"]
    assert [f.path for f in relay.fields] == ["action", "detail"]

    text = render_text(report)
    assert "~ inbound:441908538007" in text
    assert 'description: live "Hand-edited", declared "Main line"' in text
    assert "apply would PATCH" in text
    assert "--allow-release" in text
    md = render_markdown(report)
    assert "| ~ | `inbound:441908538007` | `description` |" in md
    data = json.loads(render_json(report))
    jsonschema.validate(data, SCHEMA)
    assert data["summary"]["drifted"] == 6
    assert data["in_sync"] is False


def test_resource_rule_silences_whole_resource() -> None:
    plan = _plan(
        ModifyRelay(
            number="44113000112",
            old_action="email",
            old_detail=("a@example.com",),
            new_action="null-route",
            new_detail=(),
        ),
        _update(),
    )
    report = detect_drift(plan, ["relay:44113000112"])
    assert [i.address for i in report.items] == ["inbound:441908538007"]
    assert report.silenced[0].address == "relay:44113000112"
    assert report.silenced[0].field is None


def test_field_rule_silences_fields_and_empty_resources() -> None:
    plan = _plan(
        _update("441908538007", FieldChange("description", "change", "a", "b")),
        _update(
            "441908538008",
            FieldChange("description", "change", "a", "b"),
            FieldChange("rest.tts_voice", "change", "x", "y"),
        ),
    )
    report = detect_drift(plan, ["inbound:*/description"])
    assert [i.address for i in report.items] == ["inbound:441908538008"]
    assert [f.path for f in report.items[0].fields] == ["rest.tts_voice"]
    assert {(s.address, s.field) for s in report.silenced} == {
        ("inbound:441908538007", "description"),
        ("inbound:441908538008", "description"),
    }


def test_field_rule_matches_parents_and_globs() -> None:
    plan = _plan(
        _update(
            "sales",
            FieldChange("rest.first_page.address", "change", "a", "b"),
            FieldChange("rest.tts_voice", "change", "x", "y"),
        )
    )
    assert detect_drift(plan, ["inbound:sales/rest"]).in_sync
    assert detect_drift(plan, ["inbound:*/rest.*"]).in_sync
    assert not detect_drift(plan, ["outbound:*/rest"]).in_sync
    left = detect_drift(plan, ["inbound:sales/rest.first_page"])
    assert [f.path for f in left.items[0].fields] == ["rest.tts_voice"]


def test_a_field_rule_does_not_silence_a_fieldless_change() -> None:
    plan = _plan(CreateService(service_kind="inbound", name="sales", body={}))
    assert not detect_drift(plan, ["inbound:sales/description"]).in_sync
    assert detect_drift(plan, ["inbound:sales"]).in_sync


def test_unused_rules_are_reported() -> None:
    report = detect_drift(_plan(_update()), ["relay:*", "inbound:*/description"])
    assert report.unused_patterns == ("relay:*",)
    assert "matched nothing" in render_text(report)


@pytest.mark.parametrize("bad", ["", "/description", "inbound:*/", "  "])
def test_bad_rules_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="ADDRESS_GLOB"):
        IgnoreRule.parse(bad)


def test_secrets_are_masked_in_every_format() -> None:
    plan = _plan(
        UpdateService(
            service_kind="outbound",
            name="wakeup",
            method="PATCH",
            body={"service_password": Secret(SECRET + "-new")},
            diff=(
                FieldChange("service_password", "change", Secret(SECRET), Secret(SECRET + "-new")),
            ),
        ),
        ModifyRelay(
            number="44113000111",
            old_action="httppost",
            old_detail=(  # a URL with credentials in it reads as a Secret at run time
                Secret(  # type: ignore[arg-type]
                    f"https://u:{SECRET}@h.example.com/x",
                    display="https://u:(sensitive)@h.example.com/x",
                ),
            ),
            new_action="httppost",
            new_detail=("https://h.example.com/y",),
        ),
    )
    report = detect_drift(plan)
    for out in (render_text(report), render_json(report), render_markdown(report)):
        assert SECRET not in out
        assert "(sensitive)" in out


# --------------------------------------------------------------------------- grouping

GOLDEN = Path(__file__).parent / "golden"


def _check_golden(name: str, text: str) -> None:
    """Compare with ``golden/<name>``; ``UPDATE_GOLDEN=1`` rewrites the file instead."""
    import os

    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1 to accept)"


def _pool_edit(size: int) -> Plan:
    """A hand edit to the description of every number of a pool, a pool short of numbers,
    hand-made services and numbers nobody declares."""
    edit = FieldChange("description", "change", "edited by hand", "Support line")
    changes: list[object] = [_update(f"4410000{i:05d}", edit) for i in range(size)]
    changes.append(_update("sales-sip", FieldChange("description", "change", "x", "Sales")))
    return _plan(
        *changes,
        unmanaged_numbers=tuple(f"4479000{i:05d}" for i in range(3)),
        unmanaged_services=tuple(f"inbound:legacy-{i:02d}" for i in range(12)),
    )


def test_grouped_drift_golden() -> None:
    report = detect_drift(_pool_edit(8))
    _check_golden("grouped.txt", render_text(report) + "\n")
    _check_golden("grouped.md", render_markdown(report))
    _check_golden("grouped.json", render_json(report) + "\n")
    jsonschema.validate(json.loads(render_json(report)), SCHEMA)


def test_the_same_drift_on_many_resources_shows_once() -> None:
    report = detect_drift(_pool_edit(500))
    text = render_text(report)
    assert text.count('description: live "edited by hand"') == 1
    assert "~ 500 inbound services: 1 field differs" in text and "and 495 more" in text
    data = json.loads(render_json(report))
    assert len(data["drift"]) == 501
    assert [g["count"] for g in data["groups"]] == [500]


def test_drift_markdown_of_a_5000_number_pool_fits_one_github_comment() -> None:
    report = detect_drift(_pool_edit(5000), ["number:*"])
    md = render_markdown(report)
    assert len(md) < 65_536
    assert "5,000 inbound services" in md


def test_drift_markdown_that_does_not_fit_names_the_full_report() -> None:
    changes = [_update(f"s{i:03d}", FieldChange("x", "change", i, -1)) for i in range(300)]
    report = detect_drift(_plan(*changes))
    md = render_markdown(report, full_report="drift.json", limit=6000)
    assert len(md) <= 6000
    assert md.startswith("### Drift: 300 resources differ")
    assert "of the 300 drifted resources are left out" in md and "`drift.json`" in md


def test_unmanaged_services_are_reported_and_fail_only_when_asked() -> None:
    report = detect_drift(_plan(unmanaged_services=("inbound:by-hand", "outbound:old")))
    assert report.in_sync and report.exit_code() == 0
    assert report.exit_code(fail_on_unmanaged=True) == 2
    text = render_text(report)
    assert (
        "Unmanaged: 2 services on the account (1 inbound, 1 outbound) are declared nowhere "
        "and left alone (see prune.inbound_services / prune.outbound_services):"
    ) in text.splitlines()
    assert "inbound:by-hand, outbound:old" in text
    assert "inbound:by-hand" in render_markdown(report)
    numbers_only = detect_drift(_plan(unmanaged_numbers=("447700900001",)))
    assert numbers_only.exit_code(fail_on_unmanaged=True) == 2


def test_an_ignore_rule_accepts_an_unmanaged_service() -> None:
    plan = _plan(unmanaged_services=("inbound:by-hand", "inbound:kept"))
    report = detect_drift(plan, ["inbound:by-*"])
    assert report.unmanaged_services == ("inbound:kept",)
    assert [(s.address, s.pattern) for s in report.silenced] == [
        ("inbound:by-hand", "inbound:by-*")
    ]
    accepted = detect_drift(plan, ["inbound:*"])
    assert accepted.exit_code(fail_on_unmanaged=True) == 0
