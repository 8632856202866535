"""The run's limits at the command line: a rate limit the tool is not told, the call deadline
and the retry budget (docs/rate-limits.md). The installed script against a real simulator on
127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import Faults, Simulator

from .test_bad_input import CREDS, _account, _assert_error, _env, _run

RELAY = [f"4411300{i:05d}" for i in range(60)]


def _desired(path: Path, base_url: str) -> Path:
    """The account of ``test_bad_input`` with 60 more relay routes (enough calls a second for
    a rate limit to matter)."""
    _account(path, base_url)
    with path.open("a", encoding="utf-8") as f:
        f.writelines(f'  "{n}": {{action: null-route}}\n' for n in RELAY)
    return path


@pytest.fixture
def limited() -> Iterator[tuple[Simulator, str]]:
    """A simulator that takes 30 calls a second per vendor, past a burst of 5."""
    simulator = Simulator(
        seed="demo", credentials=CREDS, faults=Faults(rate_limit_per_s=30, rate_limit_burst=5)
    )
    for number in RELAY:  # aql numbers of this account
        simulator.state.relay[number] = ("null-route", "")
    with simulator.serve() as running:
        yield simulator, running.base_url


def test_a_rate_limit_nobody_announced_costs_no_failed_call(
    tmp_path: Path, limited: tuple[Simulator, str]
) -> None:
    simulator, base_url = limited
    desired = _desired(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "plan", str(desired), "--format", "json", **_env())
    # A plan came out (3: the account's own sales-sip differs past a safety limit).
    assert run.returncode in (0, 3), run.stderr
    assert "changes" in json.loads(run.stdout)
    assert "Traceback" not in run.stderr
    statuses = [c.status for c in simulator.calls]
    assert 429 in statuses  # the limit was met...
    answered = [c for c in simulator.calls if c.status != 429]
    assert sum(1 for c in answered if c.path.startswith("/sms/")) == len(RELAY) + 1  # each once


def test_a_spent_retry_budget_is_a_clear_error(
    tmp_path: Path, limited: tuple[Simulator, str]
) -> None:
    _simulator, base_url = limited
    desired = _desired(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "plan", str(desired), "--retry-budget", "0", **_env())
    _assert_error(run, "answered 429", "retry budget of 0 retries is spent", "--retry-budget")


@pytest.mark.parametrize(
    "args",
    [
        ("--call-deadline", "nan"),
        ("--call-deadline", "inf"),
        ("--call-deadline", "-5"),
        ("--call-deadline", "0"),
        ("--retry-budget", "-1"),
    ],
)
def test_limits_that_make_no_sense_are_usage_errors(tmp_path: Path, args: tuple[str, str]) -> None:
    desired = _desired(tmp_path / "x.yaml", "http://127.0.0.1:9")
    run = _run(tmp_path, "plan", str(desired), *args, **_env())
    _assert_error(run, f"Invalid value for '{args[0]}'")
    assert "journal" not in run.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-2"])
def test_a_simulator_rate_limit_that_makes_no_sense_is_a_usage_error(
    tmp_path: Path, value: str
) -> None:
    for option in ("--rate-limit", "--rate-limit-burst"):
        run = _run(tmp_path, "simulator", "serve", "--port", "0", option, value)
        _assert_error(run, f"Invalid value for '{option}'")
