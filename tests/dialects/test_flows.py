"""The key flows, end to end, in every simulator dialect: what the vendor pages leave open
must not change what reconciler does.

Each test runs the real CLI against a simulator over HTTP on 127.0.0.1 that plays one
alternative (``reconciler.simulator.dialect``): schemas without ``default`` keywords, aql's
``*`` separator, the inbound list as a bare array or keyed by name, HTML error pages, a server
that normalises what it stores, and all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from drift.support import ENV, account_yaml, reconciler, writes

from reconciler.simulator import Dialect, RunningSimulator, Simulator
from reconciler.simulator.dialect import ENVIRONMENT_VARIABLE, MODES

pytestmark = pytest.mark.e2e

DIALECTS = ["documented", *MODES, "all"]
RELAY_PASSWORD = "RelayPW-dialect-5c1e"

DESIRED = """\
numbers:
  pools:
    london:
      country: United Kingdom
      region: London
      did_type: geographic
      count: 3
      inbound:
        application_type: REST
        rest: {first_page: {address: "https://app.example.com/support"}}
inbound_services:
  sales-sip:
    application_type: REST
    description: Sales (SIP)
    rest: {first_page: {address: "https://app.example.com/sales"}}
outbound_services:
  wakeup:
    mode: replace
    description: Wake-up calls
    service_password: wakeup-demo-password
    application_type: REST
    rest:
      first_page: {address: "https://app.example.com/wakeup"}
      tts_voice: English US Female Polly Joanna
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://relay:${RELAY_PASSWORD}@primary.example.com/sms?id=%i",
             "https://backup.example.com/sms?id=%i"]
  "44113000112": {action: email, detail: [sms-inbox@example.com, ops@example.com]}
"""


@pytest.fixture(params=DIALECTS)
def served(request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    with Simulator(seed="demo", dialect=Dialect.from_modes([request.param])).serve() as running:
        yield running


def _write(tmp_path: Path, running: RunningSimulator, body: str = DESIRED) -> Path:
    path = tmp_path / "desired.yaml"
    path.write_text(account_yaml(running) + body)
    return path


ENVIRONMENT = {**ENV, "RELAY_PASSWORD": RELAY_PASSWORD}
# Under --simulate the accounts are the simulator's: the variables need not be set.
SIMULATED_ACCOUNT = """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
aql: {username: example, password: "${AQL_PASSWORD}"}
"""


def test_apply_converges_then_plan_and_drift_are_clean(
    served: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, served)
    sim = served.simulator

    planned = reconciler("plan", str(path), "--detailed-exitcode", env=ENVIRONMENT)
    assert planned.code == 2, planned.output
    assert writes(sim) == []

    applied = reconciler("apply", str(path), "--yes", env=ENVIRONMENT)
    assert applied.code == 0, applied.output
    state = sim.state
    assert len([n for n in state.numbers.values() if n["region"] == "London"]) == 3
    assert state.relay["44113000111"][0] == "httppost"
    assert state.relay["44113000112"] == ("email", "sms-inbox@example.com,ops@example.com")

    again = reconciler("plan", str(path), "--detailed-exitcode", env=ENVIRONMENT)
    assert again.code == 0, again.output
    if not sim.dialect.schema_defaults:  # mode: replace can't know the undeclared defaults
        assert "outbound schema has no default values" in again.output
    drift = reconciler("drift", str(path), env=ENVIRONMENT)
    assert drift.code == 0, drift.output
    for run in (planned, applied, again, drift):
        assert RELAY_PASSWORD not in run.output


def test_a_hand_change_shows_as_drift(
    served: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, served)
    assert reconciler("apply", str(path), "--yes", env=ENVIRONMENT).code == 0
    sim = served.simulator
    sim.state.services["inbound"]["sales-sip"]["description"] = "changed by hand"
    sim.state.relay["44113000112"] = ("null-route", "")

    drift = reconciler("drift", str(path), env=ENVIRONMENT)

    assert drift.code == 2, drift.output
    assert "inbound:sales-sip" in drift.output and "relay:44113000112" in drift.output


def test_export_plans_clean(
    served: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    account = tmp_path / "account.yaml"
    account.write_text(account_yaml(served))
    numbers = ["--relay-number", "44113000111", "--relay-number", "44113000112"]

    exported = reconciler("export", str(account), *numbers, env=ENV)

    assert exported.code == 0, exported.output
    assert writes(served.simulator) == []
    data = yaml.safe_load(exported.stdout)
    assert set(data["inbound_services"]) >= {"sales-sip"}
    assert set(data["outbound_services"]) == {"wakeup"}
    path = tmp_path / "exported.yaml"
    path.write_text(exported.stdout)
    secrets = {"OUTBOUND_WAKEUP_SERVICE_PASSWORD": "wakeup-demo-password"}
    planned = reconciler("plan", str(path), "--detailed-exitcode", env={**ENV, **secrets})
    assert planned.code == 0, planned.output


def test_errors_stay_clear(
    served: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body the server's schema refuses and a wrong key: the same clear errors in every
    dialect. The body is refused before anything is written, at its place in the YAML."""
    monkeypatch.chdir(tmp_path)
    bad = DESIRED.replace(
        'rest: {first_page: {address: "https://app.example.com/sales"}}',
        'rest: {first_page: {address: "https://app.example.com/sales", method: HAHA}}',
    )
    path = _write(tmp_path, served, bad)
    refused = reconciler("apply", str(path), "--yes", "--force", env=ENVIRONMENT)
    assert refused.code == 1, refused.output
    assert "inbound service sales-sip: rest.first_page.method" in refused.output
    assert "HAHA" in refused.output
    assert writes(served.simulator) == []
    assert "<" not in refused.output  # never HTML on the user's screen

    wrong_key = reconciler("plan", str(path), env={**ENVIRONMENT, "ACULAB_API_KEY": "wrong"})
    assert wrong_key.code == 1
    assert "answered 401" in wrong_key.output
    assert "aculab.api_key" in wrong_key.output


@pytest.mark.parametrize("modes", ["all", "aql-star,inbound-keyed"])
def test_simulate_takes_the_dialect_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modes: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "desired.yaml"
    path.write_text(SIMULATED_ACCOUNT + DESIRED)
    env = {ENVIRONMENT_VARIABLE: modes, "RELAY_PASSWORD": RELAY_PASSWORD}
    applied = reconciler("apply", str(path), "--simulate", "--yes", env=env)
    assert applied.code == 0, applied.output
    again = reconciler("plan", str(path), "--simulate", "--detailed-exitcode", env=env)
    assert again.code == 0, again.output


def test_simulate_with_an_unknown_dialect_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "desired.yaml"
    path.write_text("version: 1\n")
    run = reconciler("plan", str(path), "--simulate", env={ENVIRONMENT_VARIABLE: "aql-dash"})
    assert run.code == 1
    assert ENVIRONMENT_VARIABLE in run.stderr and "aql-dash" in run.stderr
    assert "Traceback" not in run.output
