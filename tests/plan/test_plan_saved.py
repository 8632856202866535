"""Saved plans: round trip, mode 0600, atomic writes, refusal of anything but a saved plan."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import PlanFileError
from reconciler.plan.changes import Plan, RedactedSecret, UpdateService
from reconciler.plan.planner import make_plan
from reconciler.plan.render import render_json, render_markdown, render_text
from reconciler.plan.safety import Verdict
from reconciler.plan.saved import _checksum, load_plan, parse_plan, plan_document, save_plan

from .factory import rich


@pytest.fixture
def plan() -> Plan:
    return make_plan(*rich())


def test_round_trip(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    assert loaded.comparable() == plan.comparable()
    assert loaded.fingerprints == plan.fingerprints
    assert loaded.live_fingerprint == plan.live_fingerprint
    assert loaded.changes[0].address == plan.changes[0].address
    # A loaded plan renders exactly like the plan it was saved from.
    for color in (False, True):
        shown = Verdict()
        assert render_text(loaded, shown, color=color) == render_text(plan, shown, color=color)
    assert render_json(loaded, Verdict()) == render_json(plan, Verdict())
    assert render_markdown(loaded, Verdict()) == render_markdown(plan, Verdict())


def test_the_file_holds_the_fingerprints_the_changes_depend_on(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    data = json.loads(path.read_text())
    deps = {k for c in data["changes"] for k in c["depends_on"]}
    assert set(data["fingerprints"]) == deps
    assert data["fingerprints"]["inbound:sales-sip"] == "absent"  # created: must stay absent
    assert data["live_fingerprint"] == plan.live_fingerprint != ""
    assert data["format_version"] == 2
    assert data["checksum"].startswith("sha256:")


def test_secrets_come_back_redacted_and_cannot_be_revealed(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    [wakeup] = [c for c in loaded.changes if c.address == "outbound:wakeup"]
    assert isinstance(wakeup, UpdateService)
    password = wakeup.body["service_password"]
    assert isinstance(password, RedactedSecret)
    with pytest.raises(PlanFileError, match="holds no secret values"):
        password.reveal()
    address = wakeup.body["rest"]["first_page"]["address"]
    assert isinstance(address, RedactedSecret)
    assert address.display == "https://u:(sensitive)@app.example.com/w"


def test_written_with_mode_0600_even_over_a_readable_file(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        save_plan(plan, path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_plan(path).comparable() == plan.comparable()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temporary left


def test_saving_into_a_missing_directory_is_a_clear_error(plan: Plan, tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match=r"cannot save the plan to .*plan\.json"):
        save_plan(plan, tmp_path / "missing" / "plan.json")
    with pytest.raises(PlanFileError, match="is a directory"):
        save_plan(plan, tmp_path)


def test_an_unchanged_plan_file_keeps_the_same_content_but_the_time(
    plan: Plan, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    save_plan(plan, a)
    save_plan(make_plan(*rich()), b)
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    for d in (da, db):
        for key in ("saved_at", "checksum"):
            d.pop(key)
    assert da == db


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"plan = 1", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"format_version": 1}', "format version 1"),
        (b"{}", "format version None"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
    ],
)
def test_garbage_is_refused(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(PlanFileError, match=message) as caught:
        load_plan(path)
    assert caught.value.hint is not None and "reconciler plan PATH --out FILE" in caught.value.hint


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match="cannot read the saved plan"):
        load_plan(tmp_path / "nope.json")


def test_a_tampered_file_is_refused(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    data = json.loads(path.read_text())
    data["changes"][0]["quantity"] = 200
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match="altered after it was saved"):
        load_plan(path)


def test_a_document_the_schema_refuses_is_refused_even_with_a_good_checksum(
    plan: Plan, tmp_path: Path
) -> None:
    data = plan_document(plan)
    data["changes"][0]["quantity"] = "many"
    data["checksum"] = _checksum(data)
    with pytest.raises(PlanFileError, match=r"at changes/0/quantity: type check failed"):
        parse_plan(json.dumps(data).encode())


def _document() -> dict[str, Any]:
    return plan_document(make_plan(*rich()))


DOCUMENT = _document()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(DOCUMENT) if p and p[0] != "checksum"]


def _load_or_refuse(raw: bytes) -> None:
    try:
        parse_plan(raw)
    except PlanFileError as err:
        assert err.message  # a clear message, never another exception


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_plan_file_error(raw: bytes) -> None:
    _load_or_refuse(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_never_raises_anything_but_plan_file_error(value: Any) -> None:
    _load_or_refuse(json.dumps(value).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values, st.booleans())
def test_mutated_plans_are_loaded_or_refused_cleanly(
    path: tuple[Any, ...], value: Any, fix_checksum: bool
) -> None:
    """Replace one value anywhere in a real saved plan (re-signing it or not): the result is a
    Plan or a PlanFileError, never a traceback."""
    data = json.loads(json.dumps(DOCUMENT))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    if fix_checksum:
        data["checksum"] = _checksum(data)
    _load_or_refuse(json.dumps(data).encode())
