"""A purchase whose outcome is unknown, end to end through the real CLI and simulator.

A lost purchase reply plus a number list that lags longer than ``--purchase-wait``: a
re-list that shows nothing new proves nothing, so the purchase stays unknown in the journal
and every later apply refuses to buy for its pool (exit 1, everything else applied) until the
account lists the number (adopted, never bought again) or the user, having checked the
account, passes ``--forget-purchase POOL`` (journalled). ``plan`` shows what apply will do:
a blocked pool (exit 1), or numbers bought and waiting to be listed (no purchase). The
simulator's purchase log is the witness (docs/safety.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator import Faults

from .e2e import Served, cli, desired_yaml, explain, serve

pytestmark = pytest.mark.e2e

FOREVER = 100_000.0  # a list lag far beyond any --purchase-wait of these tests


def _records(work: Path) -> list[dict[str, Any]]:
    journal = work / ".reconciler" / "journal.jsonl"
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def _apply(work: Path, path: Path, *extra: str) -> Any:
    return cli(work, "apply", str(path), "--yes", "--purchase-wait", "2", *extra)


def _setup(tmp_path: Path, served: Served) -> Path:
    path = tmp_path / "desired.yaml"
    path.write_text(desired_yaml(served, london=1, calgary=0))
    return path


def test_a_lost_reply_and_a_lagging_list_block_the_pool_until_the_number_is_listed(
    tmp_path: Path,
) -> None:
    with serve("empty", Faults(lost_purchase_reply="drop", list_lag_s=FOREVER)) as served:
        path = _setup(tmp_path, served)

        first = _apply(tmp_path, path)

        assert first.returncode == 1, explain(first)
        assert len(served.purchased()) == 1
        output = first.stdout + first.stderr
        assert "proves nothing" in output and "proved nothing" not in output
        # Everything else was applied.
        assert {"sales-sip"} <= set(served.sim.state.services["inbound"])
        assert "wakeup" in served.sim.state.services["outbound"]
        # The report names the purchase whose outcome is unknown, first.
        report = first.stdout[first.stdout.index("Monthly cost") :]
        assert report.index("Purchases whose outcome is unknown") < report.index("Applied:")
        assert "pool london-support: 1 at" in report
        # The hint: a re-run helps once the list catches up; no blanket "run again".
        assert "once the account lists its numbers" in first.stderr
        assert "that can pass" not in first.stderr
        records = _records(tmp_path)
        intent = next(r for r in records if r["event"] == "intent" and r["action"] == "purchase")
        assert [r["status"] for r in records if r.get("op") == intent["op"] and "status" in r] == [
            "unknown"
        ]
        bought_at = intent["time"][:19].replace("T", " ")

        for run in (2, 3):
            again = _apply(tmp_path, path)

            assert again.returncode == 1, explain(again)
            assert len(served.purchased()) == 1, f"run {run} bought again"
            output = again.stdout + again.stderr
            assert "pool london-support" in output
            assert bought_at in output  # the time of the purchase
            assert "--forget-purchase london-support" in output

        # plan shows what apply does: the pool is blocked, nothing to purchase; exit 1.
        planned = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        assert planned.returncode == 1, explain(planned)
        assert "blocked" in planned.stdout
        assert "Plan: 0 to purchase" in planned.stdout
        as_json = cli(tmp_path, "plan", str(path), "--format", "json")
        [purchase] = [c for c in json.loads(as_json.stdout)["changes"] if c["kind"] == "purchase"]
        assert purchase["blocked"] and purchase["quantity"] == 1

        # The list catches up: the number is adopted, never bought again.
        served.sim.state.visible_after.clear()
        adopted = _apply(tmp_path, path)

        assert adopted.returncode == 0, explain(adopted)
        assert len(served.purchased()) == 1
        assert served.numbers_at("London") == served.purchased()
        resolved = [r for r in _records(tmp_path) if r["event"] == "resolved"]
        assert [(r["op"], r["status"], r["numbers"]) for r in resolved] == [
            (intent["op"], "succeeded", served.purchased())
        ]
        final = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        assert final.returncode == 0, explain(final)


def test_forget_purchase_is_journalled_and_lets_the_pool_buy_again(tmp_path: Path) -> None:
    faults = Faults(lost_purchase_reply="drop", lost_purchase_limit=1, list_lag_s=FOREVER)
    with serve("empty", faults) as served:
        path = _setup(tmp_path, served)
        assert _apply(tmp_path, path).returncode == 1
        assert len(served.purchased()) == 1

        typo = _apply(tmp_path, path, "--forget-purchase", "london")

        assert typo.returncode == 1, explain(typo)
        assert "london" in typo.stderr and "no pool" in typo.stderr
        assert len(served.purchased()) == 1
        assert not [r for r in _records(tmp_path) if r.get("status") == "forgotten"]

        forgot = _apply(tmp_path, path, "--forget-purchase", "london-support")

        assert forgot.returncode == 0, explain(forgot)
        assert len(served.purchased()) == 2  # the user said the first bought nothing
        assert "--forget-purchase london-support: forgot" in forgot.stdout
        [decision] = [r for r in _records(tmp_path) if r.get("status") == "forgotten"]
        assert decision["event"] == "resolved" and decision["address"] == "pool:london-support"

        # The new number is bought but not listed: the journal's ledger counts it. plan and
        # apply agree: nothing to buy, the number is waiting to be listed.
        planned = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        assert planned.returncode == 0, explain(planned)
        assert "1 bought, waiting for the account to list them" in planned.stdout + planned.stderr
        assert "to purchase" not in planned.stdout
        again = _apply(tmp_path, path)
        assert again.returncode == 0, explain(again)
        assert len(served.purchased()) == 2


def test_one_account_s_ledger_is_no_ledger_of_another_applied_from_the_same_directory(
    tmp_path: Path,
) -> None:
    # Account A's purchase lags in its list; account B (another account, the same location)
    # is then planned and applied from the same directory: A's journal must not count as B's.
    with (
        serve("empty", Faults(list_lag_s=FOREVER)) as first,
        serve("empty") as second,
    ):
        a = tmp_path / "a.yaml"
        a.write_text(desired_yaml(first, london=1, calgary=0))
        applied = _apply(tmp_path, a)
        assert applied.returncode == 0, explain(applied)
        assert len(first.purchased()) == 1
        b = tmp_path / "b.yaml"
        b.write_text(desired_yaml(second, london=1, calgary=0))
        plan = cli(tmp_path, "plan", str(b), "--detailed-exitcode")
        assert plan.returncode == 2, explain(plan)
        assert "purchase 1 number" in plan.stdout and "waiting" not in plan.stdout
        applied_b = _apply(tmp_path, b)
        assert applied_b.returncode == 0, explain(applied_b)
        assert len(second.purchased()) == 1
        # And A's own ledger still holds: its number is waiting, nothing bought again.
        again = _apply(tmp_path, a)
        assert again.returncode == 0, explain(again)
        assert len(first.purchased()) == 1
