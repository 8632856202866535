"""Re-runs from a fresh checkout: every apply on a new CI runner, as the recipes in
``examples/ci/`` run them. Nothing of the working directory travels but the journal (the
recipes' cache carries ``.reconciler/journal.jsonl``; the lock and everything else stay
behind), and the purchases of the earlier runs are still not made twice: the journal is the
purchase ledger (docs/safety.md, "The journal and the lock").

Each seeded scenario (see :mod:`.scenario`) applies three times, each time on a fresh runner,
in one of two ways: with a list that lags far beyond the purchase wait (the journal records
what each purchase bought, and that counts until the list shows it), or with purchase replies
lost (the next runner re-counts what the journal says is unsettled before buying). Then, the
lag over, it converges on a last fresh runner and must hold what every chaos scenario holds
(:meth:`.trial.Trial.check_outcome`): exactly the missing numbers bought, nothing twice.

(A lost reply *and* a list lagging beyond ``--purchase-wait``: the journal keeps that purchase
unknown and its pool blocked until the list shows the numbers; see
tests/apply/test_unknown_purchase_e2e.py.)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest

from .scenario import make_scenario
from .trial import Trial

pytestmark = pytest.mark.e2e

SOAK = bool(os.environ.get("RECONCILER_SOAK"))
SEEDS = range(300, 360) if SOAK else range(300, 304)
LONG_LAG_S = 6.0
RUNNERS = 3


def fresh_runner(trial: Trial, work: Path) -> None:
    """Move ``trial`` to a new working directory holding the desired state and the journal
    only: what a fresh checkout plus the recipes' journal cache gives the next run."""
    work.mkdir(parents=True)
    shutil.copy2(trial.path, work / "desired.yaml")
    journal = trial.work / ".reconciler" / "journal.jsonl"
    if journal.exists():
        (work / ".reconciler").mkdir(mode=0o700)
        shutil.copy2(journal, work / ".reconciler" / "journal.jsonl")
    trial.work = work


@pytest.mark.parametrize("how", ["list-lag", "lost-reply"])
@pytest.mark.parametrize("seed", list(SEEDS))
def test_applies_on_fresh_runners_with_the_journal_never_buy_twice(
    seed: int, how: str, tmp_path: Path
) -> None:
    scenario = make_scenario(seed, how)
    trial = Trial.open(scenario, tmp_path / "runner-0", f"seed {seed} ({how}) of {__name__}")
    try:
        trial.review()
        faults = scenario.faults
        if how == "list-lag":
            faults = dataclasses.replace(faults, list_lag_s=LONG_LAG_S)
        trial.sim.faults = faults
        for runner in range(1, RUNNERS + 1):
            trial.apply(f"apply on runner {runner}", wait="0.2" if how == "list-lag" else "5")
            fresh_runner(trial, tmp_path / f"runner-{runner}")
        lag_over = max(trial.sim.state.visible_after.values(), default=0.0)
        time.sleep(max(0.0, lag_over - time.time()))
        trial.converge(5)
    finally:
        trial.close()
    trial.check_outcome()
