"""Purchases never buy twice and never forget: recovery after lost replies, lag, crashes.

Each test scripts the account (``fakes.FakeAculab``) on a clock the test drives, so waits of
30 s take no time, and asserts what a user would count: the purchase calls made, the numbers
the account ends up with, what the journal says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.purchases import PurchasePolicy, Purchaser, PurchaseResult
from reconciler.desired.model import Location
from reconciler.plan.changes import Purchase

from .fakes import (
    COMMIT_THEN_LOSE,
    RATE_LIMITED,
    REJECT,
    SERVER_ERROR,
    Clock,
    FakeAculab,
)

LONDON = Location(country="United Kingdom", region="London")


def purchase(quantity: int = 2, existing: tuple[str, ...] = ()) -> Purchase:
    return Purchase(pool="london-support", location=LONDON, quantity=quantity, existing=existing)


class Setup:
    def __init__(self, tmp_path: Path, *, wait: float = 30.0) -> None:
        self.clock = Clock()
        self.fake = FakeAculab(self.clock)
        self.path = tmp_path / ".reconciler" / "journal.jsonl"
        self.wait = wait

    def purchaser(self) -> Purchaser:
        """A new run: a fresh journal object reading what earlier runs left."""
        journal = Journal(self.path, clock=self.clock)
        return Purchaser(
            self.fake,
            journal,
            journal.view(),
            policy=PurchasePolicy(wait=self.wait),
            sleep=self.clock.sleep,
            clock=self.clock,
        )

    def buy(self, p: Purchase) -> PurchaseResult:
        return asyncio.run(self.purchaser().buy(p))

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def purchase_calls(self) -> int:
        return sum(1 for c in self.fake.calls if c[0] == "purchase")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_a_purchase_is_announced_in_the_journal_before_the_call(setup: Setup) -> None:
    setup.fake.add_number("441632000001", "United Kingdom", "London")
    seen: list[dict[str, object]] = []
    setup.fake.on_purchase = lambda params: seen.extend(setup.records())

    result = setup.buy(purchase(2, existing=("441632000001",)))

    assert result.succeeded and len(result.numbers) == 2
    intent = seen[-1]
    assert intent["event"] == "intent" and intent["action"] == "purchase"
    assert intent["quantity"] == 2 and intent["before"] == ["441632000001"]
    assert intent["location"] == {
        "country": "United Kingdom",
        "state": None,
        "region": "London",
        "did_type": "geographic",
    }
    outcome = setup.records()[-1]
    assert outcome["event"] == "outcome" and outcome["status"] == "succeeded"
    assert outcome["numbers"] == result.numbers


def test_lost_reply_is_recounted_not_bought_again(setup: Setup) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]

    result = setup.buy(purchase(3))

    assert result.succeeded
    assert setup.purchase_calls() == 1
    assert len(setup.fake.at("United Kingdom", "London")) == 3
    assert result.numbers == setup.fake.purchase_log[0]
    assert any("found by re-listing" in n for n in result.notes)
    events = [(r["event"], r.get("status")) for r in setup.records()]
    assert events == [("intent", None), ("outcome", "unknown"), ("resolved", "succeeded")]


def test_lost_reply_with_list_lag_waits_for_the_numbers(setup: Setup) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]
    setup.fake.list_lag = 7.0

    result = setup.buy(purchase(2))

    assert result.succeeded and setup.purchase_calls() == 1
    assert len(setup.fake.purchase_log[0]) == 2
    assert 7.0 <= sum(setup.clock.sleeps) < 30.0  # waited for the lag, not the whole window


def forget(setup: Setup, pool: str = "london-support") -> Purchaser:
    """A new run whose user passed ``--forget-purchase POOL``."""
    purchaser = setup.purchaser()
    asyncio.run(purchaser.forget(pool))
    return purchaser


def test_a_5xx_whose_relist_shows_nothing_stays_unknown_and_blocks_the_pool(
    setup: Setup,
) -> None:
    # Nothing new after the whole wait proves nothing: the list may lag longer than that.
    setup.fake.purchase_script = [SERVER_ERROR]

    result = setup.buy(purchase(2))

    assert not result.succeeded
    assert setup.purchase_calls() == 1
    assert sum(setup.clock.sleeps) >= 30.0  # it did wait for the numbers
    assert "unknown outcome" in (result.reason or "")
    assert "--forget-purchase london-support" in (result.reason or "")
    events = [(r["event"], r.get("status")) for r in setup.records()]
    assert events == [("intent", None), ("outcome", "unknown")]
    assert len(Journal(setup.path).view().unresolved) == 1

    again = setup.buy(purchase(2))  # a later run: still nothing listed, so still blocked

    assert not again.succeeded and setup.purchase_calls() == 1
    assert "pool london-support" in (again.reason or "")

    purchaser = forget(setup)
    bought = asyncio.run(purchaser.buy(purchase(2)))

    assert bought.succeeded and setup.purchase_calls() == 2
    assert sum(len(b) for b in setup.fake.purchase_log) == 2
    forgotten = [r for r in setup.records() if r.get("status") == "forgotten"]
    assert len(forgotten) == 1 and forgotten[0]["event"] == "resolved"
    assert forgotten[0]["address"] == "pool:london-support"


def test_a_lost_reply_listed_after_the_wait_is_adopted_and_never_bought_again(
    setup: Setup,
) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]
    setup.fake.list_lag = 1000.0  # far beyond the 30 s wait

    first = setup.buy(purchase(1))
    second = setup.buy(purchase(1))

    assert not first.succeeded and not second.succeeded
    assert setup.purchase_calls() == 1
    setup.fake.list_lag = 0.0
    setup.clock.now += 1000.0
    third = setup.buy(purchase(1))

    assert third.succeeded and setup.purchase_calls() == 1
    assert third.numbers == setup.fake.purchase_log[0]
    resolved = [r for r in setup.records() if r["event"] == "resolved"]
    assert [r["status"] for r in resolved] == ["succeeded"]
    assert resolved[0]["numbers"] == setup.fake.purchase_log[0]
    assert Journal(setup.path).view().unresolved == []


def test_a_partial_commit_buys_only_what_is_still_missing(setup: Setup) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]
    setup.fake.commit_only = 1

    result = setup.buy(purchase(3))

    assert result.succeeded
    assert [len(b) for b in setup.fake.purchase_log] == [1, 2]
    assert len(setup.fake.at("United Kingdom", "London")) == 3
    assert sorted(result.numbers) == sorted(n for b in setup.fake.purchase_log for n in b)


def test_two_partly_bought_purchases_stop_after_two_calls(setup: Setup) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE, COMMIT_THEN_LOSE, COMMIT_THEN_LOSE]
    setup.fake.commit_only = 1

    result = setup.buy(purchase(3))

    assert not result.succeeded
    assert setup.purchase_calls() == 2
    assert "still missing after 2 purchase calls" in (result.reason or "")


def test_unprovable_outcome_stops_without_buying_and_stays_unresolved(setup: Setup) -> None:
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]
    # The snapshot before buying succeeds; every re-list after the lost reply fails.
    original = setup.fake.list_numbers
    calls = 0

    async def failing_after_first(**kw: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 1:
            setup.fake.list_failures = 1
        return await original(**kw)  # type: ignore[arg-type]

    setup.fake.list_numbers = failing_after_first  # type: ignore[method-assign,assignment]
    result = setup.buy(purchase(2))

    assert not result.succeeded
    assert setup.purchase_calls() == 1
    assert "could not be re-listed" in (result.reason or "")
    view = Journal(setup.path).view()
    assert [i.quantity for i in view.unresolved] == [2]


def test_a_definite_rejection_is_a_failure_and_not_retried(setup: Setup) -> None:
    setup.fake.purchase_script = [REJECT]

    result = setup.buy(purchase(2))

    assert not result.succeeded
    assert setup.purchase_calls() == 1
    assert "0005" in (result.reason or "") and "regulation address" in (result.reason or "")
    assert setup.clock.sleeps == []  # no re-list wait for a definite answer
    assert setup.records()[-1]["status"] == "failed"
    assert Journal(setup.path).view().unresolved == []


def test_rate_limited_purchase_waits_and_tries_again(setup: Setup) -> None:
    setup.fake.purchase_script = [RATE_LIMITED]

    result = setup.buy(purchase(1))

    assert result.succeeded
    assert setup.purchase_calls() == 2
    assert len(setup.fake.purchase_log) == 1
    assert 2.0 in setup.clock.sleeps  # Retry-After honoured


def _crash_after_intent(setup: Setup, p: Purchase, *, commit: bool) -> None:
    """Leave what a run killed between its intent and the purchase's answer leaves."""
    journal = Journal(setup.path, clock=setup.clock)
    journal.record(
        "intent",
        op="crashed-op",
        address=p.address,
        action="purchase",
        pool=p.pool,
        location={
            "country": "United Kingdom",
            "state": None,
            "region": "London",
            "did_type": "geographic",
        },
        quantity=p.quantity,
        before=sorted(p.existing),
    )
    journal.close()
    if commit:
        asyncio.run(
            setup.fake.purchase(
                {
                    "country": "United Kingdom",
                    "region": "London",
                    "did_type": "geographic",
                    "quantity": str(p.quantity),
                }
            )
        )
        setup.fake.calls.clear()


def test_after_a_crash_mid_purchase_the_next_run_recounts_before_buying(setup: Setup) -> None:
    setup.fake.list_lag = 5.0
    _crash_after_intent(setup, purchase(2), commit=True)

    # The next run planned from a list that lags: it still wants 2.
    result = setup.buy(purchase(2))

    assert result.succeeded
    assert setup.purchase_calls() == 0
    assert len(setup.fake.purchase_log) == 1
    assert result.numbers == setup.fake.purchase_log[0]  # they get their inbound services
    resolved = [r for r in setup.records() if r["event"] == "resolved"]
    assert resolved and resolved[0]["op"] == "crashed-op"
    assert Journal(setup.path).view().unresolved == []


def test_a_crash_before_the_call_went_out_blocks_until_forgotten(setup: Setup) -> None:
    _crash_after_intent(setup, purchase(2), commit=False)

    blocked = setup.buy(purchase(2))

    assert not blocked.succeeded and setup.purchase_calls() == 0
    assert "--forget-purchase london-support" in (blocked.reason or "")
    bought = asyncio.run(forget(setup).buy(purchase(2)))

    assert bought.succeeded
    assert setup.purchase_calls() == 1
    assert sum(len(b) for b in setup.fake.purchase_log) == 2


def test_numbers_bought_moments_ago_but_not_listed_yet_are_not_bought_again(
    setup: Setup,
) -> None:
    setup.fake.list_lag = 10.0
    first = setup.buy(purchase(2))
    assert first.succeeded

    # A second run right away: its plan saw none of them (lag) and wants 2 again.
    second = setup.buy(purchase(2))

    assert second.succeeded
    assert setup.purchase_calls() == 1
    assert sorted(second.numbers) == sorted(first.numbers)


def test_an_old_purchase_that_is_gone_does_not_block_buying(setup: Setup) -> None:
    first = setup.buy(purchase(1))
    asyncio.run(setup.purchaser().wave_listing())  # a later run's listing shows it
    for n in first.numbers:  # released by hand since
        del setup.fake.numbers[n]
    setup.clock.now += 3600

    result = setup.buy(purchase(1))

    assert result.succeeded and setup.purchase_calls() == 2
    assert setup.clock.sleeps == []
    assert [r["numbers"] for r in setup.records() if r["event"] == "listed"] == [first.numbers]


def test_numbers_the_journal_bought_count_however_long_the_list_lags(setup: Setup) -> None:
    """The journal is the purchase ledger: a list lagging far longer than the purchase wait
    never makes an apply buy for the pool again (it bought every pool again before)."""
    setup.fake.list_lag = 10 * setup.wait
    first = setup.buy(purchase(2))
    assert first.succeeded

    for _ in range(3):  # runs spread over hours, each planned from a list that lags
        setup.clock.now += 3 * setup.wait
        again = setup.buy(purchase(2))
        assert again.succeeded
        assert sorted(again.numbers) == sorted(first.numbers)  # they get inbound services
        assert again.at_location == frozenset(first.numbers)  # never pruned
        assert any("not listed by the account yet" in n for n in again.notes)
    assert setup.purchase_calls() == 1
    assert setup.clock.sleeps == []  # no waiting for the list either

    # Once a listing shows them, the list alone counts for them.
    setup.clock.now += setup.fake.list_lag
    asyncio.run(setup.purchaser().wave_listing())
    view = Journal(setup.path).view()
    assert view.ledger_at(LONDON) == set() and view.listed == set(first.numbers)


def test_numbers_that_appeared_since_the_plan_reduce_the_purchase(setup: Setup) -> None:
    setup.fake.add_number("441632000009", "United Kingdom", "London")  # bought by hand

    result = setup.buy(purchase(3))

    assert result.succeeded
    assert [len(b) for b in setup.fake.purchase_log] == [2]
    assert any("appeared" in n for n in result.notes)


def test_dry_run_uses_the_development_call_and_buys_nothing(setup: Setup) -> None:
    result = asyncio.run(setup.purchaser().rehearse(purchase(2)))

    assert result.succeeded
    assert result.numbers == ["<new london-support #1>", "<new london-support #2>"]
    assert setup.fake.purchase_log == []
    assert [c[0] for c in setup.fake.calls] == ["purchase_development"]
    assert not setup.path.exists()


class _VendorCasedAculab(FakeAculab):
    """An account that stores locations in the vendor's own spelling ("London") and whose
    ``tel_list_numbers`` filters compare exactly, whatever case the purchase was asked in."""

    CANONICAL: ClassVar[dict[str, str]] = {"united kingdom": "United Kingdom", "london": "London"}

    async def purchase(self, params: Mapping[str, str], *, development: bool = False) -> list[str]:
        fixed = {
            k: self.CANONICAL.get(v.casefold(), v) if k in ("country", "region") else v
            for k, v in params.items()
        }
        return await super().purchase(fixed, development=development)


def test_a_lost_reply_is_recounted_when_the_yaml_spells_the_location_in_another_case(
    tmp_path: Path,
) -> None:
    # The YAML says "united kingdom"/"london"; the account lists "United Kingdom"/"London".
    # The planner matches them (names compare case-insensitively), so the re-count after a
    # lost reply must find the bought numbers too, whatever the server's list filter does.
    setup = Setup(tmp_path)
    setup.fake = _VendorCasedAculab(setup.clock)
    setup.fake.add_number("441632000001", "United Kingdom", "London")
    setup.fake.purchase_script = [COMMIT_THEN_LOSE]
    lower = Location(country="united kingdom", region="london")

    result = setup.buy(
        Purchase(pool="london-support", location=lower, quantity=2, existing=("441632000001",))
    )

    assert setup.purchase_calls() == 1, setup.fake.purchase_log
    assert len(setup.fake.at("United Kingdom", "London")) == 3
    assert result.succeeded and result.numbers == setup.fake.purchase_log[0]


class _RenamingAculab(FakeAculab):
    """An account that lists what it sells under another region name than the one bought
    by ("London" is listed as "London City")."""

    async def purchase(self, params: Mapping[str, str], *, development: bool = False) -> list[str]:
        fixed = {k: f"{v} City" if k == "region" else v for k, v in params.items()}
        return await super().purchase(fixed, development=development)


def test_numbers_bought_for_a_pool_but_listed_elsewhere_stop_further_purchases(
    tmp_path: Path,
) -> None:
    # Whatever the cause (a renamed region, a location spelled otherwise), numbers the journal
    # says were bought for this location but that the account lists elsewhere never count
    # toward the pool: buying again would repeat on every apply.
    setup = Setup(tmp_path)
    setup.fake = _RenamingAculab(setup.clock)
    first = setup.buy(purchase(1))
    assert first.succeeded and setup.purchase_calls() == 1

    setup.clock.now += 3600  # long after: not list lag
    second = setup.buy(purchase(1))

    assert setup.purchase_calls() == 1, setup.fake.purchase_log
    assert not second.succeeded
    assert second.reason is not None and "London City" in second.reason
    assert first.numbers[0] in second.reason
