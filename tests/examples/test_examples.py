"""The realistic example setups: each starts with the schema line, validates, and is
plan-clean (and drift-free) after one apply against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from drift.support import assert_absent, reconciler

from reconciler.desired import load

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
SCHEMA = ROOT / "schemas" / "desired-state.schema.json"
SETUPS = ["support-line", "sales-sip.yaml", "sms-relays.yaml"]


def _files(setup: str) -> list[Path]:
    path = EXAMPLES / setup
    return sorted(path.glob("*.yaml")) if path.is_dir() else [path]


@pytest.mark.parametrize("setup", SETUPS)
def test_each_file_starts_with_the_schema_line(setup: str) -> None:
    for path in _files(setup):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        ref = first.split("$schema=", 1)[1]
        assert (path.parent / ref).resolve() == SCHEMA.resolve(), path


@pytest.mark.parametrize("setup", SETUPS)
def test_validates_without_warnings(setup: str) -> None:
    result = load(EXAMPLES / setup, environ={}, simulate=True)
    assert result.warnings == []


@pytest.mark.parametrize("setup", SETUPS)
def test_plan_clean_after_apply(
    setup: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # --simulate keeps its account in ./.reconciler/
    path = str(EXAMPLES / setup)
    first = reconciler("plan", path, "--simulate", "--detailed-exitcode", env={})
    assert first.code == 2, first.output  # the demo account differs from every setup
    applied = reconciler("apply", path, "--simulate", "--yes", env={})
    assert applied.code == 0, applied.output
    again = reconciler("plan", path, "--simulate", "--detailed-exitcode", env={})
    assert again.code == 0, again.output
    assert "No changes" in again.stdout
    drift = reconciler("drift", path, "--simulate", env={})
    assert drift.code == 0, drift.output


def test_a_relay_url_password_is_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sms-relays.yaml puts a password in a callback URL: plan, apply, drift and the
    journal must show it masked."""
    monkeypatch.chdir(tmp_path)
    secret = "Partner-Relay-Secret-9931"
    env = {"SMS_PARTNER_PASSWORD": secret}
    path = str(EXAMPLES / "sms-relays.yaml")
    runs = [
        reconciler("plan", path, "--simulate", env=env),
        reconciler("apply", path, "--simulate", "--yes", env=env),
        reconciler("drift", path, "--simulate", env=env),
    ]
    assert [r.code for r in runs] == [0, 0, 0]
    journal = (tmp_path / ".reconciler" / "journal.jsonl").read_text(encoding="utf-8")
    assert_absent([secret], *(r.output for r in runs), journal)
