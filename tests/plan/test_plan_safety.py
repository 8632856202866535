"""Safety limits: what apply refuses without --force or --allow-release (exit code 3)."""

from __future__ import annotations

import pytest

from reconciler.desired.model import SafetyLimits
from reconciler.errors import EXIT_REFUSED, SafetyRefusal
from reconciler.plan.changes import (
    Change,
    CreateService,
    DeleteService,
    Plan,
    Purchase,
    Release,
    UpdateService,
)
from reconciler.plan.safety import check_safety, enforce_safety

from .factory import location

LIMITS = SafetyLimits(max_purchase=10, max_delete_percent=30, max_update_percent=30)


def make(
    *,
    purchase: int = 0,
    deletes: int = 0,
    updates: int = 0,
    releases: int = 0,
    creates: int = 0,
    managed: int = 10,
    live: int | None = None,
    kind: str = "inbound",
) -> Plan:
    changes: list[Change] = []
    if purchase:
        changes.append(Purchase(pool="p", location=location(), quantity=purchase))
    changes += [CreateService("inbound", f"c{i}", {}) for i in range(creates)]
    changes += [UpdateService(kind, f"u{i}", "PATCH", {}, ()) for i in range(updates)]  # type: ignore[arg-type]
    changes += [DeleteService(kind, f"d{i}") for i in range(deletes)]  # type: ignore[arg-type]
    changes += [Release(number=f"44{i}", reason="test") for i in range(releases)]
    return Plan(
        changes=tuple(changes),
        managed_services={kind: managed},
        live_services={kind: managed + 1 if live is None else live},
    )


def refusals(plan: Plan, *, allow_release: bool = True, force: bool = False) -> list[str]:
    return list(check_safety(plan, LIMITS, allow_release=allow_release, force=force).messages)


@pytest.mark.parametrize(
    ("plan", "limit"),
    [
        (make(purchase=10), None),
        (make(purchase=11), "safety.max_purchase: the plan buys 11 numbers, over the limit of 10"),
        (make(deletes=3), None),  # 30% is not over 30%
        (
            make(deletes=4),
            "safety.max_delete_percent: the plan deletes 4 inbound services of the 10 on the "
            "account that the YAML manages (40%), over the limit of 30%",
        ),
        (make(updates=3), None),
        (
            make(updates=4),
            "safety.max_update_percent: the plan updates 4 inbound services of the 10 on the "
            "account that the YAML manages (40%), over the limit of 30%",
        ),
        (
            make(updates=4, kind="outbound"),
            "safety.max_update_percent: the plan updates 4 outbound services of the 10",
        ),
        (make(creates=50), None),  # creating is never limited
        # Below safety.min_existing live managed services, the percentages do not apply:
        (make(updates=1, managed=1), None),  # 1 update of 1 service
        (make(updates=2, managed=6), None),  # 2 of 6
        (make(deletes=5, managed=9, live=9), None),  # not every live service: 5 of 9
        # ... but deleting every live service of a kind (two or more) always needs --force,
        (
            make(deletes=9, managed=9, live=9),
            "the plan deletes every inbound service on the account (9 services)",
        ),
        (
            make(deletes=2, managed=2, live=2, kind="outbound"),
            "the plan deletes every outbound service on the account (2 services)",
        ),
        (make(deletes=1, managed=1, live=1), None),  # one is not "every" worth a --force
        # ... and creates never dilute the deletes: 9 live, 30 declared new, all 9 pruned.
        (
            make(deletes=9, managed=9, live=9, creates=30),
            "the plan deletes every inbound service on the account (9 services)",
        ),
        # A large account: 12 of 40 (30%) is within the limit, 13 (33%) over it.
        (make(deletes=12, managed=40, live=60), None),
        (
            make(deletes=13, managed=40, live=60),
            "safety.max_delete_percent: the plan deletes 13 inbound services of the 40",
        ),
    ],
)
def test_limits(plan: Plan, limit: str | None) -> None:
    found = refusals(plan)
    if limit is None:
        assert found == []
        return
    [message] = found
    assert message.startswith(limit)
    assert message.endswith("apply it with --force")
    assert refusals(plan, force=True) == []


def test_min_existing_is_the_threshold_of_the_percentages() -> None:
    limits = SafetyLimits(max_delete_percent=30, max_update_percent=30, min_existing=3)
    assert check_safety(make(updates=2, managed=3), limits, allow_release=True, force=False).refused
    assert not check_safety(
        make(updates=2, managed=2), limits, allow_release=True, force=False
    ).refused


def test_every_violated_limit_is_one_refusal() -> None:
    found = refusals(make(purchase=11, deletes=5, updates=5))
    assert [r.split(":")[0] for r in found] == [
        "safety.max_purchase",
        "safety.max_delete_percent",
        "safety.max_update_percent",
    ]


def test_releases_need_allow_release_and_force_does_not_replace_it() -> None:
    plan = make(releases=2)
    for force in (False, True):
        [message] = refusals(plan, allow_release=False, force=force)
        assert "releases 2 numbers" in message
        assert "--allow-release" in message
        assert "blocked" in message
    assert refusals(plan, allow_release=True) == []


def test_enforce_safety_raises_a_refusal_with_exit_code_3() -> None:
    with pytest.raises(SafetyRefusal) as caught:
        enforce_safety(
            check_safety(make(purchase=12, releases=1), LIMITS, allow_release=False, force=False)
        )
    err = caught.value
    assert err.exit_code == EXIT_REFUSED == 3
    assert "safety.max_purchase" in err.message and "12 numbers" in err.message
    assert err.hint is not None and "--force" in err.hint and "--allow-release" in err.hint
    enforce_safety(
        check_safety(make(purchase=12, releases=1), LIMITS, allow_release=True, force=True)
    )


def test_the_verdict_blocks_only_irreversible_changes_and_names_each_override() -> None:
    plan = make(purchase=11, releases=1, updates=1)
    verdict = check_safety(plan, LIMITS, allow_release=False, force=False)
    assert [verdict.blocks(c) for c in plan.changes] == [False, False, True]
    assert len(verdict.overridable("--force")) == 1
    assert len(verdict.overridable("--allow-release")) == 1
    allowed = check_safety(plan, LIMITS, allow_release=True, force=True)
    assert not allowed.refused and not any(allowed.blocks(c) for c in plan.changes)
