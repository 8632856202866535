"""The transports (reconciler/clients/transport.py) against a raw HTTP server on 127.0.0.1:
the default (aiohttp) sends a request as given and answers with the body whole and decoded,
follows no redirect, keeps no cookie, and raises every aiohttp failure as the httpx error that
stands for it, the original as its cause; an httpx transport behind the same seam sends what
httpx would."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest

from reconciler.clients.connections import current, shared_connections
from reconciler.clients.http import HttpClient, Reply, RetryPolicy
from reconciler.clients.transport import (
    EXCEPTIONS,
    AiohttpTransport,
    Answer,
    HttpxTransport,
    Transport,
    as_transport,
    mapped_exception,
)
from reconciler.errors import ApiConnectionError, ApiStatusError

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Seen:
    """What the server received: each request's head (lower-cased header names) and body."""

    heads: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0  # accepted


def answer(
    status: str, headers: list[tuple[str, str]], body: bytes, *, close: bool = False
) -> Script:
    async def write(writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        if close:
            writer.close()

    return write


def ok(body: bytes, *extra: tuple[str, str]) -> Script:
    return answer("200 OK", [("Content-Length", str(len(body))), *extra], body)


@asynccontextmanager
async def server(*answers: Script) -> AsyncIterator[tuple[str, Seen]]:
    """A server on 127.0.0.1 that gives ``answers`` in turn (the last repeats)."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                first, *lines = head.decode().split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines if line)
                }
                seen.heads.append((first, headers))
                seen.bodies.append(await reader.readexactly(int(headers.get("content-length", 0))))
                await answers[min(len(seen.heads), len(answers)) - 1](writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        srv.close()


async def send(
    transport: Transport,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    return await transport.exchange(method, url, headers or {}, body)


def test_a_body_comes_whole_and_the_request_goes_as_given() -> None:
    async def go() -> None:
        async with server(ok(b'{"a": 1}', ("X-Thing", "yes"))) as (url, seen):
            transport = AiohttpTransport()
            try:
                args = (
                    "POST",
                    f"{url}/sms/relay?x=%C3%A9&y=a%2Fb",
                    {"User-Agent": "t", "Authorization": "Basic abc"},
                    b"k=v",
                )
                answer_ = await send(transport, *args)
                again = await send(transport, *args)
            finally:
                await transport.aclose()
        assert (answer_.status, answer_.body) == (200, b'{"a": 1}')
        assert answer_.headers["x-thing"] == answer_.headers["X-Thing"] == "yes"
        assert answer_.reason == "OK"
        assert again.body == b'{"a": 1}'
        first, headers = seen.heads[0]
        # the quoting it was given reaches the wire untouched
        assert first == "POST /sms/relay?x=%C3%A9&y=a%2Fb HTTP/1.1"
        assert headers["user-agent"] == "t"
        assert headers["authorization"] == "Basic abc"
        assert headers["host"] == url.removeprefix("http://")
        assert headers["content-length"] == "3"
        assert seen.bodies == [b"k=v", b"k=v"]
        assert len(seen.heads) == 2

    asyncio.run(go())


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_a_compressed_body_comes_decoded(encoding: str, pack: Callable[[bytes], bytes]) -> None:
    body = json.dumps({"numbers": list(range(50))}).encode()

    async def go() -> Answer:
        async with server(ok(pack(body), ("Content-Encoding", encoding))) as (url, _):
            transport = AiohttpTransport()
            try:
                return await send(transport, "GET", url + "/x")
            finally:
                await transport.aclose()

    assert asyncio.run(go()).body == body


def test_redirects_are_answered_not_followed_and_cookies_not_kept() -> None:
    async def go() -> tuple[list[int], Seen]:
        moved = answer(
            "302 Found",
            [("Location", "/elsewhere"), ("Set-Cookie", "s=1; Path=/"), ("Content-Length", "0")],
            b"",
        )
        async with server(moved) as (url, seen):
            transport = AiohttpTransport()
            try:
                codes = [(await send(transport, "GET", url + "/x")).status for _ in range(2)]
            finally:
                await transport.aclose()
        return codes, seen

    codes, seen = asyncio.run(go())
    assert codes == [302, 302]
    assert [first for first, _ in seen.heads] == ["GET /x HTTP/1.1"] * 2
    assert all("cookie" not in headers for _, headers in seen.heads)


async def _fail(answer_: Script | None, path: str = "/x") -> Exception:
    """The exception the transport raises against a server that answers ``answer_`` (no
    server at all when None)."""
    transport = AiohttpTransport()
    try:
        if answer_ is None:
            probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            port = probe.sockets[0].getsockname()[1]
            probe.close()
            await probe.wait_closed()
            url = f"http://127.0.0.1:{port}"
            with pytest.raises(Exception) as info:
                await send(transport, "GET", url + path)
            return info.value
        async with server(answer_) as (url, _):
            with pytest.raises(Exception) as info:
                await send(transport, "GET", url + path)
            return info.value
    finally:
        await transport.aclose()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.mark.parametrize(
    ("answer_", "expected", "cause"),
    [
        (None, httpx.ConnectError, aiohttp.ClientConnectorError),
        (_close, httpx.RemoteProtocolError, aiohttp.ServerDisconnectedError),
        (
            answer("200 OK", [("Content-Length", "100")], b"cut", close=True),
            httpx.ReadError,
            aiohttp.ClientPayloadError,
        ),
        (
            answer("not HTTP at all", [], b"", close=True),
            httpx.RemoteProtocolError,
            aiohttp.ClientResponseError,
        ),
        (
            answer("200 OK", [("Content-Length", "20"), ("Content-Encoding", "gzip")], b"x" * 20),
            httpx.ReadError,
            aiohttp.ClientPayloadError,
        ),
    ],
    ids=["refused", "dropped", "cut short", "not HTTP", "garbled gzip"],
)
def test_aiohttp_failures_become_httpx_errors_with_the_original_as_cause(
    answer_: Script | None, expected: type[Exception], cause: type[Exception]
) -> None:
    err = asyncio.run(_fail(answer_))
    assert type(err) is expected
    assert isinstance(err.__cause__, cause)
    assert isinstance(err, httpx.TransportError)


def test_a_url_aiohttp_cannot_use_is_an_unsupported_protocol() -> None:
    async def go() -> Exception:
        transport = AiohttpTransport()
        try:
            with pytest.raises(Exception) as info:
                await send(transport, "GET", "ftp://127.0.0.1/x")
            return info.value
        finally:
            await transport.aclose()

    err = asyncio.run(go())
    assert isinstance(err, httpx.UnsupportedProtocol)
    assert isinstance(err.__cause__, aiohttp.NonHttpUrlClientError)


def test_the_most_specific_listed_class_decides() -> None:
    # ConnectionTimeoutError is a ServerTimeoutError, a ClientConnectionError and a ClientError
    err = mapped_exception(aiohttp.ConnectionTimeoutError("slow"))
    assert type(err) is httpx.ConnectTimeout
    assert str(err) == "slow"
    # every entry maps to an httpx transport error; what is not aiohttp's passes unchanged
    assert all(issubclass(target, httpx.TransportError) for target in EXCEPTIONS.values())
    plain = ValueError("x")
    assert mapped_exception(plain) is plain


async def _connection_error(client: HttpClient) -> ApiConnectionError:
    """The error ``client``'s one call raises."""
    async with client:
        with pytest.raises(ApiConnectionError) as info:
            await client.request("GET", "/x", parse=_content)
        return info.value


def test_http_client_words_a_dropped_connection_from_the_original() -> None:
    async def go() -> ApiConnectionError:
        async with server(_close) as (url, _):
            client = HttpClient(
                service="Test", base_url=url, auth_hint="-", retry=RetryPolicy(attempts=1)
            )
            return await _connection_error(client)

    err = asyncio.run(go())
    assert "the connection to 127.0.0.1" in err.message
    assert "failed (ServerDisconnectedError)" in err.message


def _content(reply: Reply) -> Any:
    return reply.content


def _clients(url: str, count: int) -> list[HttpClient]:
    return [
        HttpClient(service="Test", base_url=url, auth_hint="-", headers={"X-Account": str(i)})
        for i in range(count)
    ]


def test_clients_in_a_shared_scope_pass_connections_from_one_account_to_the_next() -> None:
    """A fleet's accounts, one after another in one process: one connection for all of them
    (without the scope, one each), each request still with its own client's headers."""

    async def accounts(shared: bool) -> tuple[int, list[str]]:
        async with server(ok(b"{}")) as (url, seen):
            scope = shared_connections() if shared else contextlib.nullcontext()
            async with scope:
                for client in _clients(url, 3):
                    async with client:
                        await client.request("GET", "/a", parse=_content)
                        await client.request("GET", "/b", parse=_content)
            return seen.connections, [head["x-account"] for _, head in seen.heads]

    assert asyncio.run(accounts(shared=True)) == (1, ["0", "0", "1", "1", "2", "2"])
    assert asyncio.run(accounts(shared=False)) == (3, ["0", "0", "1", "1", "2", "2"])


def test_the_shared_pools_close_with_their_scope_not_with_a_client() -> None:
    async def go() -> None:
        async with server(ok(b"{}")) as (url, _):
            async with shared_connections() as shared:
                first, second = _clients(url, 2)
                async with first:
                    await first.request("GET", "/a", parse=_content)
                async with second:  # the pool outlived the first client
                    await second.request("GET", "/a", parse=_content)
                assert first._transport is None and not shared.closed
            assert shared.closed and current() is None
            with pytest.raises(RuntimeError, match="after their scope ended"):
                shared.transport(ssl.create_default_context())

    asyncio.run(go())


def test_concurrent_accounts_in_a_shared_scope_each_keep_their_own_bound() -> None:
    """Each client keeps at most its --concurrency calls in flight on the shared pool."""
    in_flight = 0
    most = 0

    async def slow(writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        await ok(b"{}")(writer)

    async def go() -> int:
        async with server(slow) as (url, seen):
            async with shared_connections():
                clients = [
                    HttpClient(service="Test", base_url=url, auth_hint="-", concurrency=2)
                    for _ in range(3)
                ]

                async def account(client: HttpClient) -> None:
                    async with client:
                        await asyncio.gather(
                            *(client.request("GET", f"/{i}", parse=_content) for i in range(6))
                        )

                await asyncio.gather(*(account(c) for c in clients))
            return seen.connections

    connections = asyncio.run(go())
    assert most == 6  # 3 accounts x 2 each, no more
    assert connections == 6


def test_an_httpx_transport_behind_the_seam_gets_what_httpx_would_send() -> None:
    """HttpxTransport builds the request from ``content=`` (httpx's Host and Content-Length,
    the body readable at once), with no timeouts of its own, and reads the answer whole."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert isinstance(request.content, bytes)
        return httpx.Response(201, headers={"Retry-After": "3"}, content=b"made")

    transport = as_transport(httpx.MockTransport(handler))
    assert isinstance(transport, HttpxTransport)
    assert as_transport(transport) is transport  # a Transport passes as it is

    async def go() -> Answer:
        try:
            return await send(transport, "PUT", "http://h.test/a%20b", {"X-A": "1"}, b"{}")
        finally:
            await transport.aclose()

    got = asyncio.run(go())
    assert (got.status, got.body, got.reason) == (201, b"made", "Created")
    assert got.headers["retry-after"] == "3"
    (request,) = seen
    expected = httpx.Request("PUT", "http://h.test/a%20b", headers={"X-A": "1"}, content=b"{}")
    assert request.headers.raw == expected.headers.raw
    assert request.url == expected.url
    assert request.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"))


def test_the_client_quotes_its_base_url_once_and_sends_paths_as_quoted() -> None:
    """The base URL (a user's endpoint) goes out quoted, as httpx would send it; the paths the
    API clients quoted go out untouched."""

    async def go() -> list[str]:
        async with server(ok(b"{}")) as (url, seen):
            client = HttpClient(service="Test", base_url=url + "/a b", auth_hint="-")
            async with client:
                await client.request("GET", "/svc%2Fone?x=%C3%A9", parse=_content)
            return [first for first, _ in seen.heads]

    assert asyncio.run(go()) == ["GET /a%20b/svc%2Fone?x=%C3%A9 HTTP/1.1"]


@pytest.mark.parametrize("given", [None, "httpx"], ids=["default transport", "httpx transport"])
def test_a_base_url_httpx_cannot_parse_fails_every_call_without_a_request(
    given: str | None,
) -> None:
    """The desired state refuses such an endpoint first (tests/cli/test_bad_input.py); a
    client given one anyway says so and sends nothing (aiohttp would drop the tab and call
    another URL)."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)

    client = HttpClient(
        service="Test",
        base_url="http://127.0.0.1:9/a\tb",
        auth_hint="-",
        transport=transport if given else None,
    )
    err = asyncio.run(_connection_error(client))
    # why (in parentheses) is httpx's to word, and its words differ between versions
    assert "the endpoint of Test is not a usable URL (" in err.message
    assert err.hint == "check the endpoint of Test in the desired state"
    assert sent == []


def test_a_header_that_is_not_utf8_reaches_a_message_printable() -> None:
    """aiohttp keeps such bytes as lone surrogates, which no UTF-8 output can write: the
    redirect's message shows them as U+FFFD instead."""

    async def raw_moved(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://x/caf\xe9\xff\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    async def go() -> ApiStatusError:
        async with server(raw_moved) as (url, _):
            client = HttpClient(service="Test", base_url=url, auth_hint="-")
            async with client:
                with pytest.raises(ApiStatusError) as info:
                    await client.request("GET", "/x", parse=_content)
                return info.value

    err = asyncio.run(go())
    assert "a redirect to http://x/caf\ufffd\ufffd" in err.message
    err.message.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize("path", ["/a b", "/caf\u00e9", "/a#b", "/a\r\nX-Evil: 1", "/a\tb"])
def test_a_path_the_caller_did_not_quote_is_refused_before_anything_is_sent(path: str) -> None:
    """Transports send a URL as they are given it (aiohttp would drop the CR LF and call
    another path): an unquoted path is a caller's bug, refused at once."""

    async def go() -> None:
        async with server(ok(b"{}")) as (url, seen):
            async with HttpClient(service="Test", base_url=url, auth_hint="-") as client:
                with pytest.raises(ValueError, match="is not quoted"):
                    await client.request("GET", path, parse=_content)
            assert seen.heads == []

    asyncio.run(go())


def test_a_garbled_body_behind_an_httpx_transport_is_a_read_error() -> None:
    """httpx raises DecodingError (not a transport error) for a gzip body it can't undo:
    HttpxTransport says it as AiohttpTransport does, a ReadError, the original as cause."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"x" * 20)

    async def go() -> Exception:
        transport = HttpxTransport(httpx.MockTransport(handler))
        with pytest.raises(Exception) as info:
            await send(transport, "GET", "http://h.test/x")
        return info.value

    err = asyncio.run(go())
    assert type(err) is httpx.ReadError
    assert isinstance(err.__cause__, httpx.DecodingError)
