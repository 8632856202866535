"""Every client call against the simulator over real HTTP on 127.0.0.1 (the default
transport, reconciler/clients/http11.py), and the reliability promises under the simulator's
faults: retries win through 503s, ``Retry-After`` is honoured, a 401 fails at once, a purchase
is never retried."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.clients.http import RetryPolicy
from reconciler.desired.model import AculabAccount, AqlAccount
from reconciler.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RelayAuthenticationError,
    RelayError,
    ServerError,
)
from reconciler.secret import Secret
from reconciler.simulator import Faults, RunningSimulator, SimCredentials, Simulator

from .support import (
    API_KEY,
    AQL_PASSWORD,
    SERVICE_PASSWORD,
    Sleeps,
    assert_no_secret,
    fast_retry,
)

pytestmark = pytest.mark.e2e

T = TypeVar("T")
CREDS = SimCredentials(api_key=API_KEY, aql_password=AQL_PASSWORD)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed="demo", credentials=CREDS)


@pytest.fixture
def running(sim: Simulator) -> Iterator[RunningSimulator]:
    with sim.serve() as running:
        yield running


def aculab_of(running: RunningSimulator, api_key: str = API_KEY) -> AculabAccount:
    return AculabAccount(
        cloud_id=CREDS.cloud_id,
        username=CREDS.username,
        api_key=Secret(api_key),
        endpoint=running.base_url,
    )


def aql_of(running: RunningSimulator, password: str = AQL_PASSWORD) -> AqlAccount:
    return AqlAccount(
        username=CREDS.aql_username, password=Secret(password), endpoint=running.aql_url
    )


def with_aculab(
    running: RunningSimulator,
    fn: Callable[[AculabClient], Awaitable[T]],
    *,
    api_key: str = API_KEY,
    **kw: Any,
) -> T:
    kw.setdefault("retry", fast_retry())

    async def go() -> T:
        async with AculabClient(aculab_of(running, api_key), **kw) as client:
            return await fn(client)

    return asyncio.run(go())


def with_aql(
    running: RunningSimulator,
    fn: Callable[[AqlClient], Awaitable[T]],
    *,
    password: str = AQL_PASSWORD,
    **kw: Any,
) -> T:
    kw.setdefault("retry", fast_retry())

    async def go() -> T:
        async with AqlClient(aql_of(running, password), **kw) as client:
            return await fn(client)

    return asyncio.run(go())


def calls_to(sim: Simulator, path: str) -> int:
    return sum(1 for c in sim.calls if c.path == path)


# --------------------------------------------------------------------------- numbers


def test_list_numbers_whole_and_filtered(running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[Any, Any]:
        return await c.list_numbers(), await c.list_numbers(country="Canada", state="Alberta")

    everything, alberta = with_aculab(running, go)
    assert set(everything) == {
        "441908538007",
        "442079460123",
        "442079460456",
        "15873155555",
        "12045550142",
    }
    mk = everything["441908538007"]
    assert (mk.country, mk.region, mk.did_type, mk.price, mk.purchased) == (
        "United Kingdom",
        "Milton Keynes",
        "geographic",
        "3.00",
        "2011-09-14",
    )
    assert list(alberta) == ["15873155555"]
    assert alberta["15873155555"].state == "Alberta"


def test_purchase_with_a_non_ascii_region(sim: Simulator, running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[list[str], Any]:
        bought = await c.purchase({"country": "Germany", "region": "Mönchengladbach"})
        return bought, await c.list_numbers(country="Germany", region="Mönchengladbach")

    bought, listed = with_aculab(running, go)
    assert len(bought) == 1
    assert set(listed) == set(bought)
    assert listed[bought[0]].region == "Mönchengladbach"
    assert [entry["numbers"] for entry in sim.state.purchase_log] == [bought]


def test_purchase_quantity_and_development(sim: Simulator, running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[list[str], list[str]]:
        params = {"country": "Canada", "state": "Alberta", "region": "Calgary", "quantity": 2}
        return await c.purchase(params, development=True), await c.purchase(params)

    dev, real = with_aculab(running, go)
    assert dev == ["1234567", "89012345"]
    assert len(real) == 2 and all(n in sim.state.numbers for n in real)
    assert len(sim.state.purchase_log) == 1


def test_purchase_refused_by_the_server_is_a_clear_error(running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> list[str]:
        return await c.purchase({"region": "Calgary"})

    with pytest.raises(ApiStatusError) as info:
        with_aculab(running, go)
    assert info.value.status == 400
    assert info.value.code == "0001"
    assert str(info.value).startswith("POST /tel_purchase: Aculab Cloud answered 400")


def test_delete_numbers_ok_and_partial(sim: Simulator, running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[Any, Any]:
        first = await c.delete_numbers(["442079460456"])
        second = await c.delete_numbers(["12045550142", "449999999999"])
        return first, second

    first, second = with_aculab(running, go)
    assert first.status == "OK" and first.deleted == ("442079460456",)
    assert second.status == "PARTIAL"
    assert second.deleted == ("12045550142",)
    assert second.failed["449999999999"][0] == "0300"
    assert "442079460456" not in sim.state.numbers and "12045550142" not in sim.state.numbers


def test_catalogue_calls(running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[Any, ...]:
        return (
            await c.supported_countries(),
            await c.supported_countries("tollfree"),
            await c.supported_states("Canada"),
            await c.supported_regions("Canada", "Manitoba"),
            await c.supported_regions("Spain", did_type="tollfree"),
            await c.supported_regions("Germany"),
            await c.regulation_addresses(),
        )

    geo, tollfree, states, manitoba, spain_tf, germany, addresses = with_aculab(running, go)
    assert "United Kingdom" in geo and "Canada" in tollfree
    assert "Alberta" in states
    assert "Winnipeg" in manitoba
    assert "901" in spain_tf
    assert "Mönchengladbach" in germany
    assert addresses == {"My french place": ("France", "Avignon")}


# --------------------------------------------------------------------------- services


def test_service_lifecycle(sim: Simulator, running: RunningSimulator) -> None:
    body = {
        "service_password": Secret(SERVICE_PASSWORD),
        "application_type": "REST",
        "rest": {"first_page": {"address": "https://app.example.com/night"}},
    }

    async def go(c: AculabClient) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["schema"] = await c.service_schema("outbound")
        out["created"] = await c.write_service("outbound", "night shift", body)
        out["replaced"] = await c.write_service("outbound", "night shift", body)
        out["modified"] = await c.modify_service(
            "outbound", "night shift", {"description": "Nights"}
        )
        out["read"] = await c.read_service("outbound", "night shift")
        out["listed"] = await c.list_services("outbound")
        await c.delete_service("outbound", "night shift")
        try:
            await c.read_service("outbound", "night shift")
        except NotFoundError as err:
            out["gone"] = err
        return out

    out = with_aculab(running, go)
    assert out["schema"]["type"] == "object"
    created, config = out["created"]
    assert created is True and out["replaced"][0] is False
    assert config["rest"]["first_page"]["address"] == "https://app.example.com/night"
    assert isinstance(config["service_password"], Secret)
    assert out["modified"]["description"] == "Nights"
    assert out["read"]["service_password"] == Secret(SERVICE_PASSWORD)
    assert "night shift" in {s.name for s in out["listed"]}
    assert out["gone"].status == 404
    assert "night shift" not in sim.state.services["outbound"]
    assert_no_secret(repr(out))


def test_inbound_services_list_and_read(running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> tuple[Any, Any]:
        return await c.list_services("inbound"), await c.read_service("inbound", "441908538007")

    listed, config = with_aculab(running, go)
    assert {s.name for s in listed} == {"441908538007", "442079460123", "sales-sip"}
    assert config["description"] == "Main line"


def test_invalid_service_write_reports_the_servers_details(running: RunningSimulator) -> None:
    async def go(c: AculabClient) -> Any:
        return await c.write_service("outbound", "broken", {"application_type": "REST"})

    with pytest.raises(ApiStatusError) as info:
        with_aculab(running, go)
    err = info.value
    assert err.status == 400
    assert err.details and any("service_password" in d for d in err.details)
    assert "PUT /service/v1/outbound/broken" in str(err)


# --------------------------------------------------------------------------- aql


def test_aql_query_and_modify(sim: Simulator, running: RunningSimulator) -> None:
    async def go(a: AqlClient) -> tuple[Any, ...]:
        return (
            await a.query("44113000111"),
            await a.query("44113000113"),
            await a.modify("44113000114", "email", ["a@example.com", "b@example.com"]),
            await a.modify("44113000112", "null-route", []),
        )

    httpget, mvno, email, null = with_aql(running, go)
    assert httpget.action == "httpget" and httpget.detail[0].startswith("http://")
    assert mvno.is_mvno
    assert (email.action, email.detail) == ("email", ("a@example.com", "b@example.com"))
    assert (null.action, null.detail) == ("null-route", ())
    assert sim.state.relay["44113000114"][0] == "email"


@pytest.mark.parametrize(
    ("number", "action", "detail", "code"),
    [
        ("44113000999", None, [], "69001"),
        ("44113000111", "mvno", [], "69003"),
        ("44113000111", "httpget", ["not a url"], "69004"),
    ],
)
def test_aql_failure_codes(
    running: RunningSimulator, number: str, action: str | None, detail: list[str], code: str
) -> None:
    async def go(a: AqlClient) -> Any:
        if action is None:
            return await a.query(number)
        return await a.modify(number, action, detail)

    with pytest.raises(RelayError) as info:
        with_aql(running, go)
    assert info.value.code == code
    assert info.value.hint


def test_aql_wrong_password_fails_at_once(sim: Simulator, running: RunningSimulator) -> None:
    with pytest.raises(RelayAuthenticationError) as info:
        with_aql(running, lambda a: a.query("44113000111"), password="wrong-password-0000")
    assert calls_to(sim, "/sms/sms-relay.api.php") == 1
    assert "aql.password" in (info.value.hint or "")
    assert "wrong-password-0000" not in str(info.value)


# --------------------------------------------------------------------------- reliability


def test_wrong_api_key_fails_at_once(sim: Simulator, running: RunningSimulator) -> None:
    with pytest.raises(AuthenticationError) as info:
        with_aculab(running, lambda c: c.list_numbers(), api_key="not-the-key-1234")
    assert calls_to(sim, "/tel_list_numbers") == 1
    hint = info.value.hint or ""
    assert "cloud_id" in hint and "username" in hint and "api_key" in hint
    assert "not-the-key-1234" not in str(info.value) + hint


def test_retries_win_through_30_percent_503s(sim: Simulator, running: RunningSimulator) -> None:
    sim.faults = Faults(error_rate=0.3, error_statuses=(503,), seed=11)

    async def go(c: AculabClient) -> list[Any]:
        reads: list[Coroutine[Any, Any, Any]] = [
            c.read_service("inbound", "441908538007") for _ in range(30)
        ]
        reads += [c.supported_regions("Canada", "Manitoba") for _ in range(30)]
        return list(await asyncio.gather(*reads))

    results = with_aculab(running, go, retry=fast_retry(attempts=12))
    assert len(results) == 60
    failed = [c for c in sim.calls if c.status == 503]
    assert len(failed) >= 5  # the fault really fired, and every read still won
    assert len(sim.calls) == 60 + len(failed)


def test_retry_after_from_the_server_is_honoured(sim: Simulator, running: RunningSimulator) -> None:
    sim.faults = Faults(rate_limit={"/tel_get_supported_countries": 1.0}, retry_after_s=4)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=3, sleep=sleeps, random=lambda: 0.0)
    with pytest.raises(ApiError):
        with_aculab(running, lambda c: c.supported_countries(), retry=policy)
    assert sleeps.waits == [4.0, 4.0]
    assert calls_to(sim, "/tel_get_supported_countries") == 3


def test_purchase_is_never_retried_under_500(sim: Simulator, running: RunningSimulator) -> None:
    sim.faults = Faults(error_rate={"/tel_purchase": 1.0}, error_statuses=(500,))
    with pytest.raises(ServerError) as info:
        with_aculab(running, lambda c: c.purchase({"country": "Spain", "region": "Bilbao"}))
    assert calls_to(sim, "/tel_purchase") == 1
    assert "outcome unknown" in str(info.value)


def test_purchase_is_never_retried_when_its_reply_is_dropped(
    sim: Simulator, running: RunningSimulator
) -> None:
    sim.faults = Faults(lost_purchase_reply="drop")
    with pytest.raises((ApiConnectionError, MalformedResponseError)) as info:
        with_aculab(running, lambda c: c.purchase({"country": "Spain", "region": "Bilbao"}))
    assert calls_to(sim, "/tel_purchase") == 1
    assert "outcome unknown" in str(info.value)
    # The purchase did happen: exactly once.
    assert len(sim.state.purchase_log) == 1


def test_purchase_is_never_retried_when_its_reply_stalls(
    sim: Simulator, running: RunningSimulator
) -> None:
    sim.faults = Faults(lost_purchase_reply="stall", stall_s=30)
    with pytest.raises(ApiConnectionError) as info:
        with_aculab(
            running,
            lambda c: c.purchase({"country": "Spain", "region": "Bilbao"}),
            purchase_timeout=0.5,
        )
    assert calls_to(sim, "/tel_purchase") == 1
    assert "within 0.5 s" in str(info.value)
    assert "outcome unknown" in str(info.value)
    assert len(sim.state.purchase_log) == 1


def test_garbage_bodies_give_clear_errors(sim: Simulator, running: RunningSimulator) -> None:
    sim.faults = Faults(garbage_rate=1.0, seed=3)
    seen: list[str] = []
    for seed in range(12):
        sim.faults = Faults(garbage_rate=1.0, seed=seed)
        with pytest.raises(MalformedResponseError) as info:
            with_aculab(running, lambda c: c.list_services("inbound"))
        seen.append(str(info.value))
    for message in seen:
        assert message.startswith("GET /service/v1/inbound: expected JSON, got")
        assert message.endswith("(after 2 attempts)")  # an unreadable 2xx is retried once
    assert any("HTML page" in m for m in seen)


def test_no_secret_in_any_error_or_log_under_every_fault(
    sim: Simulator, running: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.state.services["outbound"]["wakeup"]["service_password"] = SERVICE_PASSWORD
    faults = [
        Faults(),
        Faults(error_rate=1.0),
        Faults(rate_limit=1.0, retry_after_s=1),
        Faults(garbage_rate=1.0),
        Faults(lost_purchase_reply="drop"),
        Faults(latency_ms=5, error_rate=0.5, garbage_rate=0.3, seed=5),
    ]
    texts: list[str] = []

    async def everything(c: AculabClient, a: AqlClient) -> None:
        body = {"service_password": Secret(SERVICE_PASSWORD), "uas": {"application_name": "x"}}
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: c.list_numbers(),
            lambda: c.read_service("outbound", "wakeup"),
            lambda: c.write_service("outbound", "wakeup", body),
            lambda: c.modify_service("outbound", "wakeup", body),
            lambda: c.purchase({"country": "Spain", "region": "Bilbao"}),
            lambda: a.query("44113000111"),
            lambda: a.modify("44113000111", "httpget", ["https://x.example/cb"]),
        ]
        for call in calls:
            try:
                result = await call()
                texts.append(repr(result))
            except ApiError as err:
                texts.extend([str(err), repr(err), err.hint or ""])
                cause = err.__cause__
                while cause is not None:
                    texts.append(str(cause))
                    cause = cause.__cause__

    for fault in faults:
        sim.faults = fault

        async def go() -> None:
            policy = fast_retry(attempts=2)
            async with (
                AculabClient(aculab_of(running), retry=policy, purchase_timeout=2) as c,
                AqlClient(aql_of(running), retry=policy) as a,
            ):
                await everything(c, a)

        asyncio.run(go())
    for text in texts + [r.getMessage() for r in caplog.records] + [caplog.text]:
        assert_no_secret(text)
    # The simulator's own record of calls holds no credential either.
    assert_no_secret(json.dumps([c.params for c in sim.calls]))
