"""`reconciler doctor` end to end: the real CLI against the simulator over HTTP on 127.0.0.1,
in every dialect the simulator plays. Each verdict is checked where it should appear, the exit
code follows the worst one, and the simulator's call log proves that nothing was written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from drift.support import ENV, account_yaml, reconciler, state_json

from reconciler.simulator import Dialect, Faults, RunningSimulator, Simulator
from reconciler.simulator.app import SimCall
from reconciler.simulator.dialect import MODES

pytestmark = pytest.mark.e2e

DIALECTS = ["documented", *MODES, "all"]
RELAY_PASSWORD = "RelayPW-doctor-7e11"
SERVICE_PASSWORD = "wakeup-demo-password"  # the demo account's, returned by every read

POOLS = """\
numbers:
  pools:
    london:
      country: United Kingdom
      region: London
      did_type: geographic
      count: 2
    calgary:
      country: Canada
      state: Alberta
      region: Calgary
      count: 1
relay_routes:
  "44113000111": {action: httpget, detail: ["https://hook:${RELAY_PASSWORD}@app.example.com/in"]}
  "44113000112": {action: email, detail: [sms-inbox@example.com]}
"""
ENVIRONMENT = {**ENV, "RELAY_PASSWORD": RELAY_PASSWORD}

# What a read-only run may call: reads, the catalogue, the development purchase, aql query.
READ_PATHS = {
    "/tel_list_numbers",
    "/tel_get_supported_countries",
    "/tel_get_supported_states",
    "/tel_get_supported_regions",
    "/tel_list_regulation_addresses",
    "/tel_purchase_development",
}
# Which findings each mode turns from "holds" to "adapts".
ADAPTS = {
    "documented": set(),
    "no-schema-defaults": {"aculab.schema.defaults"},
    "aql-star": {"aql.separator"},
    "inbound-array": {"aculab.services.inbound-list"},
    "inbound-keyed": {"aculab.services.inbound-list"},
    "html-errors": {"aculab.errors.services", "aculab.errors.numbers"},
    "normalise": set(),  # only a write shows it: doctor says it can't know
}
ADAPTS["all"] = set().union(*(ADAPTS[m] for m in ("no-schema-defaults", "aql-star",
                                                 "inbound-array", "html-errors")))  # fmt: skip


def only_reads(calls: list[SimCall]) -> list[str]:
    """Every call a read-only run must not make."""
    bad = []
    for call in calls:
        if call.path.startswith("/sms/"):
            if call.params.get("command") != "query":
                bad.append(f"aql {call.params.get('command')}")
        elif call.path.startswith("/service/"):
            if call.method != "GET":
                bad.append(f"{call.method} {call.path}")
        elif call.path not in READ_PATHS:
            bad.append(f"{call.method} {call.path}")
    return bad


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture
def served(dialect: str) -> Iterator[RunningSimulator]:
    sim = Simulator(seed="demo", dialect=Dialect.from_modes([dialect]))
    with sim.serve() as running:
        yield running


def write(tmp_path: Path, running: RunningSimulator, body: str = POOLS) -> Path:
    path = tmp_path / "account.yaml"
    path.write_text(account_yaml(running) + body)
    return path


def doctor_json(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    run = reconciler("doctor", str(path), "--format", "json", *args, env=env or ENVIRONMENT)
    assert run.stderr == "" or "Error" not in run.stderr, run.output
    return run.code, json.loads(run.stdout)


def verdicts(document: Any) -> dict[str, str]:
    return {f["id"]: f["verdict"] for f in document["findings"]}


def test_every_verdict_in_every_dialect(
    dialect: str, served: RunningSimulator, tmp_path: Path
) -> None:
    sim = served.simulator
    before = state_json(sim)
    path = write(tmp_path, served)

    code, document = doctor_json(path)

    found = verdicts(document)
    adapts = {id for id, v in found.items() if v == "adapts"}
    assert adapts == ADAPTS[dialect], found
    assert not [id for id, v in found.items() if v == "breaks"], found
    assert code == (2 if ADAPTS[dialect] else 0)
    assert document["exit_code"] == code
    assert document["summary"]["adapts"] == len(ADAPTS[dialect])
    # Every assumption the issue names has its line.
    for id in (
        "aculab.credentials", "aculab.numbers.list", "aculab.services.inbound-list",
        "aculab.services.outbound-list", "aculab.services.inbound-read",
        "aculab.services.outbound-read", "aculab.schema.inbound", "aculab.schema.outbound",
        "aculab.schema.defaults", "aculab.errors.services", "aculab.errors.numbers",
        "aculab.catalogue.lists", "aculab.regulation-addresses",
        "aculab.purchase-development", "pool.london", "pool.calgary", "aql.credentials",
        "aql.reply", "aql.separator", "aql.failure", "rate-limits", "latency",
        "writes.read-back",
    ):  # fmt: skip
        assert id in found
    assert found["writes.read-back"] == "unchecked"  # a write would show it; doctor never writes
    # Strictly read-only, by the simulator's own record of every call.
    assert only_reads(sim.calls) == []
    assert state_json(sim) == before
    assert sim.state.purchase_log == []


def test_text_and_exit_code(dialect: str, served: RunningSimulator, tmp_path: Path) -> None:
    path = write(tmp_path, served)

    run = reconciler("doctor", str(path), env=ENVIRONMENT)

    assert run.code == (2 if ADAPTS[dialect] else 0), run.output
    text = run.stdout
    assert text.startswith("reconciler doctor: Aculab Cloud at 127.0.0.1:")
    for line in ("pages:", "answered:", "reconciler:"):
        assert line in text
    assert "Latency per endpoint" in text and "/tel_list_numbers" in text
    if ADAPTS[dialect]:
        assert "ADAPTS" in text and "reconciler adapts to every difference" in text
    else:
        assert "Every assumption holds." in text


def test_json_masks_secrets_and_names_no_account_data(
    served: RunningSimulator, tmp_path: Path
) -> None:
    sim = served.simulator
    path = write(tmp_path, served)

    run = reconciler("doctor", str(path), "--format", "json", env=ENVIRONMENT)

    text = run.stdout
    for secret in ("sim-api-key", "sim-aql-password", RELAY_PASSWORD, SERVICE_PASSWORD):
        assert secret not in run.output
    for number in [*sim.state.numbers, *sim.state.relay]:
        assert number not in text  # counts, not numbers
    for name in [*sim.state.services["inbound"], *sim.state.services["outbound"]]:
        if not name.isdigit():
            assert f'"{name}"' not in text and f" {name} " not in text
    assert "ops@example.com" not in text
    document = json.loads(text)
    assert document["format"] == "reconciler-doctor"
    facts = {f["id"]: f["facts"] for f in document["findings"]}
    assert facts["aculab.numbers.list"]["numbers"] == len(sim.state.numbers)
    assert facts["aql.reply"]["queried"] == 2
    assert document["calls"]["total"] > 10
    assert document["suggested_concurrency"] >= 1


def test_wrong_aculab_key_breaks_and_leaves_the_rest_unchecked(
    served: RunningSimulator, tmp_path: Path
) -> None:
    path = write(tmp_path, served)

    code, document = doctor_json(path, env={**ENVIRONMENT, "ACULAB_API_KEY": "wrong-key"})

    found = verdicts(document)
    assert code == 1
    assert found["aculab.credentials"] == "breaks"
    assert found["aculab.services"] == "unchecked" and found["aculab.catalogue"] == "unchecked"
    assert found["aql.credentials"] == "holds"  # the other vendor is still checked
    assert "wrong-key" not in json.dumps(document)
    credentials = next(f for f in document["findings"] if f["id"] == "aculab.credentials")
    assert "aculab.api_key" in credentials["reconciler"]


def test_wrong_aql_password_breaks(served: RunningSimulator, tmp_path: Path) -> None:
    path = write(tmp_path, served)

    code, document = doctor_json(path, env={**ENVIRONMENT, "AQL_PASSWORD": "wrong-password"})

    assert code == 1
    assert verdicts(document)["aql.credentials"] == "breaks"
    assert verdicts(document)["aculab.credentials"] == "holds"
    assert "wrong-password" not in json.dumps(document)


BAD_POOLS = """\
numbers:
  pools:
    nowhere:
      country: United Kingdom
      region: Londn
      count: 1
    paris:
      country: France
      region: Paris
      count: 1
relay_routes:
  "44999000999": {action: null-route}
"""


def test_what_the_yaml_gets_wrong_breaks_with_its_place(
    served: RunningSimulator, tmp_path: Path
) -> None:
    path = write(tmp_path, served, BAD_POOLS)

    code, document = doctor_json(path)

    found = {f["id"]: f for f in document["findings"]}
    assert code == 1
    nowhere = found["pool.nowhere"]
    assert nowhere["verdict"] == "breaks"
    assert "did you mean 'London'" in nowhere["answered"]
    assert "account.yaml:" in nowhere["reconciler"]
    paris = found["pool.paris"]  # France needs a regulation address (0005)
    assert paris["verdict"] == "breaks" and paris["facts"]["code"] == "0005"
    assert "regulation_address" in paris["reconciler"]
    relay = found["aql.reply"]
    assert relay["verdict"] == "breaks" and "69001" in relay["answered"]
    assert "44999000999" not in json.dumps(document)  # named by its place in the YAML
    assert "account.yaml:" in relay["answered"]


def test_relay_numbers_given_on_the_command_line(
    dialect: str, served: RunningSimulator, tmp_path: Path
) -> None:
    path = write(tmp_path, served, "")
    code, bare = doctor_json(path)
    # Nothing to query is not a difference (no reply: the separator is unchecked).
    assert code == (2 if ADAPTS[dialect] - {"aql.separator"} else 0)
    assert verdicts(bare)["aql.reply"] == "unchecked"
    assert verdicts(bare)["aql.credentials"] == "holds"  # a query without a number: 400

    _code, document = doctor_json(path, "--relay-number", "+44 113 000 113")

    found = {f["id"]: f for f in document["findings"]}
    assert found["aql.reply"]["verdict"] == "holds"
    assert found["aql.reply"]["facts"]["actions"] == {"mvno": 1}
    assert "--relay-number #1" in found["aql.credentials"]["answered"]


def test_rate_limits_are_reported(served: RunningSimulator, tmp_path: Path) -> None:
    served.simulator.faults = Faults(rate_limit={"/tel_*": 0.5}, retry_after_s=0, seed=3)
    path = write(tmp_path, served)

    _code, document = doctor_json(path)

    found = {f["id"]: f for f in document["findings"]}
    limits = found["rate-limits"]
    assert limits["facts"]["429"] > 0
    assert limits["facts"]["retry_after"] == ["0"]
    assert limits["verdict"] == "holds"  # 429 with Retry-After in seconds, as assumed
    latency = found["latency"]
    assert latency["facts"]["suggested_concurrency"] == max(1, 16 // 4)
    assert "429" in latency["reconciler"]
    assert only_reads(served.simulator.calls) == []


def test_an_unreadable_list_breaks(served: RunningSimulator, tmp_path: Path) -> None:
    served.simulator.faults = Faults(garbage_rate={"/service/v1/inbound": 1.0})
    path = write(tmp_path, served)

    code, document = doctor_json(path)

    found = {f["id"]: f for f in document["findings"]}
    assert code == 1
    inbound = found["aculab.services.inbound-list"]
    assert inbound["verdict"] == "breaks"
    assert "attach --format json" in inbound["reconciler"]


def test_an_account_file_alone_checks_what_it_can(tmp_path: Path) -> None:
    with Simulator(seed="empty", dialect=Dialect()).serve() as running:
        path = tmp_path / "account.yaml"
        path.write_text(account_yaml(running) + "numbers:\n  pools:\n    p: {country: Spain}\n")

        run = reconciler("doctor", str(path), env=ENV)

    assert run.code == 0, run.output
    assert "its pools and relay routes were not checked" in run.stdout
    assert "the account has no inbound services to read" in run.stdout


@pytest.mark.parametrize(("modes", "code"), [("documented", 0), ("aql-star,inbound-keyed", 2)])
def test_simulate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modes: str, code: int) -> None:
    """Under --simulate the embedded simulator plays RECONCILER_SIMULATOR_DIALECT's modes."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "account.yaml"
    path.write_text(
        'version: 1\naculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${K}"}\n'
        'aql: {username: example, password: "${P}"}\n' + POOLS
    )
    env = {"RELAY_PASSWORD": "x", "RECONCILER_SIMULATOR_DIALECT": modes}

    run = reconciler("doctor", str(path), "--simulate", "--format", "json", env=env)

    assert run.code == code, run.output
    found = verdicts(json.loads(run.stdout))
    assert found["pool.london"] == "holds" and found["aql.reply"] == "holds"
    adapts = {id for id, v in found.items() if v == "adapts"}
    assert adapts == (set() if code == 0 else {"aql.separator", "aculab.services.inbound-list"})


def test_a_bad_account_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "account.yaml"
    path.write_text("version: 1\nnumbers: {}\n")

    run = reconciler("doctor", str(path), env=ENV)

    assert run.code == 1
    assert "account.yaml" in run.stderr and "aculab" in run.stderr
    assert "Traceback" not in run.output


def test_an_aql_customer_without_an_aculab_account(
    served: RunningSimulator, tmp_path: Path
) -> None:
    path = tmp_path / "account.yaml"
    path.write_text(
        "version: 1\naql:\n  username: example\n  password: ${AQL_PASSWORD}\n"
        f"  endpoint: {served.aql_url}\n"
        'relay_routes:\n  "44113000114": {action: null-route}\n'
    )

    code, document = doctor_json(path)

    found = verdicts(document)
    assert found["aculab.credentials"] == "unchecked"
    assert found["aql.credentials"] == "holds" and found["aql.reply"] == "holds"
    assert code == (2 if found["aql.separator"] == "adapts" else 0)
    assert document["aculab_host"] is None
    assert [c.path for c in served.simulator.calls if not c.path.startswith("/sms/")] == []
