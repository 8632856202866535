"""Under --simulate a ``${NAME}`` in a secret position reads as ``simulated-NAME`` even when the
environment sets ``NAME``: the simulator stores what it is given (service passwords, relay
URLs), and a user running --simulate with real secrets in the environment (CI) must not find
them in ``.reconciler/simulator.json``. A variable in any other position still reads the
environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconciler.desired import load
from reconciler.desired.accounts import load_accounts
from reconciler.secret import Secret

from .helpers import write

# Distinctive, so that a leak is found by a substring search.
ENVIRON = {
    "ACULAB_API_KEY": "REALKEY-4f8a1c",
    "AQL_PASSWORD": "REALAQL-9d2e7b",
    "WAKEUP_PASSWORD": "REALWAKE-3c6f0a",
    "AUTH_PASSWORD": "REALAUTH-7b1d5e",
    "HOOK_PASSWORD": "REALHOOK-2a9c4f",
    "CALLBACK_URL": "https://cb:REALCB-8e3b6d@callbacks.example.com/in",
    "DESK_NAME": "Front desk",
    "APP_HOST": "app.example.com",
    "REGION": "London",
}

STATE = """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
aql: {username: example, password: "${AQL_PASSWORD}"}
templates:
  secured:
    rest: {authentication: {username: bob, password: "${AUTH_PASSWORD}"}}
numbers:
  pools:
    london:
      country: United Kingdom
      region: ${REGION}
      count: 1
      inbound: {template: secured, description: "pool ${DESK_NAME}"}
inbound_services:
  sales-sip:
    template: secured
    description: ${DESK_NAME}
    rest:
      first_page: {address: "https://bob:${HOOK_PASSWORD}@${APP_HOST}/first"}
      error_page: {address: "${CALLBACK_URL}"}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    description: Wake-up for ${DESK_NAME}
relay_routes:
  "44113000111":
    action: httppost
    detail:
      - "https://sms:${HOOK_PASSWORD}@hooks.example.com/sms?id=%i"
      - "${CALLBACK_URL}"
      - "https://${APP_HOST}/sms?id=%i"
"""


def test_simulate_reads_every_secret_position_as_simulated_name(tmp_path: Path) -> None:
    state = load(write(tmp_path, STATE), environ=ENVIRON, simulate=True).state
    assert state.aculab is not None and state.aql is not None
    assert state.aculab.api_key.reveal() == "simulated-ACULAB_API_KEY"
    assert state.aql.password.reveal() == "simulated-AQL_PASSWORD"

    wakeup = state.outbound_services["wakeup"].config
    assert wakeup["service_password"] == Secret("simulated-WAKEUP_PASSWORD")
    # Not secret: the environment is read as usual.
    assert wakeup["description"] == "Wake-up for Front desk"

    sales = state.inbound_services["sales-sip"].config
    assert sales["description"] == "Front desk"
    rest = sales["rest"]
    assert rest["authentication"]["password"] == Secret("simulated-AUTH_PASSWORD")
    first = rest["first_page"]["address"]
    # Only the password part of the URL is simulated; its host still reads the environment.
    assert first.reveal() == "https://bob:simulated-HOOK_PASSWORD@app.example.com/first"
    # A whole URL from one variable keeps its shape: its password becomes simulated-NAME.
    error = rest["error_page"]["address"]
    assert error.reveal() == "https://cb:simulated-CALLBACK_URL@callbacks.example.com/in"

    pool = state.pools["london"]
    assert pool.location.region == "London"
    assert pool.inbound is not None
    assert pool.inbound.config["description"] == "pool Front desk"
    assert pool.inbound.config["rest"]["authentication"]["password"] == Secret(
        "simulated-AUTH_PASSWORD"
    )

    assert state.relay_routes["44113000111"].detail == (
        "https://sms:simulated-HOOK_PASSWORD@hooks.example.com/sms?id=%i",
        "https://cb:simulated-CALLBACK_URL@callbacks.example.com/in",
        "https://app.example.com/sms?id=%i",
    )

    everything = repr(state) + "".join(
        s.reveal()
        for s in (
            state.aculab.api_key,
            state.aql.password,
            wakeup["service_password"],
            rest["authentication"]["password"],
            first,
            error,
        )
    )
    for name, value in ENVIRON.items():
        if "PASSWORD" in name or "KEY" in name:
            assert value not in everything
    assert "REALCB-8e3b6d" not in everything


def test_without_simulate_secrets_read_the_environment(tmp_path: Path) -> None:
    state = load(write(tmp_path, STATE), environ=ENVIRON).state
    assert state.aculab is not None and state.aql is not None
    assert state.aculab.api_key.reveal() == "REALKEY-4f8a1c"
    assert state.aql.password.reveal() == "REALAQL-9d2e7b"
    config = state.outbound_services["wakeup"].config
    assert config["service_password"] == Secret("REALWAKE-3c6f0a")
    rest = state.inbound_services["sales-sip"].config["rest"]
    assert rest["first_page"]["address"].reveal() == (
        "https://bob:REALHOOK-2a9c4f@app.example.com/first"
    )
    assert state.relay_routes["44113000111"].detail[1] == ENVIRON["CALLBACK_URL"]


def test_simulate_accounts_of_an_export_file_ignore_the_environment(tmp_path: Path) -> None:
    accounts = load_accounts(write(tmp_path, STATE), environ=ENVIRON, simulate=True)
    assert accounts.aculab is not None and accounts.aql is not None
    assert accounts.aculab.api_key.reveal() == "simulated-ACULAB_API_KEY"
    assert accounts.aql.password.reveal() == "simulated-AQL_PASSWORD"
    assert accounts.aculab.username == "ops@example.com"


APPLIED = """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
aql: {username: example, password: "${AQL_PASSWORD}"}
inbound_services:
  sales-sip:
    application_type: REST
    description: ${DESK_NAME}
    rest:
      first_page: {address: "https://bob:${HOOK_PASSWORD}@${APP_HOST}/first"}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    description: Wake-up calls
    application_type: REST
    rest:
      first_page: {address: "https://app.example.com/wakeup"}
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://sms:${HOOK_PASSWORD}@hooks.example.com/sms?id=%i"]
safety: {max_update_percent: 100}
"""


def test_apply_under_simulate_leaves_no_trace_of_the_real_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, APPLIED)
    environ = {k: v for k, v in os.environ.items() if k not in ENVIRON and k != "NO_COLOR"}
    environ.update(ENVIRON, NO_COLOR="1")

    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "-vv", "apply", str(path), "--simulate", "--yes"],
        cwd=tmp_path,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    account = (tmp_path / ".reconciler" / "simulator.json").read_text(encoding="utf-8")
    journal = (tmp_path / ".reconciler" / "journal.jsonl").read_text(encoding="utf-8")
    # The account holds what was applied: the simulated secrets, the environment's plain text.
    assert "simulated-WAKEUP_PASSWORD" in account
    assert "https://bob:simulated-HOOK_PASSWORD@app.example.com/first" in account
    assert "https://sms:simulated-HOOK_PASSWORD@hooks.example.com/sms?id=%i" in account
    assert "Front desk" in account
    secrets = [v for k, v in ENVIRON.items() if "PASSWORD" in k or "KEY" in k]
    for where, text in [
        ("simulator.json", account),
        ("the journal", journal),
        ("stdout", result.stdout),
        ("stderr", result.stderr),
    ]:
        for secret in secrets:
            assert secret not in text, f"{secret} in {where}"
