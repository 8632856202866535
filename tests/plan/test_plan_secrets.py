"""No secret value, nor any digest of one, in any output or saved plan."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from reconciler.errors import PlanError
from reconciler.live.model import LiveService
from reconciler.plan.planner import make_plan
from reconciler.plan.render import render_json, render_markdown, render_text
from reconciler.plan.safety import Verdict
from reconciler.plan.saved import save_plan
from reconciler.secret import Secret

from .factory import SECRETS, desired, live, pool, rich, service


def _digests(value: str) -> list[str]:
    return [
        hashlib.sha256(value.encode()).hexdigest()[:16],
        hashlib.sha256(value.encode()).hexdigest(),
        hashlib.md5(value.encode()).hexdigest(),
    ]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        for digest in _digests(secret):
            assert digest not in text


def _revealed(value: object) -> set[str]:
    """Every secret value reachable from ``value`` (dataclasses, mappings, sequences)."""
    if isinstance(value, Secret):
        return {value.reveal()}
    if isinstance(value, str):
        return {value}
    if dataclasses.is_dataclass(value):
        return set().union(*(_revealed(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, dict):
        return set().union(*(_revealed(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_revealed(v) for v in value))
    return set()


def test_every_secret_is_really_in_the_plan() -> None:
    """The tests below are worth something: the plan does hold each distinctive secret
    (the relay URL passwords as plain strings inside the routes' callback URLs)."""
    found = "\n".join(_revealed(make_plan(*rich())))
    for secret in SECRETS:
        assert secret in found


@pytest.mark.parametrize("allow_release", [False, True])
def test_no_secret_in_any_output_format(allow_release: bool) -> None:
    plan = make_plan(*rich())
    verdict = Verdict(allow_release=allow_release)
    assert_no_secret(render_text(plan, verdict, color=False))
    assert_no_secret(render_text(plan, verdict, color=True))
    assert_no_secret(render_json(plan, verdict))
    assert_no_secret(render_markdown(plan, verdict))


def test_no_secret_in_a_saved_plan_nor_in_its_fingerprints(tmp_path: Path) -> None:
    d, lv = rich()
    path = tmp_path / "plan.json"
    save_plan(make_plan(d, lv), path)
    first = path.read_text()
    assert_no_secret(first)

    # Only the secret values change on the live side: if a fingerprint digested a secret,
    # it would change too.
    wakeup = dict(lv.outbound["wakeup"].config)
    wakeup["service_password"] = Secret("another-password-entirely")
    lv2 = dataclasses.replace(
        lv, outbound={**lv.outbound, "wakeup": LiveService("outbound", "wakeup", wakeup)}
    )
    plan2 = make_plan(d, lv2)
    assert plan2.fingerprints == make_plan(d, lv).fingerprints
    assert plan2.live_fingerprint == make_plan(d, lv).live_fingerprint


def test_plan_errors_and_warnings_name_no_secret() -> None:
    d = desired(
        pools=[pool("p", 1)],
        pinned=["449"],
        services=[service("441", {"service_password": "pw-NEW-3b9d7a"}, kind="inbound")],
    )
    plan_warnings = make_plan(desired(services=d.inbound_services.values()), live()).warnings
    assert_no_secret("\n".join(plan_warnings))
    with pytest.raises(PlanError) as caught:
        make_plan(d, live())
    assert_no_secret(str(caught.value))
