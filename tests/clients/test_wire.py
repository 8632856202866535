"""What the clients put on the wire: auth, headers, bodies, escapes; never a secret in a URL."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.errors import NotFoundError, RelayAuthenticationError, RelayError
from reconciler.secret import Secret

from .support import (
    API_KEY,
    AQL_PASSWORD,
    SERVICE_PASSWORD,
    Script,
    aculab_account,
    aql_account,
    fast_retry,
    reply,
)

OK_ROUTE = "200: OK\nnumber: 44113000111\n  action-type: null-route\n"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


def test_every_aculab_call_sends_basic_auth_and_accept_json() -> None:
    script = Script([reply(200, json=[])])

    async def go() -> None:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            await c.supported_countries("national")
            await c.supported_states("Canada")
            await c.supported_regions("Canada", "Manitoba")
            await c.regulation_addresses()
            await c.list_numbers()

    run(go())
    expected = base64.b64encode(f"1-2-0/ops@example.com:{API_KEY}".encode()).decode()
    for request in script.requests:
        assert request.headers["authorization"] == f"Basic {expected}"
        assert request.headers["accept"] == "application/json"
        assert request.method == "POST"
        assert request.url.query == b""  # parameters in the body, never the URL
        assert API_KEY not in str(request.url)
    paths = [r.url.path for r in script.requests]
    assert paths == [
        "/tel_get_supported_countries",
        "/tel_get_supported_states",
        "/tel_get_supported_regions",
        "/tel_list_regulation_addresses",
        "/tel_list_numbers",
    ]
    assert form(script.requests[0]) == {"did_type": "national"}
    assert form(script.requests[2]) == {
        "country": "Canada",
        "state": "Manitoba",
        "did_type": "geographic",
    }
    assert form(script.requests[4]) == {}


def test_location_names_go_out_with_u_escapes() -> None:
    script = Script([reply(200, json=["4921610000"])])

    async def go() -> None:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            await c.purchase(
                {
                    "country": "Germany",
                    "region": "Mönchengladbach",
                    "quantity": 1,
                    "allow_partial": False,
                }
            )

    run(go())
    sent = form(script.requests[0])
    assert sent == {
        "country": "Germany",
        "region": "M\\u00f6nchengladbach",
        "quantity": "1",
        "allow_partial": "False",
    }
    assert script.requests[0].url.path == "/tel_purchase"


def test_delete_numbers_sends_one_comma_list() -> None:
    script = Script([reply(200, json={"status": "OK"})])

    async def go() -> Any:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            return await c.delete_numbers(["+441908538007", "441908538008"])

    result = run(go())
    assert form(script.requests[0]) == {"numbers": "441908538007,441908538008"}
    assert result.status == "OK" and result.deleted == ("441908538007", "441908538008")


def test_retried_delete_numbers_takes_0300_as_deleted() -> None:
    not_yours = {
        "status": "FAIL",
        "numbers": {"441908538007": {"code": "0300", "description": "does not belong to you"}},
    }
    script = Script([reply(503), reply(200, json=not_yours)])

    async def go() -> Any:
        async with AculabClient(
            aculab_account(), transport=script.transport, retry=fast_retry()
        ) as c:
            return await c.delete_numbers(["441908538007"])

    result = run(go())
    assert len(script.requests) == 2
    assert result.status == "OK"
    assert result.assumed_deleted == frozenset({"441908538007"})


def test_service_writes_send_json_with_secrets_revealed_only_in_the_body() -> None:
    config = {"enabled": True, "service_password": SERVICE_PASSWORD, "description": "Wake"}
    script = Script(
        [reply(201, json=config), reply(200, json=config), reply(200, json=config), reply(204)]
    )
    body = {"service_password": Secret(SERVICE_PASSWORD), "description": "Wake"}

    async def go() -> Any:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            created = await c.write_service("outbound", "wake up", body)
            replaced = await c.write_service("outbound", "wake up", body)
            merged = await c.modify_service("outbound", "wake up", {"description": None})
            await c.delete_service("outbound", "wake up")
            return created, replaced, merged

    (created, c1), (replaced, _), merged = run(go())
    assert created is True and replaced is False
    assert isinstance(c1["service_password"], Secret)
    assert c1["service_password"] == Secret(SERVICE_PASSWORD)
    assert isinstance(merged["service_password"], Secret)
    put, _, patch, delete = script.requests
    assert put.method == "PUT" and put.url.raw_path == b"/service/v1/outbound/wake%20up"
    assert put.headers["content-type"] == "application/json"
    assert json.loads(put.content) == {"service_password": SERVICE_PASSWORD, "description": "Wake"}
    assert patch.method == "PATCH" and json.loads(patch.content) == {"description": None}
    assert delete.method == "DELETE"
    for request in script.requests:
        assert request.headers["accept"] == "application/json"


def test_inbound_write_may_have_an_empty_body() -> None:
    script = Script([reply(201, json={"description": None})])

    async def go() -> Any:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            return await c.write_service("inbound", "441908538007", None)

    assert run(go()) == (True, {"description": None})
    assert json.loads(script.requests[0].content) == {}


def test_delete_404_after_a_retry_counts_as_done_but_not_on_the_first_try() -> None:
    gone = reply(
        404, json={"error": {"code": "HTTP 404", "text": "The service name does not exist"}}
    )

    async def go(script: Script) -> None:
        async with AculabClient(
            aculab_account(), transport=script.transport, retry=fast_retry()
        ) as c:
            await c.delete_service("inbound", "sales-sip")

    retried = Script([reply(503), gone])
    run(go(retried))
    assert len(retried.requests) == 2
    with pytest.raises(NotFoundError):
        run(go(Script([gone])))


def test_schema_and_list_calls() -> None:
    script = Script(
        [
            reply(200, json={"$schema": "http://json-schema.org/draft-07/schema#"}),
            reply(200, json={"services": [{"name": "a", "target": "t", "description": "d"}]}),
        ]
    )

    async def go() -> Any:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            return await c.service_schema("outbound"), await c.list_services("inbound")

    schema, listed = run(go())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert [s.name for s in listed] == ["a"]
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("GET", "/service/v1/schema/outbound"),
        ("GET", "/service/v1/inbound"),
    ]


def test_unknown_service_kind_is_refused() -> None:
    async def go() -> None:
        async with AculabClient(aculab_account(), transport=Script([]).transport) as c:
            await c.read_service("sideways", "x")

    with pytest.raises(ValueError, match="inbound' or 'outbound"):
        run(go())


# --------------------------------------------------------------------------- aql


def test_aql_sends_credentials_in_a_post_body_never_the_url() -> None:
    script = Script([reply(200, text=OK_ROUTE)])

    async def go() -> Any:
        async with AqlClient(aql_account(), transport=script.transport) as aql:
            return await aql.query("+44113000111")

    route = run(go())
    assert route.action == "null-route"
    request = script.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://aql.test/sms/sms-relay.api.php"
    assert AQL_PASSWORD not in str(request.url)
    assert form(request) == {
        "username": "example",
        "password": AQL_PASSWORD,
        "command": "query",
        "number": "44113000111",
    }


def test_aql_modify_joins_the_detail_and_omits_it_for_null_route() -> None:
    script = Script(
        [
            reply(
                200,
                text="200: OK\nnumber: 44113000111\naction-type: httppost\n"
                "action-detail: https://a/x,https://b/y\n",
            ),
            reply(200, text=OK_ROUTE),
        ]
    )

    async def go() -> Any:
        async with AqlClient(aql_account(), transport=script.transport) as aql:
            first = await aql.modify("44113000111", "httppost", ["https://a/x", "https://b/y"])
            second = await aql.modify("44113000111", "null-route", [])
            return first, second

    first, second = run(go())
    assert first.detail == ("https://a/x", "https://b/y")
    assert second.action == "null-route"
    sent = form(script.requests[0])
    assert sent["command"] == "modify"
    assert sent["action-type"] == "httppost"
    assert sent["action-detail"] == "https://a/x,https://b/y"
    assert "action-detail" not in form(script.requests[1])


def test_aql_internal_error_is_retried_and_other_codes_are_not() -> None:
    retried = Script([reply(200, text="500: Internal system error"), reply(200, text=OK_ROUTE)])
    invalid = Script([reply(200, text="69001 * number is invalid")])

    async def go(script: Script) -> Any:
        async with AqlClient(aql_account(), transport=script.transport, retry=fast_retry()) as aql:
            return await aql.query("44113000111")

    assert run(go(retried)).action == "null-route"
    assert len(retried.requests) == 2
    with pytest.raises(RelayError) as info:
        run(go(invalid))
    assert info.value.code == "69001"
    assert len(invalid.requests) == 1


@pytest.mark.parametrize(
    ("status", "text"), [(200, "401: Authentication error"), (401, "401: Authentication error")]
)
def test_aql_auth_failure_fails_at_once(status: int, text: str) -> None:
    script = Script([reply(status, text=text)])

    async def go() -> None:
        async with AqlClient(aql_account(), transport=script.transport, retry=fast_retry()) as aql:
            await aql.query("44113000111")

    with pytest.raises(Exception) as info:
        run(go())
    err = info.value
    assert len(script.requests) == 1
    assert "aql.username" in (getattr(err, "hint", "") or "")
    assert AQL_PASSWORD not in str(err) + repr(err)
    if status == 200:
        assert isinstance(err, RelayAuthenticationError)
