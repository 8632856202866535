"""`reconciler drift` end to end: the real CLI against the simulator over HTTP.

Someone changes the account by hand (directly in the simulator's state, or with a direct API
call); drift reports the resource and the field, exits 2, and never writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from drift.support import ENV, account_yaml, assert_absent, reconciler, state_json, writes
from reconciler.clients.parsers import relay_status
from reconciler.simulator import RunningSimulator, Simulator

pytestmark = pytest.mark.e2e

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "drift.schema.json").read_text(encoding="utf-8")
)
WAKEUP_PASSWORD = "wakeup-demo-password"  # the demo account's
ENV_ALL = {**ENV, "WAKEUP_PASSWORD": WAKEUP_PASSWORD}

# The demo account, declared as it is.
DESIRED = """
numbers:
  pools:
    london: {country: United Kingdom, region: London, count: 2}
  pinned:
    "441908538007": {}
inbound_services:
  "441908538007":
    description: Main line
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/support/first"}}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    description: Wake-up calls
    rest: {tts_voice: English US Female Polly Joanna}
relay_routes:
  "44113000111":
    action: httpget
    detail: "http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m"
  "44113000112": {action: email, detail: sms-inbox@example.com}
"""


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, RunningSimulator]]:
    simulator = Simulator(seed="demo")
    with simulator.serve() as running:
        yield simulator, running


@pytest.fixture
def desired(tmp_path: Path, sim: tuple[Simulator, RunningSimulator]) -> Path:
    path = tmp_path / "telephony.yaml"
    path.write_text(account_yaml(sim[1]) + DESIRED, encoding="utf-8")
    return path


def _hand_edit_relay(running: RunningSimulator, number: str, action: str) -> None:
    """A direct call to the aql gateway, as someone with the credentials would make."""
    reply = httpx.post(
        running.aql_url,
        data={
            "username": "example",
            "password": ENV["AQL_PASSWORD"],
            "command": "modify",
            "number": number,
            "action-type": action,
        },
    )
    status = relay_status(reply.text.splitlines()[0])  # ":" or "*", as the dialect has it
    assert status is not None and status[0] == "200", reply.text


def test_in_sync_exits_0_and_only_reads(
    sim: tuple[Simulator, RunningSimulator], desired: Path
) -> None:
    simulator, _ = sim
    before = state_json(simulator)
    run = reconciler("drift", str(desired), env=ENV_ALL)
    assert run.code == 0, run.output
    assert "No drift" in run.stdout
    assert simulator.calls, "drift must have read the account"
    assert writes(simulator) == []
    assert state_json(simulator) == before


def test_hand_changes_are_reported_with_their_fields(
    sim: tuple[Simulator, RunningSimulator], desired: Path
) -> None:
    simulator, running = sim
    simulator.state.services["inbound"]["441908538007"]["description"] = "Changed by hand"
    del simulator.state.numbers["442079460456"]  # released in the web portal
    _hand_edit_relay(running, "44113000112", "null-route")
    before = state_json(simulator)
    since = len(simulator.calls)

    text = reconciler("drift", str(desired), env=ENV_ALL)
    assert text.code == 2, text.output
    assert "~ inbound:441908538007" in text.stdout
    assert 'description: live "Changed by hand", declared "Main line"' in text.stdout
    assert "apply would PATCH description" in text.stdout
    assert "relay:44113000112" in text.stdout
    assert 'action: live "null-route", declared "email"' in text.stdout
    assert "pool:london" in text.stdout and "has 1 of 2 numbers" in text.stdout
    assert "apply would buy 1 number" in text.stdout

    js = reconciler("drift", str(desired), "--format", "json", env=ENV_ALL)
    assert js.code == 2
    data = json.loads(js.stdout)
    jsonschema.validate(data, SCHEMA)
    by_address = {i["address"]: i for i in data["drift"]}
    assert set(by_address) == {"inbound:441908538007", "relay:44113000112", "pool:london"}
    assert by_address["inbound:441908538007"]["fields"] == [
        {
            "path": "description",
            "action": "change",
            "live": "Changed by hand",
            "declared": "Main line",
        }
    ]

    md = reconciler("drift", str(desired), "--format", "markdown", env=ENV_ALL)
    assert md.code == 2
    assert md.stdout.startswith("### Drift: 3 resources differ")
    assert '| ~ | `inbound:441908538007` | `description` | `"Changed by hand"` |' in md.stdout

    # Three drift runs, and not one call that could change anything.
    assert writes(simulator, since) == []
    assert state_json(simulator) == before


def test_secrets_are_masked(sim: tuple[Simulator, RunningSimulator], desired: Path) -> None:
    simulator, _ = sim
    hand_set = "Hand-Set-Secret-4821"
    simulator.state.services["outbound"]["wakeup"]["service_password"] = hand_set
    for fmt in ("text", "json", "markdown"):
        run = reconciler("drift", str(desired), "--format", fmt, "-vv", env=ENV_ALL)
        assert run.code == 2, run.output
        assert "service_password" in run.stdout
        assert "(sensitive)" in run.stdout
        assert_absent([hand_set, WAKEUP_PASSWORD, ENV["ACULAB_API_KEY"]], run.stdout, run.stderr)


def test_ignore_rules_silence_known_drift(
    sim: tuple[Simulator, RunningSimulator], desired: Path, tmp_path: Path
) -> None:
    simulator, running = sim
    simulator.state.services["inbound"]["441908538007"]["description"] = "Changed by hand"
    _hand_edit_relay(running, "44113000112", "null-route")

    both = ["--ignore", "inbound:*/description", "--ignore", "relay:44113000112"]
    run = reconciler("drift", str(desired), *both, env=ENV_ALL)
    assert run.code == 0, run.output
    assert "No drift" in run.stdout
    assert "inbound:441908538007/description  (rule 'inbound:*/description')" in run.stdout

    one = reconciler("drift", str(desired), "--ignore", "relay:*", env=ENV_ALL)
    assert one.code == 2
    assert "inbound:441908538007" in one.stdout.split("Ignored")[0]
    assert "relay:44113000112" not in one.stdout.split("Ignored")[0]

    other = reconciler("drift", str(desired), "--ignore", "outbound:*/description", env=ENV_ALL)
    assert other.code == 2
    assert "matched nothing" in other.stdout

    # The same rules from the YAML
    in_yaml = tmp_path / "with-ignore.yaml"
    in_yaml.write_text(
        desired.read_text(encoding="utf-8")
        + 'drift:\n  ignore: ["inbound:*/description", "relay:44113000112"]\n',
        encoding="utf-8",
    )
    assert reconciler("drift", str(in_yaml), env=ENV_ALL).code == 0


def test_errors_exit_1(
    sim: tuple[Simulator, RunningSimulator], desired: Path, tmp_path: Path
) -> None:
    simulator, _ = sim
    bad_rule = reconciler("drift", str(desired), "--ignore", "inbound:*/", env=ENV_ALL)
    assert bad_rule.code == 1
    assert "ADDRESS_GLOB" in bad_rule.stderr
    assert simulator.calls == [], "a bad rule must fail before any call"

    wrong_key = reconciler("drift", str(desired), env={**ENV_ALL, "ACULAB_API_KEY": "wrong"})
    assert wrong_key.code == 1
    assert "Error:" in wrong_key.stderr

    missing = reconciler("drift", str(tmp_path / "nope.yaml"), env=ENV_ALL)
    assert missing.code == 1

    assert reconciler("drift", str(desired), "--format", "xml", env=ENV_ALL).code == 1


def test_passwords_in_relay_urls_are_masked(
    sim: tuple[Simulator, RunningSimulator], tmp_path: Path
) -> None:
    """A relay route's detail comes from aql as plain text: a password in a callback URL
    must be masked on both sides, in the fields and in what apply would do."""
    simulator, running = sim
    live_secret, declared_secret = "Live-Relay-Secret-6610", "Declared-Relay-Secret-2207"
    simulator.state.relay["44113000114"] = (
        "httpget",
        f"https://relay:{live_secret}@partner.example.org/sms?msg=%m",
    )
    path = tmp_path / "relay.yaml"
    path.write_text(
        account_yaml(running)
        + "relay_routes:\n  '44113000114':\n    action: httppost\n    detail:\n"
        + "      - https://relay:${PARTNER_PASSWORD}@partner.example.org/sms?msg=%m\n",
        encoding="utf-8",
    )
    env = {**ENV, "PARTNER_PASSWORD": declared_secret}
    for fmt in ("text", "json", "markdown"):
        run = reconciler("drift", str(path), "--format", fmt, env=env)
        assert run.code == 2, run.output
        assert "https://relay:(sensitive)@partner.example.org/sms?msg=%m" in run.stdout
        assert_absent([live_secret, declared_secret], run.stdout, run.stderr)
