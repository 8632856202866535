"""The shared HTTP layer: retries, waits, typed errors, defensive parsing, logging, secrets.

Driven through the Aculab client with a scripted ``httpx.MockTransport``: each test scripts the
server's answers and asserts what a user would see (the result, the error and its hint, how
many calls went out, how long the client chose to wait).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from typing import Any

import httpx
import pytest

from reconciler.clients.aculab import AculabClient
from reconciler.clients.http import RetryPolicy, loads
from reconciler.errors import (
    ApiConnectionError,
    ApiStatusError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from reconciler.secret import Secret

from .support import (
    API_KEY,
    SERVICE_PASSWORD,
    Script,
    Sleeps,
    aculab_account,
    assert_no_secret,
    fail,
    fast_retry,
    reply,
)

COUNTRIES = reply(json=["United Kingdom", "Canada"])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _countries(script: Script, retry: RetryPolicy) -> list[str]:
    async with AculabClient(aculab_account(), transport=script.transport, retry=retry) as c:
        return await c.supported_countries()


# --------------------------------------------------------------------------- retries


def test_retries_win_through_503s_with_growing_backoff() -> None:
    sleeps = Sleeps()
    script = Script([reply(503), reply(503), COUNTRIES])
    assert run(_countries(script, fast_retry(sleeps))) == ["United Kingdom", "Canada"]
    assert len(script.requests) == 3
    # Full jitter drawn at its top (random=1.0): base 0.25 s, doubling.
    assert sleeps.waits == [0.25, 0.5]


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, random=lambda: 1.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    half = RetryPolicy(base_delay=1.0, max_delay=5.0, random=lambda: 0.5)
    assert half.backoff(3) == 2.0


def test_gives_up_after_the_last_attempt_and_says_so() -> None:
    script = Script([reply(503, json={"error": {"code": "HTTP 503", "text": "Busy"}})])
    with pytest.raises(ServerError) as info:
        run(_countries(script, fast_retry(attempts=3)))
    assert len(script.requests) == 3
    assert info.value.status == 503
    assert "POST /tel_get_supported_countries" in str(info.value)
    assert "Busy" in str(info.value)
    assert "after 3 attempts" in str(info.value)


def test_retry_after_seconds_is_honoured() -> None:
    sleeps = Sleeps()
    script = Script([reply(429, headers={"Retry-After": "7"}), COUNTRIES])
    policy = RetryPolicy(sleep=sleeps, random=lambda: 0.0)
    assert run(_countries(script, policy)) == ["United Kingdom", "Canada"]
    assert sleeps.waits == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    now = 1_800_000_000.0
    sleeps = Sleeps()
    when = email.utils.formatdate(now + 30, usegmt=True)
    script = Script([reply(429, headers={"Retry-After": when}), COUNTRIES])
    policy = RetryPolicy(sleep=sleeps, random=lambda: 0.0, clock=lambda: now)
    run(_countries(script, policy))
    assert sleeps.waits == [30.0]


def test_retry_after_is_capped() -> None:
    sleeps = Sleeps()
    script = Script([reply(429, headers={"Retry-After": "86400"}), COUNTRIES])
    policy = RetryPolicy(sleep=sleeps, random=lambda: 0.0, max_retry_after=60.0)
    run(_countries(script, policy))
    assert sleeps.waits == [60.0]


def test_rate_limit_error_carries_retry_after_when_retries_run_out() -> None:
    script = Script([reply(429, headers={"Retry-After": "3"})])
    with pytest.raises(RateLimitedError) as info:
        run(_countries(script, fast_retry(attempts=2)))
    assert info.value.retry_after == 3.0
    assert len(script.requests) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_fails_at_once_with_a_hint(status: int) -> None:
    body = {"error": {"code": f"HTTP {status}", "text": "Invalid credentials"}}
    script = Script([reply(status, json=body)])
    with pytest.raises(AuthenticationError) as info:
        run(_countries(script, fast_retry()))
    assert len(script.requests) == 1
    hint = info.value.hint or ""
    assert "cloud_id" in hint and "username" in hint and "api_key" in hint
    assert "1-2-0/ops@example.com" in hint
    assert_no_secret(str(info.value) + hint + repr(info.value))


def test_client_error_is_not_retried_and_keeps_the_documented_fields() -> None:
    body = {
        "error": {
            "code": "HTTP 400",
            "text": "Failed to validate configuration, see details for more information.",
            "details": ["rest.first_page.method 'haha' is not one of ['GET', 'POST']."],
            "datetime": "2022-07-22_16:28:25",
        },
        "request": {"url": "/service/v1/outbound/wakeup", "datetime": "2022-07-22_16:28:24"},
    }
    script = Script([reply(400, json=body)])

    async def go() -> None:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            await c.write_service("outbound", "wakeup", {"rest": {"first_page": {}}})

    with pytest.raises(ApiStatusError) as info:
        run(go())
    err = info.value
    assert len(script.requests) == 1
    assert (err.status, err.code) == (400, "HTTP 400")
    assert err.text is not None and err.text.startswith("Failed to validate")
    assert err.details == ["rest.first_page.method 'haha' is not one of ['GET', 'POST']."]
    assert str(err).startswith("PUT /service/v1/outbound/wakeup: Aculab Cloud answered 400")
    assert "'haha'" in str(err)


def test_a_redirect_is_not_followed_and_points_at_the_endpoint() -> None:
    script = Script([reply(301, headers={"Location": "https://elsewhere.example/x"})])
    with pytest.raises(ApiStatusError) as info:
        run(_countries(script, fast_retry()))
    assert len(script.requests) == 1
    assert "a redirect to https://elsewhere.example/x" in str(info.value)
    assert "endpoint" in (info.value.hint or "")


def test_four_digit_codes_are_kept() -> None:
    body = {"error": {"code": "0005", "text": "The country needs a regulation address"}}
    script = Script([reply(400, json=body)])
    with pytest.raises(ApiStatusError) as info:
        run(_countries(script, fast_retry()))
    assert info.value.code == "0005"
    assert "(code 0005)" in str(info.value)


def test_connection_errors_are_retried() -> None:
    script = Script([fail(httpx.ConnectError), fail(httpx.ReadError), COUNTRIES])
    assert run(_countries(script, fast_retry())) == ["United Kingdom", "Canada"]
    assert len(script.requests) == 3


def test_connection_error_after_the_last_attempt_is_typed() -> None:
    script = Script([fail(httpx.ConnectError, "connection refused")])
    with pytest.raises(ApiConnectionError) as info:
        run(_countries(script, fast_retry(attempts=2)))
    assert "could not connect to aculab.test" in str(info.value)
    assert "after 2 attempts" in str(info.value)


def test_concurrency_bounds_the_calls_in_flight() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return httpx.Response(200, json=[])

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with AculabClient(aculab_account(), transport=transport, concurrency=3) as c:
            await asyncio.gather(*(c.supported_states("Canada") for _ in range(30)))

    run(go())
    assert peak == 3


# --------------------------------------------------------------------------- purchases


PURCHASE = {"country": "Canada", "state": "Alberta", "region": "Calgary", "quantity": "1"}


async def _purchase(script: Script, *, development: bool = False) -> list[str]:
    async with AculabClient(aculab_account(), transport=script.transport, retry=fast_retry()) as c:
        return await c.purchase(PURCHASE, development=development)


def test_purchase_is_never_retried_after_a_500_and_the_outcome_is_unknown() -> None:
    script = Script([reply(500, json={"error": {"code": "HTTP 500", "text": "oops"}})])
    with pytest.raises(ServerError) as info:
        run(_purchase(script))
    assert len(script.requests) == 1
    assert "outcome unknown" in str(info.value)
    assert "not retried" in str(info.value)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_purchase_is_never_retried_after_a_lost_reply(exc: type[Exception]) -> None:
    script = Script([fail(exc, "the reply was lost")])
    with pytest.raises(ApiConnectionError) as info:
        run(_purchase(script))
    assert len(script.requests) == 1
    assert "outcome unknown" in str(info.value)


def test_purchase_unreadable_success_is_an_unknown_outcome() -> None:
    script = Script([reply(200, text="<html><body>OK</body></html>")])
    with pytest.raises(MalformedResponseError) as info:
        run(_purchase(script))
    assert len(script.requests) == 1
    assert "an HTML page" in str(info.value)
    assert "outcome unknown" in str(info.value)


def test_purchase_is_bounded_by_its_own_timeout() -> None:
    """A purchase may take purchase_timeout; another call only timeout. The client bounds
    the whole exchange itself: requests carry no per-read timeouts for a transport to arm."""
    seen: list[Any] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions.get("timeout"))
        await asyncio.sleep(0.3)
        if request.url.path == "/tel_purchase":
            return httpx.Response(200, json=["15873155555"])
        return httpx.Response(200, json=["United Kingdom"])

    async def go() -> tuple[list[str], ApiConnectionError]:
        transport = httpx.MockTransport(handler)
        async with AculabClient(
            aculab_account(),
            transport=transport,
            timeout=0.1,
            purchase_timeout=5.0,
            retry=RetryPolicy(attempts=1),
        ) as c:
            bought = await c.purchase(PURCHASE)
            with pytest.raises(ApiConnectionError) as info:
                await c.supported_countries()
            return bought, info.value

    bought, err = run(go())
    assert bought == ["15873155555"]
    assert "within 0.1 s" in err.message
    assert all(not any(t.values()) for t in seen)  # no per-read timeouts


def test_development_purchase_is_retried() -> None:
    script = Script([reply(503), reply(200, json=["1234567", "89012345"])])
    assert run(_purchase(script, development=True)) == ["1234567", "89012345"]
    assert [r.url.path for r in script.requests] == ["/tel_purchase_development"] * 2


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>", "HTML page"),
        ("<?xml version='1.0'?><error>nope</error>", "an XML document"),
        ("", "an empty body"),
        ('{"United Kingdom": ', "not JSON"),
        ("Service Unavailable", "not JSON"),
    ],
)
def test_garbage_success_bodies_give_a_clear_error(body: str, said: str) -> None:
    script = Script([reply(200, text=body)])
    with pytest.raises(MalformedResponseError) as info:
        run(_countries(script, fast_retry()))
    message = str(info.value)
    assert message.startswith("POST /tel_get_supported_countries: expected JSON, got")
    assert said in message


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("<html><title>Forbidden by proxy</title></html>", "with an HTML page"),
        ("<?xml version='1.0'?><e/>", "with an XML document"),
        ("", "with an empty body"),
        ("{'error': {'code': 'HTTP 400', 'text': 'Bad thing'", "not JSON"),
        ('["a", "list"]', "JSON that is not the documented error shape"),
    ],
)
def test_garbage_error_bodies_give_a_clear_error(body: str, said: str) -> None:
    script = Script([reply(400, text=body)])
    with pytest.raises(ApiStatusError) as info:
        run(_countries(script, fast_retry()))
    assert info.value.status == 400
    assert said in str(info.value)


def test_the_vendors_single_quoted_error_example_is_understood() -> None:
    body = """{
        'error': {
            'code': 'HTTP 404',
            'text': 'The service name does not exist',
            'datetime': '2022-07-22_14:50:47',
            'link': 'https://www.aculab.com/cloud/web-services/services/outbound/management'
        },
        'request': {
            'url': '/service/v1/outbound/MyWakeUpCallService',
            'datetime': '2022-07-22_14:50:47'
        }
    }"""
    script = Script([reply(404, text=body)])

    async def go() -> None:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            await c.read_service("outbound", "MyWakeUpCallService")

    with pytest.raises(NotFoundError) as info:
        run(go())
    assert info.value.text == "The service name does not exist"
    assert info.value.code == "HTTP 404"
    assert str(info.value) == (
        "GET /service/v1/outbound/MyWakeUpCallService: "
        "Aculab Cloud answered 404: The service name does not exist"
    )


def test_python_literal_fallback_accepts_only_plain_data() -> None:
    assert loads(b"{'a': [1, True, None]}") == {"a": [1, True, None]}
    for bad in (b"{'a': {1, 2}}", b"{1: 'x'}", b"__import__('os')", b"[" * 5000):
        with pytest.raises(ValueError):
            loads(bad)


def test_wrong_shapes_give_a_clear_error() -> None:
    script = Script([reply(200, json={"countries": ["x"]})])
    with pytest.raises(MalformedResponseError) as info:
        run(_countries(script, fast_retry()))
    assert "expected a list of names, got an object" in str(info.value)


# --------------------------------------------------------------------------- secrets, logs


def test_secrets_echoed_by_the_server_are_masked() -> None:
    body = {
        "error": {
            "code": "HTTP 400",
            "text": f"key {API_KEY} may not write this",
            "details": [f"service_password '{SERVICE_PASSWORD}' is too short"],
        }
    }
    script = Script([reply(400, json=body)])

    async def go() -> None:
        async with AculabClient(aculab_account(), transport=script.transport) as c:
            await c.write_service(
                "outbound", "wakeup", {"service_password": Secret(SERVICE_PASSWORD)}
            )

    with pytest.raises(ApiStatusError) as info:
        run(go())
    err = info.value
    # The server got the real value; nothing shown to a user has it.
    assert SERVICE_PASSWORD.encode() in script.requests[0].content
    assert_no_secret(str(err) + repr(err) + " ".join(err.details) + (err.text or ""))
    assert "(sensitive)" in str(err)


def test_transport_error_text_is_scrubbed() -> None:
    script = Script([fail(httpx.ConnectError, f"refused for {API_KEY}")])
    with pytest.raises(ApiConnectionError) as info:
        run(_countries(script, fast_retry(attempts=1)))
    assert_no_secret(str(info.value) + repr(info.value))


def test_debug_log_names_call_status_and_time_and_nothing_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        [reply(503), reply(200, json={"enabled": True, "service_password": SERVICE_PASSWORD})]
    )

    async def go() -> dict[str, Any]:
        async with AculabClient(
            aculab_account(), transport=script.transport, retry=fast_retry()
        ) as c:
            return await c.read_service("outbound", "wakeup")

    config = run(go())
    assert isinstance(config["service_password"], Secret)
    http_lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.http"]
    assert any(line.startswith("GET /service/v1/outbound/wakeup -> 503 in ") for line in http_lines)
    assert any("-> 200 in" in line and "(attempt 2)" in line for line in http_lines)
    assert any("retry 1 of 5" in line for line in http_lines)
    for record in caplog.records:
        text = record.getMessage()
        assert_no_secret(text)
        assert "Basic " not in text and "authorization" not in text.lower()


def test_client_reprs_hold_no_secret() -> None:
    client = AculabClient(aculab_account())
    assert_no_secret(repr(client) + repr(client.http) + repr(client.account))


@pytest.mark.parametrize(
    ("method", "body", "sent"),
    [
        ("GET", {}, b""),
        ("DELETE", {}, b""),
        ("POST", {}, b""),  # no body: Content-Length 0, as httpx sends it
        ("POST", {"form": {"a": "1", "b": Secret("é&=")}}, b"a=1&b=%C3%A9%26%3D"),
        ("POST", {"form": {}}, b""),
        ("PUT", {"json_body": {"x": [1, "ü"]}}, b'{"x": [1, "\\u00fc"]}'),
        ("PATCH", {}, b""),
    ],
)
def test_requests_go_out_as_httpx_would_build_them_from_content(
    method: str, body: dict[str, Any], sent: bytes
) -> None:
    """Given an httpx transport, HttpClient's requests (each method, with a form, JSON or no
    body) reach it as httpx.Request(content=...) would build them: headers, Host and
    Content-Length, URL and body, readable as ``request.content`` at once (a transport may not
    ``aread()`` it first, as MockTransport does; doctor's recorder doesn't)."""
    seen: list[httpx.Request] = []

    class Seeing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            assert isinstance(request.content, bytes)
            return httpx.Response(200, json={})

    async def go() -> None:
        from reconciler.clients.http import HttpClient

        async with HttpClient(
            service="Test",
            base_url="http://Example.test:8080/api",
            auth_hint="-",
            headers={"Accept": "application/json", "Authorization": "Basic abc"},
            transport=Seeing(),
        ) as client:
            for _ in range(2):  # the second the same as the first
                await client.request(method, "/a/b%20c?x=1", parse=lambda r: r.content, **body)

    run(go())
    first, second = seen
    content = first.content
    expected = httpx.Request(
        method,
        "http://example.test:8080/api/a/b%20c?x=1",
        headers=[
            (k, v) for k, v in first.headers.raw if k.lower() not in (b"host", b"content-length")
        ],
        content=content or None,
    )
    assert first.headers.raw == expected.headers.raw
    assert second.headers.raw == expected.headers.raw
    assert first.url == expected.url
    assert content == second.content == sent
