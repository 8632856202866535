"""The transports (reconciler/clients/transport.py, reconciler/clients/http11.py) against a
raw HTTP server on 127.0.0.1: the default (Http11Transport) sends a request as given and
answers with the body whole and decoded however it is framed, follows no redirect, keeps no
cookie, keeps a connection only while it can be trusted, and raises every failure as the
httpx error that stands for it, the original as its cause; an httpx transport behind the same
seam sends what httpx would."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import socket
import ssl
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httptools
import httpx
import pytest

from reconciler.clients.connections import current, shared_connections
from reconciler.clients.http import HttpClient, Reply, RetryPolicy
from reconciler.clients.http11 import (
    CONNECT_ERRORS,
    EXCHANGE_ERRORS,
    AnswerCutShort,
    BodyUndecodable,
    Http11Transport,
    NotHttp,
    ServerDisconnected,
    UnsupportedScheme,
    mapped_exception,
)
from reconciler.clients.transport import Answer, HttpxTransport, Transport, as_transport
from reconciler.errors import ApiConnectionError, ApiStatusError

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
T = TypeVar("T")


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


@dataclass
class Slow:
    """An answer that takes ``seconds``, counting the requests it holds at once."""

    seconds: float
    now: int = 0
    most: int = 0

    async def __call__(self, writer: asyncio.StreamWriter) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(self.seconds)
        self.now -= 1
        await ok(b"{}")(writer)


@asynccontextmanager
async def server(
    *answers: Script, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, Seen]]:
    """A server on 127.0.0.1 that gives ``answers`` in turn (the last repeats); behind TLS
    with ``tls`` (its URL then names localhost)."""
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
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}", seen
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
            transport = Http11Transport()
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
            transport = Http11Transport()
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
            transport = Http11Transport()
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
    transport = Http11Transport()
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
        (None, httpx.ConnectError, ConnectionRefusedError),
        (_close, httpx.RemoteProtocolError, ServerDisconnected),
        (
            answer("200 OK", [("Content-Length", "100")], b"cut", close=True),
            httpx.ReadError,
            AnswerCutShort,
        ),
        (
            answer("200 OK", [("Transfer-Encoding", "chunked")], b"5\r\nab", close=True),
            httpx.ReadError,
            AnswerCutShort,
        ),
        (
            answer("not HTTP at all", [], b"", close=True),
            httpx.RemoteProtocolError,
            httptools.HttpParserError,
        ),
        (
            answer("200 OK", [("Content-Length", "20"), ("Content-Encoding", "gzip")], b"x" * 20),
            httpx.ReadError,
            BodyUndecodable,
        ),
        (
            answer("200 OK", [("Content-Length", "2"), ("Content-Encoding", "br")], b"xx"),
            httpx.RemoteProtocolError,
            NotHttp,
        ),
        (
            answer("200 OK", [("X-Big", "x" * 70_000), ("Content-Length", "0")], b""),
            httpx.RemoteProtocolError,
            NotHttp,
        ),
        (
            answer("101 Switching Protocols", [("Upgrade", "h2c"), ("Connection", "upgrade")], b""),
            httpx.RemoteProtocolError,
            NotHttp,
        ),
    ],
    ids=[
        "refused",
        "dropped",
        "cut short",
        "chunks cut short",
        "not HTTP",
        "garbled gzip",
        "unasked encoding",
        "huge headers",
        "switched protocol",
    ],
)
@pytest.mark.usefixtures("each_loop")
def test_failures_become_httpx_errors_with_the_original_as_cause(
    answer_: Script | None, expected: type[Exception], cause: type[Exception]
) -> None:
    err = run(_fail(answer_))
    assert type(err) is expected
    assert isinstance(err.__cause__, cause)
    assert isinstance(err, httpx.TransportError)


def test_a_url_neither_http_nor_https_is_an_unsupported_protocol() -> None:
    async def go() -> Exception:
        transport = Http11Transport()
        try:
            with pytest.raises(Exception) as info:
                await send(transport, "GET", "ftp://127.0.0.1/x")
            return info.value
        finally:
            await transport.aclose()

    err = asyncio.run(go())
    assert isinstance(err, httpx.UnsupportedProtocol)
    assert isinstance(err.__cause__, UnsupportedScheme)


def test_the_most_specific_listed_class_decides() -> None:
    # ServerDisconnected is a ConnectionError, an OSError (a read error) too
    err = mapped_exception(ServerDisconnected("gone"), EXCHANGE_ERRORS)
    assert type(err) is httpx.RemoteProtocolError
    assert str(err) == "gone"
    assert type(mapped_exception(ConnectionResetError(), EXCHANGE_ERRORS)) is httpx.ReadError
    assert type(mapped_exception(ConnectionResetError(), CONNECT_ERRORS)) is httpx.ConnectError
    # every entry maps to an httpx transport error; what is not listed passes unchanged
    for table in (CONNECT_ERRORS, EXCHANGE_ERRORS):
        assert all(issubclass(target, httpx.TransportError) for target in table.values())
    plain = ValueError("x")
    assert mapped_exception(plain, EXCHANGE_ERRORS) is plain


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
    assert "failed (ServerDisconnected): the server closed the connection" in err.message


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
    slow = Slow(0.02)

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
    assert slow.most == 6  # 3 accounts x 2 each, no more
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
    client given one anyway says so and sends nothing (a transport sends what it is given)."""
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
    """Such bytes can't reach a UTF-8 output as they are (aiohttp kept them as lone
    surrogates): the redirect's message shows them as U+FFFD instead."""

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
    """Transports send a URL as they are given it: an unquoted path is a caller's bug,
    refused at once."""

    async def go() -> None:
        async with server(ok(b"{}")) as (url, seen):
            async with HttpClient(service="Test", base_url=url, auth_hint="-") as client:
                with pytest.raises(ValueError, match="is not quoted"):
                    await client.request("GET", path, parse=_content)
            assert seen.heads == []

    asyncio.run(go())


def test_a_garbled_body_behind_an_httpx_transport_is_a_read_error() -> None:
    """httpx raises DecodingError (not a transport error) for a gzip body it can't undo:
    HttpxTransport says it as Http11Transport does, a ReadError, the original as cause."""

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


# --------------------------------------------------------------------------- Http11Transport

# The commands run on uvloop's loop where it is installed (reconciler/eventloop.py), tests on
# asyncio's: the transport's own cases run on both (each loop has its own transports, TLS and
# order of callbacks).
_LOOP: list[str] = ["asyncio"]


@pytest.fixture(params=["asyncio", "uvloop"])
def each_loop(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    _LOOP[0] = request.param
    yield request.param
    _LOOP[0] = "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`each_loop` chose."""
    if _LOOP[0] == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


async def _exchanges(
    transport: Http11Transport, url: str, count: int, method: str = "GET"
) -> list[Answer]:
    """``count`` calls in turn, then the transport closed."""
    try:
        return [await send(transport, method, url + "/x") for _ in range(count)]
    finally:
        await transport.aclose()


@pytest.mark.parametrize(
    ("script", "body", "connections"),
    [
        (ok(b"kept"), b"kept", 1),
        (
            answer(
                "200 OK", [("Transfer-Encoding", "chunked")], b"2\r\nch\r\n3\r\nunk\r\n0\r\n\r\n"
            ),
            b"chunk",
            1,
        ),
        (answer("200 OK", [], b"until the end", close=True), b"until the end", 2),
        (answer("200 OK", [("Content-Length", "3"), ("Connection", "close")], b"bye"), b"bye", 2),
        (answer("204 No Content", [], b""), b"", 1),
        (
            answer(
                "103 Early Hints",
                [("Link", "</a>")],
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
            b"ok",
            1,
        ),
        # bytes after the answer: the framing of this connection can't be trusted again
        (answer("200 OK", [("Content-Length", "2")], b"okGARBAGE"), b"ok", 2),
    ],
    ids=[
        "length",
        "chunked",
        "until close",
        "connection close",
        "no content",
        "interim 1xx",
        "trailing bytes",
    ],
)
@pytest.mark.usefixtures("each_loop")
def test_every_framing_comes_whole_and_a_connection_is_kept_only_when_it_can_be(
    script: Script, body: bytes, connections: int
) -> None:
    async def go() -> tuple[list[Answer], Seen]:
        async with server(script) as (url, seen):
            answers = await _exchanges(Http11Transport(), url, 2)
            return answers, seen

    answers, seen = run(go())
    assert [a.body for a in answers] == [body, body]
    assert answers[0].status in (200, 204)
    assert seen.connections == connections


@pytest.mark.usefixtures("each_loop")
def test_a_name_given_twice_keeps_both_values() -> None:
    script = ok(b"", ("Vary", "a"), ("vary", "b"))

    async def go() -> list[Answer]:
        async with server(script) as (url, _):
            return await _exchanges(Http11Transport(), url, 1)

    (got,) = run(go())
    assert got.headers["VARY"] == "a, b"
    assert "Vary" in got.headers and "nope" not in got.headers
    assert dict(got.headers) == {"content-length": "0", "vary": "a, b"}


@pytest.mark.usefixtures("each_loop")
def test_a_head_answer_ends_with_its_headers() -> None:
    """llhttp can't be told the request was HEAD: the length announced must not be waited
    for, and the connection is not kept."""

    async def go() -> tuple[list[Answer], Seen]:
        async with server(answer("200 OK", [("Content-Length", "5")], b"")) as (url, seen):
            answers = await asyncio.wait_for(
                _exchanges(Http11Transport(), url, 2, method="HEAD"), 5
            )
            return answers, seen

    answers, seen = run(go())
    assert [(a.status, a.body) for a in answers] == [(200, b"")] * 2
    assert seen.connections == 2


@pytest.mark.usefixtures("each_loop")
def test_an_idle_connection_is_closed_after_its_keepalive() -> None:
    async def go() -> Seen:
        async with server(ok(b"{}")) as (url, seen):
            await _exchanges(Http11Transport(keepalive_expiry=0), url, 3)
            return seen

    assert run(go()).connections == 3


async def _per_connection_server(
    on_second: str,
) -> tuple[asyncio.Server, str, Seen]:
    """Answers each connection's first request; on its second, ``on_second``: "close" (its
    keep-alive ran out as the request came) or "ok"."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        for index in range(2):
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            first, *lines = head.decode().split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            seen.heads.append((first, headers))
            await reader.readexactly(int(headers.get("content-length", 0)))
            if index == 1 and on_second == "close":
                break
            await ok(b"{}")(writer)
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}", seen


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.usefixtures("each_loop")
def test_an_idempotent_call_on_a_connection_gone_stale_is_sent_once_more(method: str) -> None:
    async def go() -> tuple[list[Answer], Seen]:
        srv, url, seen = await _per_connection_server("close")
        try:
            return await _exchanges(Http11Transport(), url, 2, method=method), seen
        finally:
            srv.close()

    answers, seen = run(go())
    assert [a.status for a in answers] == [200, 200]
    assert seen.connections == 2
    assert [first.split()[0] for first, _ in seen.heads] == [method] * 3


@pytest.mark.usefixtures("each_loop")
def test_a_post_on_a_connection_gone_stale_is_never_sent_again() -> None:
    """A POST may be a purchase: whether it was made is for HttpClient to say (outcome
    unknown), never for the transport to find out by buying again."""

    async def go() -> tuple[Exception, Seen]:
        srv, url, seen = await _per_connection_server("close")
        transport = Http11Transport()
        try:
            await send(transport, "POST", url + "/buy", body=b"n=1")
            with pytest.raises(Exception) as info:
                await send(transport, "POST", url + "/buy", body=b"n=1")
            return info.value, seen
        finally:
            await transport.aclose()
            srv.close()

    err, seen = run(go())
    assert type(err) is httpx.RemoteProtocolError
    assert isinstance(err.__cause__, ServerDisconnected)
    assert len(seen.heads) == 2 and seen.connections == 1


@pytest.mark.usefixtures("each_loop")
def test_a_call_cancelled_midway_never_leaves_its_connection_in_the_pool() -> None:
    """The late answer to a cancelled call must not be read as the next call's."""
    replies = iter([b'"late"', b'"next"'])

    async def late_then_prompt(writer: asyncio.StreamWriter) -> None:
        body = next(replies)
        if body == b'"late"':
            await asyncio.sleep(0.3)
        await ok(body)(writer)

    async def go() -> tuple[Answer, Seen]:
        async with server(late_then_prompt) as (url, seen):
            transport = Http11Transport()
            try:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(send(transport, "GET", url + "/x"), 0.05)
                return await send(transport, "GET", url + "/x"), seen
            finally:
                await transport.aclose()

    got, seen = run(go())
    assert got.body == b'"next"'
    assert seen.connections == 2


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "a\r\nX-Evil: 1"}, {"X-A\r\nX-Evil": "1"}, {"X-A": "a\nb"}, {"X-A": "a\0"}],
    ids=["value CRLF", "name CRLF", "value LF", "value NUL"],
)
@pytest.mark.usefixtures("each_loop")
def test_a_header_that_would_split_the_request_is_refused_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    async def go() -> Seen:
        async with server(ok(b"{}")) as (url, seen):
            transport = Http11Transport()
            try:
                with pytest.raises(ValueError, match="would split an HTTP request"):
                    await send(transport, "GET", url + "/x", headers)
            finally:
                await transport.aclose()
            return seen

    seen = run(go())
    assert seen.connections == 0 and seen.heads == []


@pytest.mark.usefixtures("each_loop")
def test_max_connections_bounds_the_calls_in_flight() -> None:
    slow = Slow(0.01)

    async def go() -> Seen:
        async with server(slow) as (url, seen):
            transport = Http11Transport(max_connections=2)
            try:
                await asyncio.gather(*(send(transport, "GET", f"{url}/{i}") for i in range(6)))
            finally:
                await transport.aclose()
            return seen

    seen = run(go())
    assert slow.most == 2 and seen.connections == 2 and len(seen.heads) == 6


@pytest.mark.usefixtures("each_loop")
def test_a_post_without_a_body_says_its_length_and_accept_encoding_is_ours_unless_given() -> None:
    async def go() -> Seen:
        async with server(ok(b"{}")) as (url, seen):
            transport = Http11Transport()
            try:
                await send(transport, "POST", url + "/a")
                await send(transport, "GET", url + "/b", {"Accept-Encoding": "identity"})
            finally:
                await transport.aclose()
            return seen

    (_, post), (_, get) = run(go()).heads
    assert post["content-length"] == "0" and post["accept-encoding"] == "gzip, deflate"
    assert "content-length" not in get and get["accept-encoding"] == "identity"


@asynccontextmanager
async def tls_server(ca: Any) -> AsyncIterator[tuple[str, Seen]]:
    """The raw server behind TLS, its certificate for 127.0.0.1 and localhost signed by
    ``ca`` (a trustme CA)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    async with server(ok(b'{"tls": true}'), tls=context) as (url, seen):
        yield url, seen


@pytest.mark.usefixtures("each_loop")
def test_https_is_verified_against_the_context_given() -> None:
    """Trusted: answered over one kept connection, Host and SNI the URL's host. Not trusted
    (Python's default roots, which never signed this CA): a connect error, nothing sent."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    hosts: list[str] = []

    async def go(context: ssl.SSLContext | None) -> tuple[list[Answer] | Exception, Seen]:
        async with tls_server(ca) as (url, seen):
            hosts.append(url.removeprefix("https://"))
            transport = Http11Transport(ssl_context=context)
            try:
                return [await send(transport, "GET", url + "/x") for _ in range(2)], seen
            except httpx.TransportError as exc:
                return exc, seen
            finally:
                await transport.aclose()

    answers, seen = run(go(trusting))
    assert isinstance(answers, list)
    assert [a.body for a in answers] == [b'{"tls": true}'] * 2
    assert seen.connections == 1
    assert seen.heads[0][1]["host"] == hosts[0]  # localhost:PORT

    refused, seen = run(go(None))  # nothing trusted
    assert type(refused) is httpx.ConnectError
    assert isinstance(refused.__cause__, ssl.SSLCertVerificationError)
    assert seen.heads == []


@pytest.mark.usefixtures("each_loop")
def test_a_server_that_speaks_first_fails_the_call_at_once() -> None:
    """Bytes before any request (another protocol's banner): a protocol error, not a call
    left waiting for an answer that can't come."""

    async def go() -> Exception:
        async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 mail.example ESMTP ready\r\n")
            await writer.drain()
            with contextlib.suppress(ConnectionError):
                await reader.read()
            writer.close()

        srv = await asyncio.start_server(banner, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
        transport = Http11Transport()
        try:
            await asyncio.sleep(0)
            with pytest.raises(Exception) as info:
                await asyncio.wait_for(send(transport, "GET", url + "/x"), 5)
            return info.value
        finally:
            await transport.aclose()
            srv.close()

    err = run(go())
    assert isinstance(err, httpx.RemoteProtocolError)


@pytest.mark.usefixtures("each_loop")
def test_a_second_answer_in_the_same_read_touches_neither_this_call_nor_the_next() -> None:
    """Bytes after the answer, in the same packet, that parse as an answer of their own: the
    answer delivered keeps its own headers, and the next call gets the server's answer to
    it, on a new connection."""
    forged = b"HTTP/1.1 503 Forged\r\nContent-Length: 0\r\nX-Forged: 1\r\n\r\n"
    script = answer("200 OK", [("Content-Length", "2")], b"ok" + forged)

    async def go() -> tuple[list[Answer], Seen]:
        async with server(script) as (url, seen):
            return await _exchanges(Http11Transport(), url, 2), seen

    answers, seen = run(go())
    assert [(a.status, a.body) for a in answers] == [(200, b"ok")] * 2
    assert dict(answers[0].headers) == {"content-length": "2"}
    assert seen.connections == 2


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified", "201 Created"])
@pytest.mark.usefixtures("each_loop")
def test_an_empty_body_marked_gzip_is_empty_not_undecodable(status: str) -> None:
    script = answer(status, [("Content-Encoding", "gzip"), ("Content-Length", "0")], b"")

    async def go() -> list[Answer]:
        async with server(script) as (url, _):
            return await _exchanges(Http11Transport(), url, 1, method="POST")

    (got,) = run(go())
    assert got.body == b""


async def _reset(writer: asyncio.StreamWriter) -> None:
    """Half an answer framed only by the connection's end, then a reset (not a FIN)."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n200: OK\nnumber: 4411")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.usefixtures("each_loop")
def test_an_answer_framed_by_the_connections_end_is_not_whole_after_a_reset() -> None:
    err = run(_fail(_reset))
    assert type(err) is httpx.ReadError
    assert isinstance(err.__cause__, ConnectionResetError)


@pytest.mark.usefixtures("each_loop")
def test_aclose_never_sends_a_call_in_flight_again() -> None:
    """Closing the pool drops its connections in use: a call in flight fails, and is not
    taken for a stale connection and sent once more."""

    async def go() -> tuple[Exception, Seen]:
        async def never(writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(5)

        async with server(ok(b"{}"), never) as (url, seen):
            transport = Http11Transport()
            await send(transport, "GET", url + "/first")
            call = asyncio.ensure_future(send(transport, "DELETE", url + "/numbers/1"))
            while len(seen.heads) < 2:
                await asyncio.sleep(0.01)
            await transport.aclose()
            with pytest.raises(Exception) as info:
                await asyncio.wait_for(call, 5)
            await asyncio.sleep(0.1)
            return info.value, seen

    err, seen = run(go())
    assert isinstance(err, httpx.RemoteProtocolError)
    assert [first.split()[0] for first, _ in seen.heads] == ["GET", "DELETE"]


@pytest.mark.usefixtures("each_loop")
def test_over_tls_an_answer_framed_only_by_the_connections_end_is_refused() -> None:
    """asyncio can't tell TLS's close_notify from a connection cut without one: such an
    answer over TLS could be a truncation, and is not read (over plain HTTP, a FIN ends it:
    test_every_framing_comes_whole_and_a_connection_is_kept_only_when_it_can_be)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)

    # closed in order, with close_notify: refused all the same
    unframed = answer("200 OK", [("Content-Type", "text/plain")], b"200: OK\n", close=True)

    async def go() -> Exception:
        async with server(unframed, tls=context) as (url, _):
            transport = Http11Transport(ssl_context=trusting)
            try:
                with pytest.raises(Exception) as info:
                    await asyncio.wait_for(send(transport, "GET", url + "/x"), 5)
                return info.value
            finally:
                await transport.aclose()

    err = run(go())
    assert type(err) is httpx.RemoteProtocolError
    assert isinstance(err.__cause__, NotHttp)
    assert "can't be told from one cut short" in str(err)


@pytest.mark.usefixtures("each_loop")
def test_credentials_in_the_url_go_as_basic_unless_the_call_has_its_own() -> None:
    """As httpx and aiohttp send them (an endpoint behind a relay that wants them);
    ``aculab.endpoint`` refuses them in the desired state, ``aql.endpoint`` may hold them."""

    async def go() -> Seen:
        async with server(ok(b"{}")) as (url, seen):
            with_user = url.replace("http://", "http://gw%20user:p%40ss@")
            transport = Http11Transport()
            try:
                await send(transport, "POST", with_user + "/sms", body=b"x=1")
                await send(transport, "POST", with_user + "/sms", {"Authorization": "Basic own"})
            finally:
                await transport.aclose()
            return seen

    (_, first), (_, second) = run(go()).heads
    assert first["authorization"] == "Basic " + base64.b64encode(b"gw user:p@ss").decode()
    assert second["authorization"] == "Basic own"


@pytest.mark.usefixtures("each_loop")
def test_a_chunked_bodys_trailers_are_not_headers() -> None:
    chunks = b"2\r\nok\r\n0\r\nRetry-After: 9999\r\nLocation: /x\r\n\r\n"
    script = answer("200 OK", [("Transfer-Encoding", "chunked")], chunks)

    async def go() -> list[Answer]:
        async with server(script) as (url, _):
            return await _exchanges(Http11Transport(), url, 2)

    answers = run(go())
    assert [a.body for a in answers] == [b"ok", b"ok"]
    assert dict(answers[0].headers) == {"transfer-encoding": "chunked"}


def _endless(head: bytes) -> Script:
    """``head``, then a line that never ends, 16 KiB a write, until the client goes."""

    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        with contextlib.suppress(ConnectionError):
            for _ in range(4096):  # 64 MiB at most
                writer.write(b"a" * 16384)
                await writer.drain()
                await asyncio.sleep(0)

    return write


@pytest.mark.usefixtures("each_loop")
@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-Long: ",
        b"HTTP/1.1 200 ",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: ",
    ],
    ids=["header line", "status line", "trailer line"],
)
def test_a_line_that_never_ends_fails_the_call_at_64_kib_not_at_its_timeout(head: bytes) -> None:
    """llhttp buffers a line until it ends: the transport counts the bytes as they come."""
    err = run(_fail_within(_endless(head), 5))
    assert type(err) is httpx.RemoteProtocolError
    assert isinstance(err.__cause__, NotHttp)
    assert "exceeds 65536 bytes" in str(err)


async def _fail_within(answer_: Script, seconds: float) -> Exception:
    async with server(answer_) as (url, _):
        transport = Http11Transport()
        try:
            with pytest.raises(Exception) as info:
                await asyncio.wait_for(send(transport, "GET", url + "/x"), seconds)
            return info.value
        finally:
            await transport.aclose()


@pytest.mark.usefixtures("each_loop")
def test_every_gzip_member_is_read_and_nothing_after_the_stream_is_dropped() -> None:
    members = gzip.compress(b'{"a": ') + gzip.compress(b"1}")
    joined = ok(members, ("Content-Encoding", "gzip"))
    junk = gzip.compress(b"{}") + b"JUNK"
    trailing = ok(junk, ("Content-Encoding", "gzip"))

    async def go() -> list[Answer]:
        async with server(joined) as (url, _):
            return await _exchanges(Http11Transport(), url, 1)

    (got,) = run(go())
    assert got.body == b'{"a": 1}'
    err = run(_fail(trailing))
    assert type(err) is httpx.ReadError
    assert isinstance(err.__cause__, BodyUndecodable)


def test_refusals_never_quote_a_header_value_or_a_url() -> None:
    """Either may carry a credential."""

    async def go() -> list[Exception]:
        transport = Http11Transport()
        errors: list[Exception] = []
        try:
            for url, headers in [
                ("http://127.0.0.1:9/x", {"Authorization": "Bearer s3cr3t\r\nX: 1"}),
                ("ftp://user:pw0rd@h.example/p?token=t0k3n", {}),
            ]:
                with pytest.raises(Exception) as info:
                    await send(transport, "GET", url, headers)
                errors.append(info.value)
        finally:
            await transport.aclose()
        return errors

    split, scheme = asyncio.run(go())
    assert isinstance(split, ValueError) and "Authorization" in str(split)
    assert isinstance(scheme, httpx.UnsupportedProtocol) and "'ftp'" in str(scheme)
    for err in (split, scheme):
        for secret in ("s3cr3t", "pw0rd", "t0k3n", "user"):
            assert secret not in str(err)
