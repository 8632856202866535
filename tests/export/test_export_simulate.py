"""Export under --simulate: a secret the simulated account holds as ``simulated-NAME`` (what a
desired state's ``${NAME}`` reads as there) is written back as ``${NAME}``, so the export plans
clean under --simulate with no variable set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from export.snapshots import whole_account
from reconciler.export.writer import build_export
from reconciler.live.model import LiveState
from reconciler.secret import conceal

ACCOUNT = {
    "version": 1,
    "aculab": {"cloud_id": "1-2-0", "username": "ops@example.com", "api_key": "${MY_KEY}"},
}


def _snapshot(outbound: dict[str, Any]) -> LiveState:
    return whole_account(
        numbers={},
        services={"inbound": {}, "outbound": conceal(outbound)},
        schemas={"inbound": {}, "outbound": {}},
        relay_routes={},
    )


OUTBOUND = {
    "wakeup": {
        "service_password": "simulated-WAKEUP_PASSWORD",
        "rest": {
            "first_page": {"address": "https://bob:simulated-HOOK_PASSWORD@app.example.com/w"},
            "authentication": {"username": "u", "password": "simulated-WAKEUP_PASSWORD"},
        },
    },
    "other": {"service_password": "not-simulated-Qx81"},
}


def test_simulated_secrets_are_named_after_their_original_variable() -> None:
    result = build_export(_snapshot(OUTBOUND), ACCOUNT, simulate=True)
    data = yaml.safe_load(result.files["-"])
    wakeup = data["outbound_services"]["wakeup"]
    assert wakeup["service_password"] == "${WAKEUP_PASSWORD}"
    assert wakeup["rest"]["authentication"]["password"] == "${WAKEUP_PASSWORD}"
    assert wakeup["rest"]["first_page"]["address"] == (
        "https://bob:${HOOK_PASSWORD}@app.example.com/w"
    )
    # A secret that is not simulated-NAME still gets a placeholder named by its place.
    assert data["outbound_services"]["other"]["service_password"] == (
        "${OUTBOUND_OTHER_SERVICE_PASSWORD}"
    )
    assert "not-simulated-Qx81" not in result.files["-"]


def test_without_simulate_the_placeholders_are_named_by_their_place() -> None:
    data = yaml.safe_load(build_export(_snapshot(OUTBOUND), ACCOUNT).files["-"])
    wakeup = data["outbound_services"]["wakeup"]
    assert wakeup["service_password"] == "${OUTBOUND_WAKEUP_SERVICE_PASSWORD}"
    assert wakeup["rest"]["first_page"]["address"] == (
        "https://bob:${OUTBOUND_WAKEUP_REST_FIRST_PAGE_ADDRESS_PASSWORD}@app.example.com/w"
    )


STATE = """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
aql: {username: example, password: "${AQL_PASSWORD}"}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    description: Wake-up calls
    application_type: REST
    rest:
      first_page: {address: "https://bob:${HOOK_PASSWORD}@app.example.com/wakeup"}
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://sms:${HOOK_PASSWORD}@hooks.example.com/sms?id=%i"]
safety: {max_update_percent: 100}
"""
REAL = {"WAKEUP_PASSWORD": "REALWAKE-5e2c8a", "HOOK_PASSWORD": "REALHOOK-1b7d3f"}


def _run(cwd: Path, *args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_export_under_simulate_plans_clean_with_no_variable_set(tmp_path: Path) -> None:
    bare = {
        k: v
        for k, v in os.environ.items()
        if k not in (*REAL, "ACULAB_API_KEY", "AQL_PASSWORD", "NO_COLOR")
    }
    bare["NO_COLOR"] = "1"
    state = tmp_path / "state.yaml"
    state.write_text(STATE, encoding="utf-8")
    # Applied with the real secrets in the environment: the simulator got simulated-NAME.
    applied = _run(tmp_path, "apply", str(state), "--simulate", "--yes", environ={**bare, **REAL})
    assert applied.returncode == 0, applied.stdout + applied.stderr

    exported = _run(
        tmp_path,
        "export", str(state), "--simulate", "--relay-number", "44113000111",
        "--out", "exported/",
        environ=bare,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "exported").iterdir()))
    assert "service_password: ${WAKEUP_PASSWORD}" in text
    assert "https://bob:${HOOK_PASSWORD}@app.example.com/wakeup" in text
    assert "https://sms:${HOOK_PASSWORD}@hooks.example.com/sms?id=%i" in text
    for secret in REAL.values():
        assert secret not in text

    planned = _run(tmp_path, "plan", "exported/", "--simulate", "--detailed-exitcode", environ=bare)
    assert planned.returncode == 0, planned.stdout + planned.stderr
