"""The applier's order, dependencies, concurrency bound, dry run and report, on a scripted
account (``fakes.FakeAculab``): what is called, in what order, what is skipped and why."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions, ApplyReport, apply_plan
from reconciler.apply.journal import Journal
from reconciler.apply.report import render_report_json, render_report_text
from reconciler.desired.model import DesiredState, Location, PoolInbound
from reconciler.errors import ApiStatusError, JournalError, ServerError
from reconciler.live.model import LiveService, LiveState
from reconciler.plan.changes import (
    Change,
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

from .fakes import REJECT, FakeAculab, FakeAql

LONDON = Location(country="United Kingdom", region="London")
CALGARY = Location(country="Canada", region="Calgary", state="Alberta")
SUPPORT_APP = {"application_type": "REST", "rest": {"first_page": {"address": "https://a/x"}}}
PASSWORD = "SVCPW-applier-5150"


def run(
    changes: list[Change],
    fake: FakeAculab,
    tmp_path: Path,
    *,
    live: LiveState | None = None,
    **options: Any,
) -> ApplyReport:
    aql = FakeAql(fake.calls)
    opts = ApplyOptions(**{"purchase_wait": 0.5, **options})
    journal = None if opts.dry_run else Journal(tmp_path / ".reconciler" / "journal.jsonl")
    return asyncio.run(
        apply_plan(
            Plan(changes=tuple(changes)),
            DesiredState(),
            fake,
            aql,
            options=opts,
            journal=journal,
            live=live,
        )
    )


def by_address(report: ApplyReport) -> dict[str, Any]:
    return {r.address: r for r in report.results}


def test_waves_run_in_the_documented_order(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.add_number("441632000001", "United Kingdom", "London")
    fake.services["inbound"]["old"] = {}
    changes: list[Change] = [
        Purchase(pool="calgary", location=CALGARY, quantity=1),
        CreateService(service_kind="inbound", name="sales-sip", body=SUPPORT_APP),
        ModifyRelay("44113000111", "null-route", (), "httpget", ("https://x/y",)),
        DeleteService(service_kind="inbound", name="old"),
        Release(number="441632000001", reason="prune"),
    ]

    report = run(changes, fake, tmp_path, allow_release=True)

    assert report.ok, render_report_text(report)
    kinds = [c[0] for c in fake.calls if c[0] != "list"]
    # The GET: a create confirms that the service doesn't exist before it PUTs.
    assert kinds == ["purchase", "GET", "PUT", "relay", "DELETE", "delete_numbers"]


def test_new_pool_numbers_get_their_inbound_service(tmp_path: Path) -> None:
    fake = FakeAculab()
    inbound = PoolInbound(config=SUPPORT_APP)
    report = run(
        [Purchase(pool="ldn", location=LONDON, quantity=2, inbound=inbound)], fake, tmp_path
    )

    assert report.ok
    bought = fake.purchase_log[0]
    assert sorted(fake.services["inbound"]) == sorted(bought)
    assert all(fake.services["inbound"][n] == SUPPORT_APP for n in bought)
    assert report.bought == {"ldn": bought}
    assert {f"inbound:{n}" for n in bought} <= set(by_address(report))


def test_a_failed_purchase_skips_its_inbound_services_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    fake = FakeAculab()
    fake.purchase_script = [REJECT]
    inbound = PoolInbound(config=SUPPORT_APP)
    changes: list[Change] = [
        Purchase(pool="ldn", location=LONDON, quantity=2, inbound=inbound),
        CreateService(service_kind="inbound", name="sales-sip", body=SUPPORT_APP),
    ]

    report = run(changes, fake, tmp_path)

    assert not report.ok
    results = by_address(report)
    assert results["pool:ldn"].status == "failed"
    assert "0005" in results["pool:ldn"].reason
    skipped = results["inbound:<new numbers of ldn>"]
    assert skipped.status == "skipped" and "purchase for pool ldn failed" in skipped.reason
    assert results["inbound:sales-sip"].status == "succeeded"
    assert fake.services["inbound"].keys() == {"sales-sip"}
    text = render_report_text(report)
    assert "1 succeeded, 1 failed, 1 skipped" in text


def test_releases_go_out_in_one_call_and_partial_answers_are_per_number(
    tmp_path: Path,
) -> None:
    fake = FakeAculab()
    for n in ("441632000001", "441632000002", "441632000003"):
        fake.add_number(n, "United Kingdom", "London")
    fake.delete_failed = {"441632000002": ("0300", "Telephone number does not belong to you")}
    changes: list[Change] = [Release(number=n, reason="surplus") for n in sorted(fake.numbers)]

    report = run(changes, fake, tmp_path, allow_release=True)

    assert [c for c in fake.calls if c[0] == "delete_numbers"] == [
        ("delete_numbers", "441632000001,441632000002,441632000003")
    ]
    results = by_address(report)
    assert results["number:441632000001"].status == "succeeded"
    assert results["number:441632000003"].status == "succeeded"
    failed = results["number:441632000002"]
    assert failed.status == "failed" and "0300" in failed.reason
    assert "does not belong to you" in failed.reason


def test_releases_without_allow_release_are_blocked(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.add_number("441632000001", "United Kingdom", "London")

    report = run([Release(number="441632000001", reason="surplus")], fake, tmp_path)

    assert report.results[0].status == "skipped"
    assert "--allow-release" in (report.results[0].reason or "")
    assert "441632000001" in fake.numbers
    assert not [c for c in fake.calls if c[0] == "delete_numbers"]


def test_a_number_is_not_released_when_deleting_its_service_failed(tmp_path: Path) -> None:
    fake = FakeAculab()
    for n in ("441632000001", "441632000002"):
        fake.add_number(n, "United Kingdom", "London")
        fake.services["inbound"][n] = {}
    fake.fail_writes["DELETE inbound:441632000001"] = ApiStatusError(
        "HTTP 400: locked", call="DELETE /service/v1/inbound/441632000001", status=400
    )
    changes: list[Change] = [
        DeleteService(service_kind="inbound", name="441632000001"),
        DeleteService(service_kind="inbound", name="441632000002"),
        Release(number="441632000001", reason="surplus"),
        Release(number="441632000002", reason="surplus"),
    ]

    report = run(changes, fake, tmp_path, allow_release=True)

    results = by_address(report)
    assert results["number:441632000001"].status == "skipped"
    assert "deleting its inbound service failed" in results["number:441632000001"].reason
    assert results["number:441632000002"].status == "succeeded"
    assert ("delete_numbers", "441632000002") in fake.calls
    assert "441632000001" in fake.numbers


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.write_delay = 0.01
    changes: list[Change] = [
        CreateService(service_kind="inbound", name=f"svc-{i}", body={}) for i in range(40)
    ]

    report = run(changes, fake, tmp_path, concurrency=4)

    assert report.ok and len(fake.services["inbound"]) == 40
    assert fake.max_in_flight == 4


def test_update_uses_patch_or_put_as_planned(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.services["outbound"]["wakeup"] = {"enabled": True}
    fake.services["outbound"]["report"] = {"enabled": True}
    diff = (FieldChange("enabled", "change", True, False),)
    changes: list[Change] = [
        UpdateService("outbound", "wakeup", "PATCH", {"enabled": False}, diff),
        UpdateService("outbound", "report", "PUT", {"enabled": False}, diff),
    ]

    report = run(changes, fake, tmp_path)

    assert report.ok
    assert ("PATCH", "outbound:wakeup") in fake.calls
    assert ("PUT", "outbound:report") in fake.calls


def test_an_api_error_is_reported_with_its_reason_and_does_not_stop_the_run(
    tmp_path: Path,
) -> None:
    fake = FakeAculab()
    fake.fail_writes["PUT inbound:bad"] = ApiStatusError(
        "HTTP 400: Failed to validate configuration",
        call="PUT /service/v1/inbound/bad",
        status=400,
        details=["rest.first_page.method 'haha' is not one of ['GET', 'POST']."],
    )
    changes: list[Change] = [
        CreateService(service_kind="inbound", name="bad", body={}),
        CreateService(service_kind="inbound", name="good", body={}),
    ]

    report = run(changes, fake, tmp_path)

    results = by_address(report)
    assert results["inbound:good"].status == "succeeded"
    assert "'haha' is not one of" in results["inbound:bad"].reason
    data = json.loads(render_report_json(report))
    assert data["status"] == "failed" and data["summary"] == {
        "succeeded": 1,
        "failed": 1,
        "skipped": 0,
    }


# --------------------------------------------------------------------------- dry run

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "service_password": {"type": "string", "minLength": 8},
        "application_type": {"enum": ["UAS", "REST"]},
        "rest": {"type": "object"},
    },
}


def test_dry_run_writes_nothing_and_checks_bodies_against_the_schema(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.schemas = {"inbound": SCHEMA, "outbound": SCHEMA}
    fake.services["outbound"]["wakeup"] = {"enabled": True, "service_password": "longenough"}
    fake.add_number("441632000001", "United Kingdom", "London")
    live = LiveState(
        outbound={"wakeup": LiveService("outbound", "wakeup", {"enabled": True})},
    )
    inbound = PoolInbound(config=SUPPORT_APP)
    changes: list[Change] = [
        Purchase(pool="ldn", location=LONDON, quantity=2, inbound=inbound),
        CreateService(service_kind="inbound", name="ok", body={"enabled": True}),
        CreateService(service_kind="inbound", name="typo", body={"enabeld": True}),
        UpdateService("outbound", "wakeup", "PATCH", {"service_password": Secret("short")}, ()),
        ModifyRelay("44113000111", "null-route", (), "httpget", ("https://x/y",)),
        DeleteService(service_kind="inbound", name="gone"),
        Release(number="441632000001", reason="surplus"),
    ]

    report = run(changes, fake, tmp_path, live=live, dry_run=True, allow_release=True)

    assert fake.writes() == []
    assert [c for c in fake.calls if c[0] == "purchase_development"]
    assert [c for c in fake.calls if c[0] == "schema"] == [
        ("schema", "inbound"),
        ("schema", "outbound"),
    ]
    results = by_address(report)
    assert results["inbound:<new ldn #1>"].status == "succeeded"
    assert results["inbound:<new ldn #2>"].status == "succeeded"
    assert "enabeld" in results["inbound:typo"].reason
    wakeup = results["outbound:wakeup"]
    assert wakeup.status == "failed" and "at least 8 characters" in wakeup.reason
    assert "short'" not in wakeup.reason  # the secret's value is masked
    assert results["number:441632000001"].detail == "would release"
    assert not (tmp_path / ".reconciler").exists()  # no journal for a dry run
    assert "Dry run: nothing was changed" in render_report_text(report)


# --------------------------------------------------------------------------- journal


def test_every_write_is_journalled_with_secrets_masked(tmp_path: Path) -> None:
    fake = FakeAculab()
    body = {"service_password": Secret(PASSWORD), "application_type": "REST"}
    changes: list[Change] = [
        CreateService(service_kind="outbound", name="wakeup", body=body),
        ModifyRelay("44113000111", "null-route", (), "httpget", ("https://x/y",)),
    ]

    report = run(changes, fake, tmp_path)

    path = tmp_path / ".reconciler" / "journal.jsonl"
    text = path.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    records = [json.loads(line) for line in text.splitlines()]
    assert {r["run"] for r in records} == {report.run_id}
    events = [(r["event"], r.get("address")) for r in records]
    assert events[0] == ("run_start", None) and events[-1] == ("run_end", None)
    for address in ("outbound:wakeup", "relay:44113000111"):
        intent = events.index(("intent", address))
        outcome = events.index(("outcome", address)) if ("outcome", address) in events else None
        ops = [r for r in records if r.get("address") == address]
        assert intent is not None and ops[0]["event"] == "intent"
        assert any(r["event"] == "outcome" and r["op"] == ops[0]["op"] for r in records)
        del outcome
    assert "(sensitive)" in text


def test_a_journal_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "journal.jsonl"
    path.parent.mkdir()
    path.write_text("")
    os.chmod(path, 0o644)
    fake = FakeAculab()

    with pytest.raises(JournalError, match="readable or writable by other users"):
        run([CreateService(service_kind="inbound", name="x", body={})], fake, tmp_path)
    assert fake.writes() == []


def test_an_unknown_outcome_of_a_release_is_settled_by_one_relist(tmp_path: Path) -> None:
    fake = FakeAculab()
    for n in ("441632000001", "441632000002"):
        fake.add_number(n, "United Kingdom", "London")
    original = fake.delete_numbers

    async def lost(numbers: Any) -> Any:
        await original(numbers[:1])  # the first went, then the reply was lost
        raise ServerError("HTTP 502", call="POST /tel_delete_numbers", status=502)

    fake.delete_numbers = lost  # type: ignore[method-assign]
    changes: list[Change] = [
        Release(number="441632000001", reason="surplus"),
        Release(number="441632000002", reason="surplus"),
    ]

    report = run(changes, fake, tmp_path, allow_release=True)

    results = by_address(report)
    assert results["number:441632000001"].status == "succeeded"
    assert results["number:441632000002"].status == "failed"


def test_a_pool_number_that_appears_after_the_plan_keeps_its_inbound_service(
    tmp_path: Path,
) -> None:
    # The plan was made while the list still lagged behind an earlier run's purchase: the
    # number was not on the list, so its inbound service (listed) looked undeclared and
    # prune planned to delete it. At apply time the number is at the pool's location: its
    # service must not be deleted.
    fake = FakeAculab()
    fake.add_number("441632000001", "United Kingdom", "London")
    fake.services["inbound"]["441632000001"] = dict(SUPPORT_APP)
    changes: list[Change] = [
        Purchase(
            pool="london",
            location=LONDON,
            quantity=1,
            inbound=PoolInbound(config=SUPPORT_APP),
        ),
        DeleteService(service_kind="inbound", name="441632000001"),
    ]

    report = run(changes, fake, tmp_path)

    assert "441632000001" in fake.services["inbound"]
    assert ("DELETE", "inbound:441632000001") not in fake.calls
    assert by_address(report)["inbound:441632000001"].status == "skipped"
    assert [c for c in fake.calls if c[0] == "purchase"] == []


def test_the_report_does_not_claim_a_purchase_for_numbers_an_earlier_run_bought(
    tmp_path: Path,
) -> None:
    # An earlier run was killed during its purchase; it had bought 441632000001. This run
    # settles it and buys nothing: the report must not say "bought" (a user counting the
    # purchases would think the number was bought twice).
    journal = Journal(tmp_path / ".reconciler" / "journal.jsonl", run_id="killed")
    journal.record(
        "intent",
        op="op1",
        address="pool:london",
        action="purchase",
        pool="london",
        location={"country": "United Kingdom", "region": "London", "state": None},
        quantity=1,
        before=[],
    )
    journal.close()
    fake = FakeAculab()
    fake.add_number("441632000001", "United Kingdom", "London")

    report = run([Purchase(pool="london", location=LONDON, quantity=1)], fake, tmp_path)

    result = by_address(report)["pool:london"]
    assert result.status == "succeeded" and report.purchase_calls == 0
    assert not result.detail.startswith("bought"), result.detail
    assert "441632000001" in result.detail and "earlier" in result.detail
