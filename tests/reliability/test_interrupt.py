"""Ctrl-C and SIGTERM during apply (docs/safety.md): the first starts nothing new, lets the
calls in flight finish (bounded) and journals them, and the report tells the numbers bought
first; the second stops at once. On a scripted account (``apply.fakes``), and end to end
through the real ``reconciler`` process with a real SIGINT / SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from apply.e2e import cli, desired_yaml, explain, serve, start
from apply.fakes import FakeAculab, FakeAql

from reconciler.apply.applier import ApplyOptions, ApplyReport, Stop, apply_plan
from reconciler.apply.journal import Journal
from reconciler.apply.report import render_report_json, render_report_text
from reconciler.desired.model import DesiredState, Location, PoolInbound
from reconciler.plan.changes import Change, CreateService, DeleteService, Plan, Purchase, Release
from reconciler.simulator import Faults

from .support import journal_records

LONDON = Location(country="United Kingdom", region="London")
APP = {"application_type": "REST", "rest": {"first_page": {"address": "https://a/x"}}}


def _changes(fake: FakeAculab) -> list[Change]:
    fake.add_number("441632000001", "United Kingdom", "Bristol")
    fake.services["inbound"]["old"] = {}
    return [
        Purchase(pool="london", location=LONDON, quantity=2, inbound=PoolInbound(config=APP)),
        CreateService(service_kind="inbound", name="sales-sip", body=APP),
        DeleteService(service_kind="inbound", name="old"),
        Release(number="441632000001", reason="prune"),
    ]


async def _apply(
    fake: FakeAculab, tmp_path: Path, stop: Stop, changes: list[Change]
) -> ApplyReport:
    return await apply_plan(
        Plan(changes=tuple(changes)),
        DesiredState(),
        fake,
        FakeAql(fake.calls),
        options=ApplyOptions(purchase_wait=0.5, allow_release=True),
        journal=Journal(tmp_path / ".reconciler" / "journal.jsonl"),
        stop=stop,
    )


def test_a_first_signal_finishes_what_is_in_flight_and_starts_nothing_new(
    tmp_path: Path,
) -> None:
    fake = FakeAculab()
    changes = _changes(fake)
    told: list[tuple[str, bool]] = []

    async def main() -> ApplyReport:
        with Stop(on_signal=lambda name, first: told.append((name, first))) as stop:
            # Ctrl-C arrives while the purchase is on the wire: it completes and is journalled.
            fake.on_purchase = lambda _params: stop.request("SIGINT")
            return await _apply(fake, tmp_path, stop, changes)

    report = asyncio.run(main())

    assert told == [("SIGINT", True)]
    assert report.interrupted == "SIGINT"
    [bought] = fake.purchase_log
    assert report.bought == {"london": bought}
    statuses = {r.address: r.status for r in report.results}
    assert statuses["pool:london"] == "succeeded"
    for address in ("inbound:sales-sip", "inbound:old", "number:441632000001"):
        assert statuses[address] == "skipped", report.results
    for number in bought:  # the new numbers' services: not started, and said so
        assert statuses[f"inbound:{number}"] == "skipped"
    assert [c for c in fake.writes() if c[0] != "purchase"] == []
    assert "441632000001" in fake.numbers and "old" in fake.services["inbound"]
    # The journal holds the purchase's outcome and the run's end.
    records = journal_records(tmp_path)
    assert any(r["event"] == "outcome" and r.get("numbers") == bought for r in records)
    assert records[-1]["event"] == "run_end" and records[-1]["stopped"] is True
    # The report tells the money first.
    text = render_report_text(report)
    lines = text.splitlines()
    assert lines[0].startswith("Interrupted (SIGINT): nothing new was started")
    assert lines[1] == "Numbers bought by this run:"
    assert lines[2] == f"  pool london: {', '.join(bought)}"
    assert text.splitlines()[-1].startswith("Apply interrupted:")
    assert json.loads(render_report_json(report))["interrupted"] == "SIGINT"


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.write_delay = 30.0  # a write that would hang: the second Ctrl-C doesn't wait for it
    changes: list[Change] = [CreateService(service_kind="inbound", name="slow", body=APP)]

    async def main() -> ApplyReport:
        with Stop(grace=60.0) as stop:

            async def press_twice() -> None:
                while not fake.in_flight:
                    await asyncio.sleep(0.01)
                stop.request("SIGINT")
                await asyncio.sleep(0.05)
                stop.request("SIGINT")

            asyncio.get_running_loop().create_task(press_twice())
            return await _apply(fake, tmp_path, stop, changes)

    report = asyncio.run(main())
    # Neither the 30 s write nor the 60 s grace was waited for: had they been, the write
    # would have finished and the run would not be "stopped at once".
    assert report.stopped_at_once and report.interrupted == "SIGINT"
    assert "slow" not in fake.services["inbound"]
    assert render_report_text(report).startswith("Interrupted (SIGINT): stopped at once")


def test_the_grace_is_bounded(tmp_path: Path) -> None:
    fake = FakeAculab()
    fake.write_delay = 30.0
    changes: list[Change] = [CreateService(service_kind="inbound", name="slow", body=APP)]

    async def main() -> ApplyReport:
        with Stop(grace=0.2) as stop:

            async def press_once() -> None:
                while not fake.in_flight:
                    await asyncio.sleep(0.01)
                stop.request("SIGTERM")

            asyncio.get_running_loop().create_task(press_once())
            return await _apply(fake, tmp_path, stop, changes)

    report = asyncio.run(main())
    assert report.stopped_at_once and report.interrupted == "SIGTERM"


# --------------------------------------------------------------------------- the real process


def _wait_for_purchase_intent(work: Path, proc: subprocess.Popen[str]) -> None:
    """Until the journal announces a purchase (the call is on the wire, or about to be)."""
    for _ in range(1200):
        if proc.poll() is not None:
            raise AssertionError(f"apply ended early: {proc.communicate()}")
        if any(
            r.get("event") == "intent" and r.get("action") == "purchase"
            for r in journal_records(work)
        ):
            return
        time.sleep(0.05)
    raise AssertionError("no purchase was started")


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_apply_reports_the_numbers_bought_and_exits_130(
    signum: signal.Signals, tmp_path: Path
) -> None:
    with serve(faults=Faults(latency_ms=700)) as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, london=2, calgary=1))
        proc = start(tmp_path, "apply", str(path), "--yes", "--concurrency", "1")
        _wait_for_purchase_intent(tmp_path, proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)

        assert proc.returncode == 130, (out, err)
        name = signum.name
        assert f"{name}: stopping" in err, err
        lines = out.strip().splitlines()
        start_at = lines.index(
            f"Interrupted ({name}): nothing new was started; the calls in flight finished."
        )
        bought = served.purchased()
        assert bought, "the purchase in flight was let finish"
        assert lines[start_at + 1] == "Numbers bought by this run:", out
        assert all(n in out for n in bought)
        assert "not attempted: apply was interrupted" in out
        assert "Traceback" not in err
        records = journal_records(tmp_path)
        assert records[-1]["event"] == "run_end" and records[-1]["stopped"] is True
        # The next apply finishes the job, buying nothing twice.
        done = cli(tmp_path, "apply", str(path), "--yes")
        assert done.returncode == 0, explain(done)
        assert len(served.purchased()) == 3


@pytest.mark.e2e
def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    with serve(faults=Faults(latency_ms=3000)) as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, london=1, calgary=0))
        proc = start(tmp_path, "apply", str(path), "--yes", "--concurrency", "1")
        _wait_for_purchase_intent(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (out, err)
        assert "SIGINT: stopping at once." in err, err
        assert "Interrupted (SIGINT): stopped at once" in out, out
        assert "Traceback" not in err


@pytest.mark.e2e
def test_ctrl_c_during_a_fleet_apply_stops_every_account_well(tmp_path: Path) -> None:
    """Several PATHs: the first Ctrl-C reaches every account's apply; each finishes what is
    in flight and reports; the exit code is 130."""
    # Two accounts, each on a simulator of its own (two PATHs naming one account are refused).
    with (
        serve(faults=Faults(latency_ms=700)) as east,
        serve(faults=Faults(latency_ms=700)) as west,
    ):
        paths = []
        for name, served_, london in (("east", east, 2), ("west", west, 1)):
            path = tmp_path / f"{name}.yaml"
            path.write_text(desired_yaml(served_, london=london, calgary=0))
            paths.append(str(path))
        proc = start(tmp_path, "apply", *paths, "--yes", "--concurrency", "1", "--parallel", "2")
        for _ in range(1200):
            if proc.poll() is not None or any(
                r.get("event") == "intent" and r.get("action") == "purchase"
                for journal in tmp_path.glob(".reconciler/accounts/*/journal.jsonl")
                for r in _records(journal)
            ):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (out, err)
        assert "SIGINT: stopping" in err, err
        assert "Interrupted (SIGINT)" in out, out
        assert "Traceback" not in err
        assert all(n in out for n in [*east.purchased(), *west.purchased()])


def _records(journal: Path) -> list[dict[str, Any]]:
    out = []
    for line in journal.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_stop_with_a_purchase_in_flight_names_the_purchase_whose_outcome_is_unknown(
    fmt: str, tmp_path: Path
) -> None:
    # The purchase commits, then its reply hangs: stopped at once, nobody knows what it bought.
    with serve(faults=Faults(lost_purchase_reply="stall", stall_s=60)) as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, london=1, calgary=0))
        proc = start(tmp_path, "apply", str(path), "--yes", "--format", fmt)
        _wait_for_purchase_intent(tmp_path, proc)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)

        assert proc.returncode == 130, (out, err)
        assert len(served.purchased()) == 1
        if fmt == "json":
            report = json.loads(out)
            assert report["unknown_purchases"] == [
                {
                    "pool": "london-support",
                    "location": "United Kingdom/London (geographic)",
                    "quantity": 1,
                    "since": report["unknown_purchases"][0]["since"],
                }
            ]
            return
        lines = out.strip().splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("Interrupted (SIGTERM)"))
        # First thing after the interruption: the money possibly spent, not "nothing bought".
        assert lines[at + 1].startswith("Purchases whose outcome is unknown"), out
        assert lines[at + 2].startswith(
            "  pool london-support: 1 at United Kingdom/London (geographic)"
        ), out
        assert "No number was bought." not in out
