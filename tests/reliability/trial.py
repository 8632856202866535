"""One scenario, played out: the reviewed plan, applies until the account matches, and the
checks that every ending must pass. Shared by the chaos and crash suites.

A :class:`Trial` holds a scenario's simulator (served on 127.0.0.1), its working directory
and every command run so far, so that a failure shows the whole story and the seed to
replay it with.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.simulator import Faults, Simulator
from reconciler.simulator.server import RunningSimulator

from .scenario import ENVIRON, Scenario
from .support import Run, assert_clean, assert_report_gives_reasons, journal_records, run_cli

# Long enough for the list lag of the fault profiles (0.8 s) with room to spare.
PURCHASE_WAIT = "3"
APPLY = ("--yes", "--allow-release", "--force", "--format", "json", "--purchase-wait")


@dataclass
class Trial:
    scenario: Scenario
    work: Path
    sim: Simulator
    running: RunningSimulator
    replay: str
    history: list[Run] = field(default_factory=list)
    start_numbers: dict[str, Any] = field(default_factory=dict)
    planned_releases: set[str] = field(default_factory=set)
    expected_buys: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, scenario: Scenario, work: Path, replay: str) -> Trial:
        """Install the scenario in a new simulator, serve it and write the desired state.
        Close with :meth:`close`."""
        work.mkdir(parents=True, exist_ok=True)
        sim = Simulator(seed="empty", rng_seed=scenario.seed)
        scenario.install(sim)
        running = sim.serve()
        running.__enter__()
        trial = cls(scenario, work, sim, running, replay, start_numbers=dict(sim.state.numbers))
        trial.path.write_text(scenario.yaml_text(running.base_url, running.aql_url))
        return trial

    def close(self) -> None:
        self.running.__exit__(None, None, None)

    @property
    def path(self) -> Path:
        return self.work / "desired.yaml"

    @property
    def where(self) -> str:
        return f"{self.scenario.describe()} -- replay with {self.replay}"

    def fail(self, message: str) -> str:
        runs = "\n\n".join(r.explain() for r in self.history)
        return f"{self.where}\n{message}\n\n{runs}"

    def run(self, *args: str) -> Run:
        result = run_cli(self.work, *args, environ=ENVIRON)
        self.history.append(result)
        assert_clean(result, self.fail(f"reconciler {args[0]}"))
        return result

    # ----------------------------------------------------------------- steps

    def review(self) -> None:
        """Plan once, without faults: the plan the user reviewed. Its purchases must be what
        the scenario's pools need (the test's own arithmetic, not the planner's)."""
        reviewed = self.run("plan", str(self.path), "--format", "json")
        # 3: past a safety limit (a prune can delete more services than are managed); apply
        # says --force, as the user would after reading the plan.
        assert reviewed.code in (0, 3), self.fail("the first plan (no faults) failed")
        changes = reviewed.json()["changes"]
        self.planned_releases = {c["number"] for c in changes if c["kind"] == "release"}
        planned = {c["pool"]: c["quantity"] for c in changes if c["kind"] == "purchase"}
        self.expected_buys = {p: q for p, q in self.scenario.expected_purchases().items() if q}
        assert planned == self.expected_buys, self.fail("the plan buys other than the pools need")

    def apply(self, label: str, wait: str = PURCHASE_WAIT, forget: Sequence[str] = ()) -> Run:
        """One ``apply`` (``--purchase-wait`` ``wait``, ``--forget-purchase`` each of
        ``forget``); whatever happened, it must say so (a report with reasons, or an error on
        stderr)."""
        forgets = [arg for pool in forget for arg in ("--forget-purchase", pool)]
        run = self.run("apply", str(self.path), *APPLY, wait, *forgets)
        assert run.code in (0, 1), self.fail(f"{label} exited {run.code}")
        if run.stdout.strip():
            assert_report_gives_reasons(run.json(), self.fail(label))
        elif run.code == 1:
            # No report: apply stopped before writing (the live read failed), said why.
            assert "Error:" in run.stderr, self.fail(f"{label} failed without a reason")
        return run

    def matches(self, label: str) -> None:
        """After an apply that exited 0, with the faults off and the list lag over, the
        account must match: ``plan --detailed-exitcode`` exits 0."""
        saved, self.sim.faults = self.sim.faults, Faults()
        lag_over = max(self.sim.state.visible_after.values(), default=0.0)
        time.sleep(max(0.0, lag_over - time.time()) + 0.05)
        final = self.run("plan", str(self.path), "--detailed-exitcode")
        self.sim.faults = saved
        assert final.code == 0, self.fail(f"{label} exited 0 but the account does not match")

    def checked(self, run: Run) -> list[str]:
        """The pools a user who checks the account would ``--forget-purchase`` after ``run``:
        those with a purchase of unknown outcome (the report names them) for which the
        account holds no number the journal doesn't know (the simulator's purchase log is
        the account's truth). docs/safety.md: forget only after checking the account."""
        if not run.stdout.strip():
            return []
        unknown = {u["pool"] for u in run.json().get("unknown_purchases", [])}
        known = {
            str(n)
            for r in journal_records(self.work)
            if r.get("event") in ("outcome", "resolved") and isinstance(r.get("numbers"), list)
            for n in r["numbers"]
        }
        out = []
        for name in sorted(unknown):
            place = self.scenario.pools[name][0]
            log = self.sim.state.purchase_log
            committed = [n for e in log if place.bought(e["params"]) for n in e["numbers"]]
            if all(n in known for n in committed):
                out.append(name)
        return out

    def converge(self, runs: int) -> None:
        """Apply until it exits 0, at most ``runs`` times; then the account must match. A
        pool blocked by a purchase that bought nothing is forgotten, as a user would after
        checking the account."""
        forget: list[str] = []
        for attempt in range(1, runs + 1):
            label = f"apply #{attempt}"
            run = self.apply(label, forget=forget)
            if run.code == 0:
                self.matches(label)
                return
            forget = self.checked(run)
        raise AssertionError(self.fail(f"apply did not converge in {runs} runs"))

    # ----------------------------------------------------------------- the ending

    def check_outcome(self) -> None:
        """What must hold once the account matches: exactly the missing numbers bought
        (the simulator's purchase log is the witness), only reviewed releases, pins kept,
        and a journal that accounts for every purchase."""
        scenario, numbers = self.scenario, self.sim.state.numbers
        log = self.sim.state.purchase_log
        fail = self.fail

        bought_per_pool: Counter[str] = Counter()
        for entry in log:
            pools = scenario.pools.items()
            pool = next((n for n, (p, _c) in pools if p.bought(entry["params"])), "?")
            bought_per_pool[pool] += len(entry["numbers"])
        bought = [n for entry in log for n in entry["numbers"]]
        assert len(bought) == len(set(bought)), fail(f"a number was bought twice: {log}")
        assert dict(bought_per_pool) == self.expected_buys, fail(
            f"bought {dict(bought_per_pool)}, needed {self.expected_buys}; purchase log {log}"
        )
        for name, (place, count) in scenario.pools.items():
            assert len(scenario.at(numbers, place)) == count, fail(f"pool {name} is not {count}")

        gone = set(self.start_numbers) - set(numbers)
        outside = gone - self.planned_releases
        assert not outside, fail(f"released outside the reviewed plan: {sorted(outside)}")
        assert len(gone) == scenario.expected_release_count(), fail(f"released {sorted(gone)}")
        assert scenario.pinned <= set(numbers), fail("a pinned number was released")
        assert scenario.ignored_numbers <= set(numbers), fail("an ignored number was released")

        check_journal(self.work, bought, fail)


def check_journal(work: Path, bought: list[str], fail: Any) -> None:
    """The journal shows what happened: every purchase announced is closed (an outcome
    that succeeded or failed, or a re-count that resolved it), and every number bought is
    in it."""
    records = journal_records(work)
    intents = {
        r["op"]: r for r in records if r.get("event") == "intent" and r.get("action") == "purchase"
    }
    closed = {
        r.get("op")
        for r in records
        if r.get("event") == "resolved"
        or (r.get("event") == "outcome" and r.get("status") in ("succeeded", "failed"))
    }
    open_ops = sorted(set(intents) - closed)
    assert not open_ops, fail(f"purchases left unresolved in the journal: {open_ops}")
    in_journal: set[str] = set()
    for r in records:
        if r.get("event") in ("outcome", "resolved") and isinstance(r.get("numbers"), list):
            in_journal.update(str(n) for n in r["numbers"])
    missing = sorted(set(bought) - in_journal)
    assert not missing, fail(f"bought but not in the journal: {missing}")
