"""Every fault switch fires, and replays from its seed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.clients.http import HttpClient, Reply, RetryPolicy
from reconciler.errors import ConfigError
from reconciler.secret import basic_token
from reconciler.simulator import Faults, RunningSimulator, SimState, Simulator
from reconciler.simulator.faults import RateLimiter

from .conftest import AQL_CREDENTIALS, AUTH

LONDON = {"country": "United Kingdom", "region": "London"}


def statuses(client: httpx.Client, n: int, path: str = "/tel_list_numbers") -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


def replay(sim: Simulator, faults: Callable[[], Faults], run: Callable[[], Any]) -> Any:
    """Run against a fresh account and fresh dice of ``faults()``."""
    sim.state = SimState.seeded("demo")
    sim.faults = faults()
    sim.calls.clear()
    return run()


def test_latency_fixed_and_jitter(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(latency_ms=50)
    started = time.monotonic()
    assert client.get("/tel_list_numbers").status_code == 200
    assert time.monotonic() - started >= 0.05  # at least the injected latency
    assert sim.calls[-1].delay_ms == 50

    def delays() -> list[float]:
        statuses(client, 6)
        return [c.delay_ms for c in sim.calls]

    first = replay(sim, lambda: Faults(latency_ms=5, latency_jitter_ms=20, seed=3), delays)
    assert all(5 <= d <= 25 for d in first) and len(set(first)) > 1
    assert replay(sim, lambda: Faults(latency_ms=5, latency_jitter_ms=20, seed=3), delays) == first
    assert replay(sim, lambda: Faults(latency_ms=5, latency_jitter_ms=20, seed=4), delays) != first


def test_error_rate_per_endpoint(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(error_rate={"/tel_purchase": 1.0})
    r = client.get("/tel_purchase", params=LONDON)
    assert r.status_code in (500, 503)
    assert r.json()["error"]["code"] == f"HTTP {r.status_code}"
    assert sim.state.purchase_log == []  # the failure came before the work
    assert client.get("/tel_list_numbers").status_code == 200  # other endpoints unaffected
    assert sim.calls[0].fault == "error"

    sim.faults = Faults(error_rate={"PUT /service/v1/*": 1.0}, error_statuses=(503,))
    assert client.put("/service/v1/inbound/x").status_code == 503
    assert client.get("/service/v1/inbound/sales-sip").status_code == 200

    def pattern() -> list[int]:
        return statuses(client, 24)

    first = replay(sim, lambda: Faults(error_rate=0.5, seed=7), pattern)
    assert {200, 500, 503} == set(first)
    assert replay(sim, lambda: Faults(error_rate=0.5, seed=7), pattern) == first
    assert replay(sim, lambda: Faults(error_rate=0.5, seed=8), pattern) != first


def test_rate_limit_429_with_retry_after(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(rate_limit={"/service/*": 1.0}, retry_after_s=3)
    r = client.get("/service/v1/outbound")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    assert r.json()["error"]["code"] == "HTTP 429"
    assert client.get("/tel_list_numbers").status_code == 200

    def pattern() -> list[int]:
        return statuses(client, 20, "/service/v1/outbound")

    first = replay(sim, lambda: Faults(rate_limit=0.3, seed=1), pattern)
    assert 429 in first and 200 in first
    assert replay(sim, lambda: Faults(rate_limit=0.3, seed=1), pattern) == first


def test_faults_on_the_aql_gateway(running: RunningSimulator, sim: Simulator) -> None:
    sim.faults = Faults(rate_limit={"/sms/*": 1.0})
    data = {
        "username": "example",
        "password": "sim-aql-password",
        "command": "query",
        "number": "44113000111",
    }
    r = httpx.post(running.aql_url, data=data)
    assert r.status_code == 429 and r.text == "429: Too many requests\n"
    sim.faults = Faults(error_rate={"/sms/*": 1.0}, error_statuses=(500,))
    r = httpx.post(running.aql_url, data=data)
    assert r.status_code == 500 and r.text.startswith("500: ")


def test_lost_purchase_reply_drop(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(lost_purchase_reply="drop", lost_purchase_limit=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/tel_purchase", params=LONDON)
    # the purchase committed: it is in the log and in the account
    (entry,) = sim.state.purchase_log
    (number,) = entry["numbers"]
    assert number in client.get("/tel_list_numbers").json()
    assert sim.calls[0].fault == "lost_reply_drop"
    # the limit was 1: the next purchase replies
    assert len(client.get("/tel_purchase", params=LONDON).json()) == 1
    # development purchases and failed purchases never lose their reply
    sim.faults = Faults(lost_purchase_reply="drop")
    assert client.get("/tel_purchase_development", params=LONDON).status_code == 200
    assert (
        client.get("/tel_purchase", params={"country": "Narnia", "region": "x"}).status_code == 400
    )


def test_lost_purchase_reply_stall(running: RunningSimulator, sim: Simulator) -> None:
    sim.faults = Faults(lost_purchase_reply="stall", stall_s=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(running.base_url + "/tel_purchase", params=LONDON, auth=AUTH, timeout=0.3)
    assert len(sim.state.purchase_log) == 1
    assert sim.calls[-1].fault == "lost_reply_stall"
    # a stall shorter than the client's patience: the reply arrives late
    sim.faults = Faults(lost_purchase_reply="stall", stall_s=0.2)
    r = httpx.get(running.base_url + "/tel_purchase", params=LONDON, auth=AUTH, timeout=10)
    assert r.status_code == 200 and r.json() == sim.state.purchase_log[-1]["numbers"]


def test_lost_purchase_rate_replays(client: httpx.Client, sim: Simulator) -> None:
    def pattern() -> list[bool]:
        lost = []
        for _ in range(10):
            try:
                client.get("/tel_purchase", params=LONDON)
                lost.append(False)
            except httpx.RemoteProtocolError:
                lost.append(True)
        assert len(sim.state.purchase_log) == 10  # every purchase committed
        return lost

    make = lambda: Faults(lost_purchase_reply="drop", lost_purchase_rate=0.5, seed=11)  # noqa: E731
    first = replay(sim, make, pattern)
    assert any(first) and not all(first)
    assert replay(sim, make, pattern) == first


def test_list_lag(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(list_lag_s=0.5)
    (number,) = client.get("/tel_purchase", params=LONDON).json()
    assert number not in client.get("/tel_list_numbers").json()
    assert number in sim.state.numbers  # owned all the same
    deadline = time.monotonic() + 10
    while number not in client.get("/tel_list_numbers").json():
        assert time.monotonic() < deadline, "the number never appeared"
        time.sleep(0.1)
    assert sim.state.visible_after[number] <= time.time()


def test_garbage_bodies(client: httpx.Client, sim: Simulator) -> None:
    sim.faults = Faults(garbage_rate={"/tel_list_numbers": 1.0}, seed=2)
    kinds = []
    for _ in range(8):
        r = client.get("/tel_list_numbers")
        assert r.status_code == 200
        with pytest.raises(ValueError):
            json.loads(r.content)
        kinds.append("html" if r.text.lstrip().startswith("<!DOCTYPE html>") else "truncated")
    assert set(kinds) == {"html", "truncated"}
    # a write behind a garbage reply did happen
    sim.faults = Faults(garbage_rate={"PUT *": 1.0})
    r = client.put("/service/v1/inbound/garbled")
    assert r.status_code == 200 and "garbled" in sim.state.services["inbound"]

    def pattern() -> list[str]:
        return [client.get("/tel_list_numbers").text[:15] for _ in range(12)]

    first = replay(sim, lambda: Faults(garbage_rate=0.5, seed=5), pattern)
    assert replay(sim, lambda: Faults(garbage_rate=0.5, seed=5), pattern) == first


def test_replay_holds_under_concurrency(running: RunningSimulator, sim: Simulator) -> None:
    """Decisions depend on the request and its occurrence, not on arrival order."""

    async def burst() -> dict[str, int]:
        async with httpx.AsyncClient(base_url=running.base_url, auth=AUTH) as c:
            paths = [f"/service/v1/inbound/{n}" for n in ("sales-sip", "441908538007", "x")] * 10
            responses = await asyncio.gather(*(c.get(p) for p in paths))
        return {
            p: sum(r.status_code >= 500 for r, q in zip(responses, paths, strict=True) if q == p)
            for p in set(paths)
        }

    first = replay(sim, lambda: Faults(error_rate=0.4, seed=9), lambda: asyncio.run(burst()))
    assert sum(first.values()) > 0
    assert (
        replay(sim, lambda: Faults(error_rate=0.4, seed=9), lambda: asyncio.run(burst())) == first
    )


def test_faults_from_specs() -> None:
    faults = Faults.from_specs(
        [
            "error_rate=/tel_*:0.2",
            "error_rate=PUT /service/v1/*:0.5",
            "rate_limit=0.1",
            "garbage_rate=0.05",
            "lost_purchase_reply=stall",
            "stall_s=2",
            "list_lag_s=5",
            "seed=42",
            "error_statuses=503",
            "retry-after-s=7",
        ],
        Faults(latency_ms=10),
    )
    assert faults.error_rate == {"/tel_*": 0.2, "PUT /service/v1/*": 0.5}
    assert faults.rate_limit == 0.1 and faults.garbage_rate == 0.05
    assert faults.lost_purchase_reply == "stall" and faults.stall_s == 2
    assert faults.list_lag_s == 5 and faults.seed == 42 and faults.latency_ms == 10
    assert faults.error_statuses == (503,) and faults.retry_after_s == 7
    assert "lost_purchase_reply stall" in faults.describe()
    assert Faults().describe() == "none"
    for bad in (
        "nonsense=1",
        "error_rate=2",
        "lost_purchase_reply=sometimes",
        "list_lag_s=-1",
        "error_statuses=404",
        "latency_ms",
    ):
        with pytest.raises(ConfigError) as info:
            Faults.from_specs([bad])
        assert bad in info.value.message


def test_faults_change_at_runtime(client: httpx.Client, sim: Simulator) -> None:
    assert client.get("/tel_list_numbers").status_code == 200
    sim.faults.error_rate = {"*": 1.0}  # mutate in place: takes effect on the next request
    assert client.get("/tel_list_numbers").status_code >= 500
    sim.faults.error_rate = {}
    assert client.get("/tel_list_numbers").status_code == 200


def test_200_concurrent_requests_with_latency(running: RunningSimulator, sim: Simulator) -> None:
    sim.faults = Faults(latency_ms=300, latency_jitter_ms=100)

    async def go() -> list[int]:
        # the project's client stack (its HTTP layer over its own transport): httpx's own pool
        # is slow with hundreds of waiting tasks (docs/performance.md), which is not what this
        # test is about
        http = HttpClient(
            service="Aculab Cloud",
            base_url=running.base_url,
            auth_hint="-",
            headers={"Authorization": f"Basic {basic_token(*AUTH)}"},
            concurrency=250,
            retry=RetryPolicy(attempts=1),
        )

        def status(reply: Reply) -> int:
            return reply.status

        async with http:
            calls = [http.request("GET", "/tel_list_numbers", parse=status) for _ in range(150)]
            calls += [
                http.request("GET", f"/service/v1/inbound/{n}", parse=status)
                for n in ["sales-sip"] * 50
            ]
            calls += [
                http.request("POST", "/tel_purchase", form=LONDON, parse=status) for _ in range(10)
            ]
            return list(await asyncio.gather(*calls))

    codes = asyncio.run(go())
    assert codes == [200] * 210
    assert len(sim.calls) == 210
    assert len({n for e in sim.state.purchase_log for n in e["numbers"]}) == 10


def test_rate_limit_is_a_token_bucket_per_vendor(
    client: httpx.Client, aql: httpx.Client, sim: Simulator
) -> None:
    # 0.5 a second: no token comes back while the test runs, so the counts are exact.
    sim.faults = Faults(rate_limit_per_s=0.5, rate_limit_burst=3)
    assert statuses(client, 5) == [200, 200, 200, 429, 429]
    limited = client.get("/service/v1/outbound")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # whole seconds until the next token
    assert limited.json()["error"]["code"] == "HTTP 429"
    assert sim.calls[-1].fault == "rate_limit_per_s"
    # aql is another vendor with its own bucket.
    query = {**AQL_CREDENTIALS, "command": "query", "number": "44113000111"}
    answers = [aql.post("", data=query) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].text == "429: Too many requests\n"
    # A new limit starts with full buckets; 0 switches it off.
    sim.faults = Faults(rate_limit_per_s=0.5, rate_limit_burst=1)
    assert statuses(client, 2) == [200, 429]
    sim.faults = Faults()
    assert statuses(client, 3) == [200, 200, 200]


def test_rate_limit_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    faults = Faults(rate_limit_per_s=4)  # burst: one second's worth
    assert [limiter.admit(faults, "aculab") for _ in range(5)] == [None] * 4 + [1]
    now[0] += 0.5  # two tokens back
    assert [limiter.admit(faults, "aculab") for _ in range(3)] == [None, None, 1]
    assert limiter.admit(faults, "aql") is None


def test_rate_limit_specs() -> None:
    faults = Faults.from_specs(["rate_limit_per_s=250", "rate-limit-burst=50"])
    assert faults.rate_limit_per_s == 250 and faults.burst() == 50
    assert "rate_limit_per_s 250 per vendor (burst 50)" in faults.describe()
    assert Faults(rate_limit_per_s=100).burst() == 100
    for bad in ("rate_limit_per_s=nan", "rate_limit_per_s=inf", "rate_limit_burst=-1"):
        with pytest.raises(ConfigError) as info:
            Faults.from_specs([bad])
        assert bad in info.value.message
