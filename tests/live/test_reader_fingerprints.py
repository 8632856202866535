"""The reader computes the snapshot's resource fingerprints while it reads; they must be
exactly what :meth:`LiveState.resource_fingerprints` computes from the snapshot's resources
(saved plans and ``apply --plan`` compare them)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.desired.model import (
    AculabAccount,
    AqlAccount,
    DesiredState,
    Location,
    NumberPool,
    PoolInbound,
    RelayRoute,
    ServiceSpec,
)
from reconciler.live.model import LiveState
from reconciler.live.reader import read_live
from reconciler.plan.planner import make_plan
from reconciler.plan.saved import save_plan
from reconciler.secret import Secret
from reconciler.simulator import SimCredentials, Simulator

CREDS = SimCredentials()


def _desired() -> DesiredState:
    """Over the demo account: a pool with inbound services, declared services (one missing,
    one a secret-bearing outbound), relay routes (one with a password in its URL)."""
    return DesiredState(
        pools={
            "london": NumberPool(
                name="london",
                location=Location(country="United Kingdom", region="London"),
                count=3,
                inbound=PoolInbound(config={"description": "desk"}),
            )
        },
        inbound_services={
            "sales-sip": ServiceSpec(kind="inbound", name="sales-sip", config={}),
            "missing": ServiceSpec(kind="inbound", name="missing", config={}),
        },
        outbound_services={"wakeup": ServiceSpec(kind="outbound", name="wakeup", config={})},
        relay_routes={
            "44113000111": RelayRoute("44113000111", "httpget", ("https://u:pw@x.example/a",)),
            "44113000112": RelayRoute("44113000112", "email", ("a@example.com",)),
        },
    )


async def _read(sim: Simulator, desired: DesiredState, *, fingerprint: bool = True) -> LiveState:
    transport = httpx.ASGITransport(app=sim.app)
    aculab = AculabAccount(CREDS.cloud_id, CREDS.username, Secret(CREDS.api_key), "http://sim.test")
    aql = AqlAccount(
        CREDS.aql_username, Secret(CREDS.aql_password), "http://sim.test/sms/sms-relay.api.php"
    )
    async with (
        AculabClient(aculab, transport=transport) as c,
        AqlClient(aql, transport=transport) as a,
    ):
        return await read_live(desired, c, a, concurrency=4, fingerprint=fingerprint)


def test_fingerprints_computed_while_reading_equal_the_snapshot() -> None:
    sim = Simulator(seed="demo")
    sim.state.relay["44113000111"] = ("httpget", "https://u:secret-pw@x.example/a")
    live = asyncio.run(_read(sim, _desired()))
    assert live.known_fingerprints is not None
    recomputed = dataclasses.replace(live, known_fingerprints=None).resource_fingerprints()
    assert live.resource_fingerprints() == recomputed
    assert {k.split(":", 1)[0] for k in recomputed} == {"number", "inbound", "outbound", "relay"}
    # Listed-but-unread services are fingerprinted too (their existence is what plans use).
    assert "inbound:441908538007" in recomputed and "inbound:missing" not in recomputed


def test_a_read_without_fingerprints_computes_them_only_when_asked() -> None:
    """Drift and export read without fingerprinting (nothing saves their snapshot); asked,
    the snapshot still gives the same fingerprints, and a plan of it is the same plan."""
    sim = Simulator(seed="demo")
    eager = asyncio.run(_read(sim, _desired()))
    lazy = asyncio.run(_read(sim, _desired(), fingerprint=False))
    assert lazy.known_fingerprints is None
    assert lazy.resource_fingerprints() == eager.resource_fingerprints()
    assert lazy == eager  # the resources themselves (the fingerprints don't compare)


def test_a_plan_without_fingerprints_has_the_same_changes_and_cannot_be_saved(
    tmp_path: Path,
) -> None:
    sim = Simulator(seed="demo")
    live = asyncio.run(_read(sim, _desired(), fingerprint=False))
    full, bare = make_plan(_desired(), live), make_plan(_desired(), live, fingerprint=False)
    assert full.changes and full.changes == bare.changes
    assert full.fingerprints and full.live_fingerprint
    assert not bare.fingerprints and not bare.live_fingerprint
    with pytest.raises(ValueError, match="without live fingerprints"):
        save_plan(bare, tmp_path / "plan.json")
    assert not (tmp_path / "plan.json").exists()
    save_plan(full, tmp_path / "plan.json")
