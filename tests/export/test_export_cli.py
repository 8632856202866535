"""`reconciler export` end to end: export a live account (the simulator over HTTP), then the
YAML validates and plans clean against the same account, with and without --pools, as one
document or a directory; no secret is ever written or printed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from drift.support import ENV, account_yaml, assert_absent, reconciler, state_json, writes

from reconciler.desired import load
from reconciler.simulator import RunningSimulator, Simulator
from reconciler.simulator.services import fill_defaults

pytestmark = pytest.mark.e2e

WAKEUP = "Wakeup-Export-Secret-77"
AUTH = "Auth-Export-Secret-31"
HOOK = "Hook-Export-Secret-52"
RELAY = "Relay-Export-Secret-18"
SECRETS = [WAKEUP, AUTH, HOOK, RELAY, ENV["ACULAB_API_KEY"], ENV["AQL_PASSWORD"]]
# What each placeholder export writes stands for (the test knows the account).
VALUES = {
    "OUTBOUND_WAKEUP_SERVICE_PASSWORD": WAKEUP,
    "INBOUND_SUPPORT_SIP_REST_AUTHENTICATION_PASSWORD": AUTH,
    "INBOUND_SUPPORT_SIP_REST_FIRST_PAGE_ADDRESS_PASSWORD": HOOK,
    "RELAY_44113000111_DETAIL_1_PASSWORD": RELAY,
}
RELAYS = ["44113000111", "44113000112", "44113000113", "+44 113 000 114"]


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, RunningSimulator]]:
    """The demo account, made harder: secrets in service options and URLs, a tollfree
    number, and two London numbers answered by the same configuration."""
    simulator = Simulator(seed="demo")
    state = simulator.state
    state.services["outbound"]["wakeup"]["service_password"] = WAKEUP
    state.services["inbound"]["support-sip"] = fill_defaults(
        "inbound",
        {
            "description": "Support desk ${not a variable}",
            "application_type": "REST",
            "rest": {
                "first_page": {"address": f"https://hook:{HOOK}@app.example.com/desk"},
                "authentication": {"username": "app", "password": AUTH},
            },
        },
    )
    state.services["inbound"]["442079460456"] = state.services["inbound"]["442079460123"]
    state.numbers["18005550199"] = {
        "country": "Canada",
        "region": "800",
        "did_type": "tollfree",
        "price": "20.00",
        "purchased": "2024-06-01",
    }
    state.relay["44113000111"] = (
        "httppost",
        f"https://sms:{RELAY}@hooks.example.com/sms?msg=%m,https://backup.example.com/sms?msg=%m",
    )
    with simulator.serve() as running:
        yield simulator, running


@pytest.fixture
def account(tmp_path: Path, sim: tuple[Simulator, RunningSimulator]) -> Path:
    """ACCOUNT: the account sections, then a rest that export must ignore (a variable that is
    not set, an unknown section)."""
    path = tmp_path / "account.yaml"
    path.write_text(
        account_yaml(sim[1])
        + "outbound_services:\n  x:\n    service_password: ${NOT_SET_ANYWHERE}\n"
        + "not_a_section: true\n",
        encoding="utf-8",
    )
    return path


def _relay_args() -> list[str]:
    return [a for n in RELAYS for a in ("--relay-number", n)]


def _plan_clean(path: Path) -> None:
    env = {**ENV, **VALUES}
    load(path, environ=env)  # validates
    run = reconciler("plan", str(path), "--detailed-exitcode", env=env)
    assert run.code == 0, run.output
    assert "No changes" in run.stdout


@pytest.mark.parametrize("pools", [False, True])
def test_export_to_stdout_plans_clean(
    sim: tuple[Simulator, RunningSimulator], account: Path, tmp_path: Path, pools: bool
) -> None:
    simulator, _ = sim
    before = state_json(simulator)
    args = ["export", str(account), *_relay_args(), *(["--pools"] if pools else [])]
    run = reconciler(*args, env=ENV)
    assert run.code == 0, run.output
    assert writes(simulator) == []
    assert state_json(simulator) == before

    text = run.stdout
    assert text.startswith("# yaml-language-server: $schema=")
    assert_absent(SECRETS, run.stdout, run.stderr)
    # Every secret is a placeholder, listed at the end and in the command's report.
    data = yaml.safe_load(text)
    assert data["aculab"]["api_key"] == "${ACULAB_API_KEY}"
    assert data["aql"]["password"] == "${AQL_PASSWORD}"
    for name in VALUES:
        assert "${" + name + "}" in text
        assert re.search(rf"^#\s+{name}\s", text, re.M)
        assert name in run.stderr
    assert "44113000113" in run.stderr and "mvno" in run.stderr  # left out, and said so
    # Only options that differ from the schema's defaults (a schema without any keeps them all)
    wakeup = data["outbound_services"]["wakeup"]
    if simulator.dialect.schema_defaults:
        assert "enabled" not in wakeup and "g729" not in wakeup
    else:
        assert wakeup["enabled"] is True and wakeup["g729"] is False
    assert wakeup["rest"]["tts_voice"] == "English US Female Polly Joanna"
    # A literal ${ survives the round trip
    assert data["inbound_services"]["support-sip"]["description"] == (
        "Support desk $${not a variable}"
    )
    if pools:
        london = data["numbers"]["pools"]["london"]
        assert london["count"] == 2
        assert london["inbound"]["rest"]["first_page"]["address"].startswith("https://app.")
        assert "442079460123" not in data.get("inbound_services", {})
        assert data["numbers"]["pools"]["tollfree-800"]["did_type"] == "tollfree"
    else:
        assert set(data["numbers"]["pinned"]) == {
            "441908538007",
            "442079460123",
            "442079460456",
            "15873155555",
            "12045550142",
            "18005550199",
        }

    out = tmp_path / "exported.yaml"
    out.write_text(text, encoding="utf-8")
    _plan_clean(out)


def test_export_to_a_directory_plans_clean(
    sim: tuple[Simulator, RunningSimulator], account: Path, tmp_path: Path
) -> None:
    out = tmp_path / "telephony"
    run = reconciler("export", str(account), "--out", str(out), "--pools", *_relay_args(), env=ENV)
    assert run.code == 0, run.output
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "account.yaml",
        "desired-state.schema.json",
        "inbound-services.yaml",
        "numbers.yaml",
        "outbound-services.yaml",
        "relay-routes.yaml",
    ]
    for path in out.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=")
        ref = text.splitlines()[0].split("$schema=", 1)[1]
        assert (out / ref).resolve().name == "desired-state.schema.json"
        assert (out / ref).resolve().is_file()
        assert_absent(SECRETS, text)
    assert_absent(SECRETS, run.stdout, run.stderr)
    assert "OUTBOUND_WAKEUP_SERVICE_PASSWORD" in run.stdout
    _plan_clean(out)

    # A second export does not replace files without --overwrite
    again = reconciler("export", str(account), "--out", str(out), env=ENV)
    assert again.code == 1
    assert "already exists" in again.stderr
    assert reconciler("export", str(account), "--out", str(out), "--overwrite", env=ENV).code == 0


def test_account_errors_exit_1(sim: tuple[Simulator, RunningSimulator], tmp_path: Path) -> None:
    _, running = sim
    no_aculab = tmp_path / "no-aculab.yaml"
    no_aculab.write_text("version: 1\nnumbers: {}\n", encoding="utf-8")
    run = reconciler("export", str(no_aculab), env=ENV)
    assert run.code == 1
    assert "aculab" in run.stderr

    only = tmp_path / "only-accounts.yaml"  # no version, nothing else: still an ACCOUNT
    only.write_text(account_yaml(running).replace("version: 1\n", ""), encoding="utf-8")
    unset = reconciler("export", str(only), env={"AQL_PASSWORD": "x"})
    assert unset.code == 1
    assert "ACULAB_API_KEY is not set" in unset.stderr
    assert reconciler("export", str(only), env=ENV).code == 0

    bad_number = reconciler("export", str(only), "--relay-number", "01234", env=ENV)
    assert bad_number.code == 1
    assert "--relay-number" in bad_number.stderr

    wrong_key = reconciler("export", str(only), env={**ENV, "ACULAB_API_KEY": "nope"})
    assert wrong_key.code == 1
    assert "nothing was exported" in wrong_key.stderr or "Error:" in wrong_key.stderr
    assert wrong_key.stdout == ""
