"""The live reader against the simulator over real HTTP: exactly the calls the desired state
needs (each once), a complete typed snapshot, and no snapshot at all when any read fails."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.clients.http import RetryPolicy
from reconciler.desired.model import (
    AculabAccount,
    AqlAccount,
    DesiredState,
    Location,
    NumberPool,
    PinnedNumber,
    PoolInbound,
    RelayRoute,
    ServiceSpec,
)
from reconciler.errors import (
    AuthenticationError,
    ConfigError,
    LiveReadError,
    MalformedResponseError,
    RelayError,
    ServerError,
)
from reconciler.live.model import LiveState
from reconciler.live.reader import read_account, read_live
from reconciler.secret import Secret
from reconciler.simulator import Faults, RunningSimulator, SimCredentials, Simulator

pytestmark = pytest.mark.e2e

API_KEY = "LIVEKEY-0ddba11-5150"
AQL_PASSWORD = "LIVEAQL-c0ffee-6060"
SERVICE_PASSWORD = "LIVESVC-facade-7070"
SECRETS = (API_KEY, AQL_PASSWORD, SERVICE_PASSWORD)
CREDS = SimCredentials(api_key=API_KEY, aql_password=AQL_PASSWORD)

UK = "United Kingdom"


async def _no_sleep(seconds: float) -> None:
    return None


FAST = RetryPolicy(attempts=3, sleep=_no_sleep)


@pytest.fixture
def sim() -> Simulator:
    simulator = Simulator(seed="demo", credentials=CREDS)
    simulator.state.services["outbound"]["wakeup"]["service_password"] = SERVICE_PASSWORD
    return simulator


@pytest.fixture
def running(sim: Simulator) -> Iterator[RunningSimulator]:
    with sim.serve() as running:
        yield running


def spec(kind: str, name: str, mode: str = "merge") -> ServiceSpec:
    return ServiceSpec(kind=kind, name=name, config={}, mode=mode)  # type: ignore[arg-type]


def demo_desired(**overrides: Any) -> DesiredState:
    """A desired state over the demo account: a London pool of 3 with inbound services (two
    live numbers, one of them with a service), Calgary satisfied, declared services of which
    one does not exist, two relay routes."""
    fields: dict[str, Any] = {
        "pools": {
            "london": NumberPool(
                "london",
                Location(UK, "London"),
                count=3,
                inbound=PoolInbound(config={"description": "London desk"}),
            ),
            "calgary": NumberPool("calgary", Location("Canada", "Calgary", "Alberta"), count=1),
        },
        "inbound_services": {
            "441908538007": spec("inbound", "441908538007"),
            "sales-sip": spec("inbound", "sales-sip"),
            "not-there-yet": spec("inbound", "not-there-yet"),
        },
        "outbound_services": {"wakeup": spec("outbound", "wakeup")},
        "relay_routes": {
            "44113000111": RelayRoute("44113000111", "httpget", ("https://x.example/cb",)),
            "44113000113": RelayRoute("44113000113", "null-route"),
        },
    }
    fields.update(overrides)
    return DesiredState(**fields)


def read(
    running: RunningSimulator,
    desired: DesiredState,
    *,
    api_key: str = API_KEY,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy = FAST,
    concurrency: int = 16,
    progress: Any = None,
) -> LiveState:
    aculab = AculabAccount(CREDS.cloud_id, CREDS.username, Secret(api_key), running.base_url)
    aql = AqlAccount(CREDS.aql_username, Secret(AQL_PASSWORD), running.aql_url)

    async def go() -> LiveState:
        async with (
            AculabClient(aculab, transport=transport, retry=retry) as c,
            AqlClient(aql, retry=retry) as a,
        ):
            return await read_live(desired, c, a, concurrency=concurrency, progress=progress)

    return asyncio.run(go())


def calls(sim: Simulator) -> Counter[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return Counter((c.method, c.path, tuple(sorted(c.params.items()))) for c in sim.calls)


# --------------------------------------------------------------------------- exact reads


def test_reads_exactly_what_the_desired_state_needs(
    sim: Simulator, running: RunningSimulator
) -> None:
    live = read(running, demo_desired())
    london = (("country", UK), ("did_type", "geographic"))
    assert calls(sim) == Counter(
        {
            ("POST", "/tel_list_numbers", ()): 1,
            ("GET", "/service/v1/inbound", ()): 1,
            ("GET", "/service/v1/outbound", ()): 1,
            # declared and listed
            ("GET", "/service/v1/inbound/441908538007", ()): 1,
            ("GET", "/service/v1/inbound/sales-sip", ()): 1,
            ("GET", "/service/v1/outbound/wakeup", ()): 1,
            # a London pool number with a service (442079460456 has none: nothing to read)
            ("GET", "/service/v1/inbound/442079460123", ()): 1,
            (
                "POST",
                "/sms/sms-relay.api.php",
                (("command", "query"), ("number", "44113000111")),
            ): 1,
            (
                "POST",
                "/sms/sms-relay.api.php",
                (("command", "query"), ("number", "44113000113")),
            ): 1,
            # London is short (2 of 3): the catalogue of that location, each list once
            ("POST", "/tel_get_supported_countries", (("did_type", "geographic"),)): 1,
            ("POST", "/tel_get_supported_regions", (("country", UK), london[1])): 1,
        }
    )
    assert set(live.numbers) == set(sim.state.numbers)
    assert live.inbound_names == frozenset(sim.state.services["inbound"])
    assert live.outbound_names == frozenset({"wakeup"})
    assert set(live.inbound) == {"441908538007", "sales-sip", "442079460123"}
    assert set(live.outbound) == {"wakeup"}
    assert live.relay_routes["44113000111"].action == "httpget"
    assert live.relay_routes["44113000113"].is_mvno
    assert UK in live.catalogue.countries["geographic"]
    assert "London" in live.catalogue.regions[(UK, "", "geographic")]
    assert live.catalogue.states == {}
    assert live.catalogue.regulation_addresses is None
    assert live.service_schemas == {}


def test_nothing_declared_reads_only_the_three_lists(
    sim: Simulator, running: RunningSimulator
) -> None:
    live = read(running, DesiredState())
    assert sorted((m, p) for (m, p, _), _n in calls(sim).items()) == [
        ("GET", "/service/v1/inbound"),
        ("GET", "/service/v1/outbound"),
        ("POST", "/tel_list_numbers"),
    ]
    assert len(sim.calls) == 3
    assert len(live.numbers) == 5 and live.inbound == {} and live.relay_routes == {}


def test_catalogue_only_for_short_pools_each_list_once(
    sim: Simulator, running: RunningSimulator
) -> None:
    pools = {
        # satisfied: no catalogue
        "london": NumberPool("london", Location(UK, "London"), count=2),
        # short, with a state, twice in Canada: states of Canada fetched once
        "calgary": NumberPool("calgary", Location("Canada", "Calgary", "Alberta"), count=3),
        "edmonton": NumberPool("edmonton", Location("Canada", "Edmonton", "Alberta"), count=1),
        # short tollfree, and one needing a regulation address
        "madrid-tf": NumberPool(
            "madrid-tf",
            Location("Spain", "901", did_type="tollfree"),
            count=1,
            allow_landline=True,
        ),
        "paris": NumberPool(
            "paris", Location("France", "Paris"), count=1, regulation_address="My french place"
        ),
    }
    live = read(running, DesiredState(pools=pools))
    paths = Counter(c.path for c in sim.calls)
    assert paths["/tel_get_supported_countries"] == 2  # geographic, tollfree
    assert paths["/tel_get_supported_states"] == 1  # Canada
    assert paths["/tel_get_supported_regions"] == 3  # (Canada, Alberta), (Spain, tf), (France)
    assert paths["/tel_list_regulation_addresses"] == 1
    assert len(sim.calls) == 3 + 2 + 1 + 3 + 1
    cat = live.catalogue
    assert set(cat.countries) == {"geographic", "tollfree"}
    assert "Alberta" in cat.states["Canada"]
    assert "Calgary" in cat.regions[("Canada", "Alberta", "geographic")]
    assert "901" in cat.regions[("Spain", "", "tollfree")]
    assert cat.regulation_addresses == {"My french place": ("France", "Avignon")}


def test_pinned_numbers_belong_to_no_pool(sim: Simulator, running: RunningSimulator) -> None:
    """As the planner sees it: a pinned number at a pool's location neither counts toward the
    pool nor gets its inbound service, so its service is not read and the pool may be short."""
    pools = {
        "london": NumberPool(
            "london", Location(UK, "London"), count=2, inbound=PoolInbound(config={})
        )
    }
    live = read(
        running, DesiredState(pools=pools, pinned={"442079460123": PinnedNumber("442079460123")})
    )
    assert "442079460123" not in live.inbound  # its service: neither declared nor a pool's
    paths = Counter(c.path for c in sim.calls)
    assert paths["/service/v1/inbound/442079460123"] == 0
    # London keeps one number besides the pin: short of 2, so its catalogue was read.
    assert paths["/tel_get_supported_regions"] == 1
    assert (UK, "", "geographic") in live.catalogue.regions


def test_schemas_only_for_kinds_that_use_replace(sim: Simulator, running: RunningSimulator) -> None:
    merge_only = demo_desired(relay_routes={})
    read(running, merge_only)
    assert not any(c.path.startswith("/service/v1/schema") for c in sim.calls)
    sim.calls.clear()
    pools = {
        "london": NumberPool(
            "london",
            Location(UK, "London"),
            count=2,
            inbound=PoolInbound(config={}, mode="replace"),
        )
    }
    live = read(running, DesiredState(pools=pools))
    schema_calls = [c.path for c in sim.calls if c.path.startswith("/service/v1/schema")]
    assert schema_calls == ["/service/v1/schema/inbound"]
    assert set(live.service_schemas) == {"inbound"}


def test_a_pool_number_declared_twice_is_read_once(
    sim: Simulator, running: RunningSimulator
) -> None:
    desired = demo_desired(
        inbound_services={"442079460123": spec("inbound", "442079460123")}, relay_routes={}
    )
    live = read(running, desired)
    assert calls(sim)[("GET", "/service/v1/inbound/442079460123", ())] == 1
    assert "442079460123" in live.inbound


def test_snapshot_is_typed_concealed_and_stable(sim: Simulator, running: RunningSimulator) -> None:
    first = read(running, demo_desired())
    second = read(running, demo_desired())
    wakeup = first.outbound["wakeup"].config
    assert isinstance(wakeup["service_password"], Secret)
    assert wakeup["service_password"] == Secret(SERVICE_PASSWORD)
    for secret in SECRETS:
        assert secret not in repr(first)
    assert first.resource_fingerprints() == second.resource_fingerprints()
    assert first.resource_fingerprints() == second.resource_fingerprints()
    # A change on the account changes that resource's fingerprint only.
    sim.state.services["inbound"]["sales-sip"]["description"] = "changed by hand"
    third = read(running, demo_desired())
    before, after = first.resource_fingerprints(), third.resource_fingerprints()
    assert {k for k in before if before[k] != after.get(k)} == {"inbound:sales-sip"}


def test_progress_counts_every_read_and_gives_the_total_once_it_is_final(
    running: RunningSimulator,
) -> None:
    seen: list[tuple[int, int | None]] = []
    read(running, demo_desired(), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, None)  # the lists are not in yet
    assert seen[-1] == (11, 11)
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[1:] == list(range(1, 12))
    totals = [t for _, t in seen if t is not None]
    assert totals and set(totals) == {11}  # never a total that grows
    assert all(total is None or done <= total for done, total in seen)


def test_in_flight_reads_are_bounded(running: RunningSimulator) -> None:
    """A fixed pool of workers: never more calls in flight than ``concurrency``."""
    state = {"now": 0, "peak": 0}
    inner = httpx.AsyncHTTPTransport()

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            try:
                response = await inner.handle_async_request(request)
                await response.aread()
                return response
            finally:
                state["now"] -= 1

    desired = DesiredState(
        inbound_services={
            n: spec("inbound", n) for n in ("441908538007", "442079460123", "sales-sip")
        },
    )
    read(running, desired, transport=Counting(), concurrency=2)
    assert state["peak"] == 2


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("glob", "call"),
    [
        ("/tel_list_numbers", "POST /tel_list_numbers"),
        ("/service/v1/inbound", "GET /service/v1/inbound"),
        ("/service/v1/outbound/wakeup", "GET /service/v1/outbound/wakeup"),
        ("/service/v1/inbound/442079460123", "GET /service/v1/inbound/442079460123"),
        ("/sms/sms-relay.api.php", "aql query 441130001"),
        ("/tel_get_supported_regions", "POST /tel_get_supported_regions"),
    ],
)
def test_a_failed_read_anywhere_fails_the_snapshot(
    sim: Simulator, running: RunningSimulator, glob: str, call: str
) -> None:
    sim.faults = Faults(error_rate={glob: 1.0}, error_statuses=(503,))
    with pytest.raises(LiveReadError) as info:
        read(running, demo_desired())
    message = str(info.value)
    assert message.startswith("could not read the live account: ")
    assert call in message
    assert "after 3 attempts" in message
    assert isinstance(info.value.__cause__, ServerError)


def test_garbage_fails_the_snapshot_with_a_clear_error(
    sim: Simulator, running: RunningSimulator
) -> None:
    sim.faults = Faults(garbage_rate={"/service/v1/outbound/wakeup": 1.0})
    with pytest.raises(LiveReadError) as info:
        read(running, demo_desired())
    assert "GET /service/v1/outbound/wakeup: expected JSON, got" in str(info.value)
    assert isinstance(info.value.__cause__, MalformedResponseError)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_wrong_key_fails_at_once_without_retrying(
    sim: Simulator, running: RunningSimulator
) -> None:
    with pytest.raises(LiveReadError) as info:
        read(running, demo_desired(), api_key="wrong-key-2222")
    assert isinstance(info.value.__cause__, AuthenticationError)
    assert "api_key" in (info.value.hint or "")
    aculab_calls = Counter((c.method, c.path) for c in sim.calls if not c.path.startswith("/sms"))
    assert aculab_calls and max(aculab_calls.values()) == 1  # nothing was tried twice


def test_an_invalid_relay_number_fails_the_snapshot(running: RunningSimulator) -> None:
    desired = demo_desired(relay_routes={"44113000999": RelayRoute("44113000999", "null-route")})
    with pytest.raises(LiveReadError) as info:
        read(running, desired)
    assert isinstance(info.value.__cause__, RelayError)
    assert "aql query 44113000999: aql answered 69001" in str(info.value)


def test_relay_routes_without_an_aql_account_are_a_config_error() -> None:
    async def go() -> None:
        account = AculabAccount("1-2-0", "u", Secret("k"), "http://127.0.0.1:9")
        async with AculabClient(account) as c:
            await read_live(demo_desired(), c, None)

    with pytest.raises(ConfigError, match="no aql account"):
        asyncio.run(go())


def test_retries_win_through_30_percent_503s(sim: Simulator, running: RunningSimulator) -> None:
    clean = read(running, demo_desired())
    sim.calls.clear()
    sim.faults = Faults(error_rate=0.3, error_statuses=(503,), seed=4)
    noisy = read(running, demo_desired(), retry=RetryPolicy(attempts=12, sleep=_no_sleep))
    assert any(c.status == 503 for c in sim.calls)
    assert noisy.resource_fingerprints() == clean.resource_fingerprints()


# --------------------------------------------------------------------------- races


class _Hook(httpx.AsyncBaseTransport):
    """Real HTTP, with a hook after each reply (to change the account mid-read)."""

    def __init__(self, after: Any) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.after = after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return self.after(request, response) or response


def test_a_service_deleted_during_the_read_is_recorded_as_absent(
    sim: Simulator, running: RunningSimulator
) -> None:
    def after(request: httpx.Request, response: httpx.Response) -> None:
        if (
            request.url.path == "/service/v1/inbound"
            and "sales-sip" in sim.state.services["inbound"]
        ):
            del sim.state.services["inbound"]["sales-sip"]  # someone deletes it now

    live = read(running, demo_desired(relay_routes={}), transport=_Hook(after))
    assert "sales-sip" not in live.inbound_names and "sales-sip" not in live.inbound
    assert "441908538007" in live.inbound
    listed = [c for c in sim.calls if c.path == "/service/v1/inbound"]
    assert len(listed) == 2  # the list was read again once, to confirm the deletion


def test_a_listed_service_that_keeps_answering_404_fails_the_read(
    sim: Simulator, running: RunningSimulator
) -> None:
    def after(request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if request.url.path == "/service/v1/inbound/sales-sip":
            body = {"error": {"code": "HTTP 404", "text": "The service name does not exist"}}
            return httpx.Response(404, json=body, request=request)
        return None

    with pytest.raises(LiveReadError) as info:
        read(running, demo_desired(relay_routes={}), transport=_Hook(after))
    assert "sales-sip" in str(info.value) and "404" in str(info.value)


def test_export_s_whole_read_records_a_service_deleted_during_it_as_absent(
    sim: Simulator, running: RunningSimulator
) -> None:
    """The whole-account read of export shares the race rule (its own copy failed the export
    with a 404 when a listed service was deleted in between)."""

    def after(request: httpx.Request, response: httpx.Response) -> None:
        if (
            request.url.path == "/service/v1/inbound"
            and "sales-sip" in sim.state.services["inbound"]
        ):
            del sim.state.services["inbound"]["sales-sip"]

    aculab = AculabAccount(CREDS.cloud_id, CREDS.username, Secret(API_KEY), running.base_url)

    async def go() -> LiveState:
        async with AculabClient(aculab, transport=_Hook(after), retry=FAST) as c:
            return await read_account(c, None)

    live = asyncio.run(go())
    assert "sales-sip" not in live.inbound_names and "sales-sip" not in live.inbound
    assert set(live.inbound) == set(sim.state.services["inbound"])
    assert set(live.outbound) == set(sim.state.services["outbound"])
    assert set(live.service_schemas) == {"inbound", "outbound"}


def test_no_secret_in_errors_or_logs_of_failed_reads(
    sim: Simulator, running: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for faults in (
        Faults(error_rate=1.0),
        Faults(garbage_rate=1.0),
        Faults(rate_limit=1.0),
        Faults(garbage_rate=0.5, error_rate=0.2, seed=9),
    ):
        sim.faults = faults
        try:
            texts.append(repr(read(running, demo_desired())))
        except LiveReadError as err:
            texts += [str(err), repr(err), err.hint or "", str(err.__cause__)]
    for text in [*texts, caplog.text]:
        for secret in SECRETS:
            assert secret not in text
