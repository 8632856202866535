"""A desired state that names one vendor only: an aql customer without an Aculab account
(`aql:` and `relay_routes:` alone), and an Aculab account without aql. Every command works,
reads and touches only the vendor the YAML names, and says nothing of the other.

Run through the real CLI against a simulator served over HTTP on 127.0.0.1, whose record of
calls shows which vendor each command reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from drift.support import ENV, reconciler, writes

from reconciler.simulator import RunningSimulator, Simulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def served() -> Iterator[tuple[Simulator, RunningSimulator]]:
    sim = Simulator(seed="demo")
    with sim.serve() as running:
        yield sim, running


def _aql_only(running: RunningSimulator) -> str:
    return (
        "version: 1\n"
        "aql:\n"
        "  username: example\n"
        "  password: ${AQL_PASSWORD}\n"
        f"  endpoint: {running.aql_url}\n"
        "relay_routes:\n"
        '  "44113000111": {action: httppost, detail: [https://sms.example.com/in?m=%m]}\n'
        '  "44113000112": {action: null-route}\n'
    )


def _aculab_only(running: RunningSimulator) -> str:
    return (
        "version: 1\n"
        "aculab:\n"
        '  cloud_id: "1-2-0"\n'
        "  username: ops@example.com\n"
        "  api_key: ${ACULAB_API_KEY}\n"
        f"  endpoint: {running.base_url}\n"
        "inbound_services:\n"
        "  night-desk: {description: Night desk}\n"
    )


def _vendors(sim: Simulator, since: int) -> set[str]:
    return {"aql" if c.path.startswith("/sms/") else "aculab" for c in sim.calls[since:]}


def test_an_aql_customer_runs_every_command_and_never_calls_aculab(
    served: tuple[Simulator, RunningSimulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, running = served
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "relays.yaml"
    path.write_text(_aql_only(running), encoding="utf-8")
    env = {"AQL_PASSWORD": ENV["AQL_PASSWORD"]}  # no Aculab key anywhere

    assert reconciler("validate", str(path), env=env).code == 0
    start = len(sim.calls)
    plan = reconciler("plan", str(path), "--detailed-exitcode", env=env)
    assert plan.code == 2, plan.output
    assert "relay:44113000111" in plan.stdout
    # Nothing of numbers or services: this user has no Aculab account.
    assert "unmanaged" not in plan.stdout.lower() and "number" not in plan.stdout.lower()

    applied = reconciler("apply", str(path), "--yes", env=env)
    assert applied.code == 0, applied.output
    assert sim.state.relay["44113000112"][0] == "null-route"
    assert {c.params.get("command") for c in writes(sim, start)} == {"modify"}

    again = reconciler("plan", str(path), "--detailed-exitcode", env=env)
    assert again.code == 0, again.output
    drift = reconciler("drift", str(path), env=env)
    assert drift.code == 0, drift.output

    out = tmp_path / "exported"
    export = reconciler(
        "export", str(path), "--relay-number", "44113000111", "--out", str(out), env=env
    )
    assert export.code == 0, export.output
    exported = "\n".join(p.read_text() for p in sorted(out.glob("*.yaml")))
    assert "44113000111" in exported and "aculab" not in exported
    assert reconciler("plan", str(out), "--detailed-exitcode", env=env).code == 0

    assert _vendors(sim, start) == {"aql"}


def test_an_aculab_only_state_never_calls_aql(
    served: tuple[Simulator, RunningSimulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, running = served
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "voice.yaml"
    path.write_text(_aculab_only(running), encoding="utf-8")
    env = {"ACULAB_API_KEY": ENV["ACULAB_API_KEY"]}  # no aql password anywhere

    start = len(sim.calls)
    assert reconciler("validate", str(path), env=env).code == 0
    applied = reconciler("apply", str(path), "--yes", env=env)
    assert applied.code == 0, applied.output
    assert reconciler("plan", str(path), "--detailed-exitcode", env=env).code == 0
    assert reconciler("drift", str(path), env=env).code == 0
    export = reconciler("export", str(path), "--out", str(tmp_path / "exported"), env=env)
    assert export.code == 0, export.output
    assert _vendors(sim, start) == {"aculab"}


def test_under_simulate_an_aql_customer_sees_nothing_of_the_simulated_aculab_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "relays.yaml"
    path.write_text(
        "version: 1\n"
        "aql:\n  username: example\n  password: ${AQL_PASSWORD}\n"
        "relay_routes:\n"
        '  "44113000112": {action: null-route}\n',
        encoding="utf-8",
    )
    plan = reconciler("plan", str(path), "--simulate", env={})
    assert plan.code == 0, plan.output
    # The demo account has numbers no pool claims; an aql customer is told nothing of them.
    assert "unmanaged" not in plan.output.lower()
    assert "4420" not in plan.output and "4419" not in plan.output


def test_a_state_naming_no_vendor_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "empty.yaml"
    path.write_text("version: 1\n", encoding="utf-8")
    plan = reconciler("plan", str(path), "--simulate", env={})
    assert plan.code == 1
    assert "aculab:" in plan.stderr and "aql:" in plan.stderr
