"""The default :class:`~reconciler.clients.transport.Transport`: HTTP/1.1 on asyncio's
sockets, each response parsed by httptools (llhttp, the parser of Node.js), with a pool of
keep-alive connections.

Why not aiohttp, as before: a fleet's reads at 20 ms a call are bound by the client's CPU,
and aiohttp's request path (a session, a request and a response object, a URL object, header
multidicts, a stream, a payload writer, hooks for tracing, cookies and proxies; nothing of
which ``HttpClient`` uses) took about two fifths of it. Here a call is one write of bytes
built once and one future the parser resolves; the client's CPU per call fell by a fifth to
two fifths (docs/performance.md). What parses bytes from the network is llhttp, not our code.

What this transport does, and no more (``HttpClient`` owns the rest):

- **Connections** are pooled per origin (scheme, host, port), reused newest first while
  the server keeps them alive, and closed after ``keepalive_expiry`` seconds idle, when the
  server says ``Connection: close``, or when an exchange did not finish (a cancelled call
  never leaves half an answer on a pooled connection). ``max_connections`` bounds the
  connections in use at once (0: no bound).
- **A request** is sent as given (``url`` already quoted), with ``Host``,
  ``Accept-Encoding: gzip, deflate`` (unless given) and ``Content-Length`` (for a body, and
  for POST, PUT and PATCH without one); a header that could split the request (CR, LF, NUL)
  is refused before anything is sent.
- **An answer** is read whole: by ``Content-Length``, chunked, or until the server closes
  (HTTP/1.0's way: over plain HTTP only, and only when the server ends the connection in
  order; over TLS such an answer can't be told from one cut short, and is refused); 1xx
  interim answers are skipped; ``Content-Encoding`` gzip (every member) and deflate are
  undone, and bytes after the stream's end refused; a chunked body's trailers are dropped; a
  head over 64 KiB (one line, or all of it) or a protocol switch fails the call; bytes after
  the answer close the connection (the answer stands). Credentials in the URL
  (``user:password@``) go as HTTP Basic unless the request has its own ``Authorization``.
  Redirects are answered, not followed; cookies are not kept; proxies from the environment
  are not used.
- **A reused connection the server closed** while it sat idle (its keep-alive ran out as we
  sent) is the one failure retried here, once, on a new connection, and only for an
  idempotent method (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) with no byte of the answer received,
  and not once the pool is closing: what aiohttp, urllib3 and httpcore do too. A POST (a
  purchase) is never sent twice here.
- **Failures** are raised as httpx's exceptions, as every transport raises them, by two
  tables (:data:`CONNECT_ERRORS`, :data:`EXCHANGE_ERRORS`), the original as ``__cause__``.
- **Time** is bounded by the caller, around the whole exchange.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import time
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn, cast
from urllib.parse import unquote, urlsplit

import httptools
import httpx

from reconciler.clients.transport import Answer

# Failures while connecting (DNS, refused, unreachable, the TLS handshake): ssl.SSLError and
# socket.gaierror are OSErrors too.
CONNECT_ERRORS: dict[type[BaseException], type[httpx.TransportError]] = {
    OSError: httpx.ConnectError,
}


class ServerDisconnected(ConnectionError):
    """The server closed the connection before it answered."""


class AnswerCutShort(ConnectionError):
    """The server closed the connection in the middle of an answer."""


class NotHttp(Exception):
    """What the server sent can't be an HTTP/1.1 answer we can read (llhttp's words, or
    ours: headers too large, a protocol switch, an encoding we did not ask for)."""


class BodyUndecodable(Exception):
    """A body whose ``Content-Encoding`` (gzip, deflate) does not decode."""


class UnsupportedScheme(ValueError):
    """A URL neither ``http`` nor ``https``."""


# Failures once connected, by the most specific class listed (as httpx maps httpcore's).
EXCHANGE_ERRORS: dict[type[BaseException], type[httpx.TransportError]] = {
    OSError: httpx.ReadError,  # a reset, a broken pipe
    ServerDisconnected: httpx.RemoteProtocolError,
    AnswerCutShort: httpx.ReadError,
    NotHttp: httpx.RemoteProtocolError,
    httptools.HttpParserError: httpx.RemoteProtocolError,
    BodyUndecodable: httpx.ReadError,
}

# Methods safe to send again when a reused connection turned out closed (RFC 9110, 9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})
# Header bytes an answer may carry (llhttp sets no bound; Node's own is 16 KiB).
MAX_HEADER_BYTES = 64 * 1024
# Parsed URLs kept at most (a fleet's accounts use a few thousand).
_CACHE_LIMIT = 4096
_CRLF_NUL = frozenset("\r\n\0")
_UNFRAMED_OVER_TLS = (
    "the answer has no Content-Length and is not chunked: over TLS, an answer that ends only "
    "when the connection does can't be told from one cut short, so it is not read"
)


def mapped_exception(
    exc: BaseException, table: Mapping[type[BaseException], type[httpx.TransportError]]
) -> BaseException:
    """The httpx exception that stands for ``exc`` by ``table`` (the entry of the most
    specific listed class), or ``exc`` itself when no class of it is listed."""
    for cls in type(exc).__mro__:
        target = table.get(cls)
        if target is not None:
            return target(str(exc) or type(exc).__name__)
    return exc


def _raise_mapped(
    exc: BaseException, table: Mapping[type[BaseException], type[httpx.TransportError]]
) -> NoReturn:
    """Raise the httpx exception ``table`` maps ``exc`` to, ``exc`` as its cause; ``exc``
    itself when unlisted (a cancellation, a bug)."""
    mapped = mapped_exception(exc, table)
    if mapped is exc:
        raise exc
    raise mapped from exc


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """Python's default verification, its roots loaded once (50-150 ms each time)."""
    return ssl.create_default_context()


class Headers(Mapping[str, str]):
    """An answer's headers: names looked up case-insensitively; a name given twice has its
    values joined by ``, `` (RFC 9110, 5.3)."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items  # lower-cased names

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class _Target:
    """A URL taken apart once: where to connect, and the request's first lines."""

    __slots__ = ("authorization", "head", "host", "origin", "port", "tls")

    def __init__(self, method: str, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        # The URL is not quoted in these messages: it may carry a token or a password.
        if scheme not in ("http", "https"):
            raise UnsupportedScheme(f"the scheme {scheme or '(none)'!r} is not http or https")
        host = parts.hostname
        if not host:
            raise UnsupportedScheme("the URL names no host")
        self.tls = scheme == "https"
        default = 443 if self.tls else 80
        self.port = parts.port or default
        self.host = host
        self.origin = (scheme, host, self.port)
        where = f"[{host}]" if ":" in host else host
        if self.port != default:
            where = f"{where}:{self.port}"
        # Credentials in the URL go as HTTP Basic, as httpx and aiohttp send them, unless the
        # request carries its own Authorization (reconciler/clients/aculab.py does).
        self.authorization: str | None = None
        if parts.username is not None or parts.password is not None:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self.authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        _refuse_splitting("the method", method)
        _refuse_splitting("the URL", target)
        self.head = f"{method} {target} HTTP/1.1\r\nHost: {where}\r\n".encode()


def _refuse_splitting(what: str, text: str) -> None:
    """Refuse ``text`` (never quoted: it may be a credential) if it could end a line."""
    if not _CRLF_NUL.isdisjoint(text):
        raise ValueError(f"{what} would split an HTTP request (a CR, LF or NUL in it)")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time, its answer parsed as it arrives."""

    def __init__(self, *, tls: bool = False) -> None:
        self._tls = tls
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._eof = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._reset(head=False)

    def _reset(self, *, head: bool) -> None:
        self._head = head
        self._reason = b""
        self._headers: dict[str, str] = {}
        self._head_bytes = 0  # read in a row without a body byte (data_received)
        self._fed_body = False
        self._header_bytes = 0  # in the headers parsed
        self._body: list[bytes] = []
        self._answered = False  # a byte of this exchange's answer arrived
        self._headers_done = False
        self._complete = False
        self._keep_alive = False

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without deriving from it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._complete:
            # Bytes nobody asked for (after an answer, or on an idle connection): this
            # connection's framing can't be trusted again.
            self.close()
            return
        self._answered = True
        self._fed_body = False
        try:
            self._parser.feed_data(data)
            if not self._complete and not self._fed_body:
                # llhttp buffers a line until it ends, whatever its length: the bytes of the
                # head, and of chunked framing and trailers after it, are counted here as
                # they come, one long line included (a read with body bytes in it resets
                # the count: the framing of a body in tiny chunks is not a head).
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEADER_BYTES:
                    raise NotHttp(f"the answer's head exceeds {MAX_HEADER_BYTES} bytes")
            elif self._fed_body:
                self._head_bytes = 0
        except httptools.HttpParserUpgrade:
            self._fail(NotHttp("the server switched protocols"))
        except httptools.HttpParserCallbackError as exc:
            # one of ours stopped the parser (headers too large): ours is the reason
            inner = exc.__context__
            self._fail(inner if isinstance(inner, NotHttp) else exc)
        except (httptools.HttpParserError, NotHttp) as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        self._eof = True  # the server's orderly end (a FIN), not a reset
        return None  # close; connection_lost decides what the end means

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and self._until_close():
            if self._tls:
                # asyncio's TLS (and uvloop's) ends a connection cut without TLS's
                # close_notify as it ends a closed one: over TLS, an answer framed only by
                # the connection's end can't be told from one cut short (a truncation).
                self._fail(NotHttp(_UNFRAMED_OVER_TLS))
            elif self._eof and exc is None:
                # The body ran until the server ended the connection in order: HTTP/1.0's
                # framing. A reset may come mid-body.
                self._finish()
            else:
                self._fail(exc or AnswerCutShort("the connection was reset in mid-answer"))
        elif exc is not None and self._answered:
            self._fail(exc)
        elif self._answered:
            self._fail(AnswerCutShort("the server closed the connection in mid-answer"))
        else:
            self._fail(ServerDisconnected("the server closed the connection without answering"))

    # --- httptools' callbacks

    def on_message_begin(self) -> None:
        if self._complete:
            # A second answer in the same read as the first: nothing asked for it, and it
            # must not be read as the next call's (nor touch this one's headers). Stopping
            # the parser here closes the connection (data_received).
            raise NotHttp("the server sent more than its answer")

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)  # the lines that came in one read
        if self._header_bytes > MAX_HEADER_BYTES:
            raise NotHttp(f"the answer's head exceeds {MAX_HEADER_BYTES} bytes")
        if self._headers_done:
            return  # a chunked body's trailer: never merged into the headers (RFC 9110, 6.5.1)
        key = name.decode("latin-1").lower()
        text = value.decode("utf-8", "replace")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:
            return  # an interim answer: its message completes at once, without a body
        self._headers_done = True
        if self._head:
            # llhttp can't be told the request was HEAD, so it would wait for the body the
            # length announces: the answer ends here, and the connection with it.
            self._keep_alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._fed_body = True
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._headers_done:  # the end of an interim (1xx) answer: the real one follows
            self._reason = b""
            self._headers = {}
            self._header_bytes = 0
            return
        if self._complete:
            return
        self._keep_alive = self._parser.should_keep_alive()
        self._finish()

    # --- one exchange

    async def exchange(self, request: bytes, *, head: bool) -> Answer:
        assert self.transport is not None
        if self.lost:  # closed since it was picked: bytes came unasked, or it was dropped
            raise ServerDisconnected("the server closed the connection without answering")
        self._reset(head=head)
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.transport.write(request)
        try:
            return await waiter
        finally:
            self._waiter = None

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.lost

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    def _until_close(self) -> bool:
        """The answer has no length: its body runs until the server closes."""
        if "content-length" in self._headers:
            return False
        coding = self._headers.get("transfer-encoding", "")
        return "chunked" not in coding.lower()

    def _finish(self) -> None:
        self._complete = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            body = _decoded(b"".join(self._body), self._headers.get("content-encoding"))
        except (BodyUndecodable, NotHttp) as exc:
            self._keep_alive = False
            waiter.set_exception(exc)
            return
        waiter.set_result(
            Answer(
                self._parser.get_status_code(),
                Headers(self._headers),
                body,
                self._reason.decode("utf-8", "replace"),
            )
        )

    def _fail(self, exc: BaseException) -> None:
        self._keep_alive = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()


def _decoded(body: bytes, coding: str | None) -> bytes:
    """``body`` with its ``Content-Encoding`` undone (codings apply in order: undone last
    first)."""
    if not coding or not body:  # nothing to undo (a 204, a HEAD, an empty 201)
        return body
    for name in reversed([c.strip().lower() for c in coding.split(",")]):
        if name in ("", "identity"):
            continue
        if name in ("gzip", "x-gzip"):
            body = _inflate(body, 16 + zlib.MAX_WBITS)
        elif name == "deflate":
            # "deflate" is zlib's wrapper by the RFC, but some servers send it raw.
            try:
                body = _inflate(body, zlib.MAX_WBITS)
            except BodyUndecodable:
                body = _inflate(body, -zlib.MAX_WBITS)
        else:
            raise NotHttp(f"a body in {name!r}, which was not asked for (gzip, deflate)")
    return body


def _inflate(body: bytes, wbits: int) -> bytes:
    """``body`` inflated whole: every gzip member (RFC 1952 allows several), and nothing
    after the end of the stream (that would be a body read in part)."""
    out: list[bytes] = []
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            out.append(inflater.decompress(body) + inflater.flush())
        except zlib.error as exc:
            raise BodyUndecodable(f"the body does not decode: {exc}") from None
        if not inflater.eof:
            raise BodyUndecodable("the body does not decode: it is cut short")
        body = inflater.unused_data
        if not body:
            return b"".join(out)
        if wbits != 16 + zlib.MAX_WBITS:  # deflate is one stream
            raise BodyUndecodable("the body does not decode: bytes after its end")


class Http11Transport:
    """The default :class:`~reconciler.clients.transport.Transport` (module docstring):
    HTTP/1.1 with a pool of keep-alive connections, opened in the loop of the first call.

    ``ssl_context`` verifies HTTPS endpoints (``None``: Python's default verification);
    ``max_connections`` bounds the connections in use at once (0: no bound, for a pool shared
    by clients that each bound their own calls); idle connections close after
    ``keepalive_expiry`` seconds.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections) if max_connections > 0 else None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._targets: dict[tuple[str, str], _Target] = {}
        self._closed = False

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        try:
            target = self._target(method, url)
        except UnsupportedScheme as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        request = _request(target, method, headers, body)
        if self._slots is None:
            return await self._exchange(target, method, request)
        async with self._slots:
            return await self._exchange(target, method, request)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
        for connection in list(self._busy):
            connection.close()

    async def _exchange(self, target: _Target, method: str, request: bytes) -> Answer:
        head = method == "HEAD"
        while True:
            connection = self._reused(target.origin)
            fresh = connection is None
            if connection is None:
                connection = await self._connect(target)
            self._busy.add(connection)
            try:
                answer = await connection.exchange(request, head=head)
            except BaseException as exc:
                connection.close()  # cancelled or failed mid-exchange: never kept
                stale = isinstance(exc, ServerDisconnected) and not fresh
                if stale and method in _IDEMPOTENT and not self._closed:
                    # It went stale while idle, and so, likely, did the others kept for this
                    # origin: once more, on a new connection.
                    self._drop_idle(target.origin)
                    continue
                _raise_mapped(exc, EXCHANGE_ERRORS)
            finally:
                self._busy.discard(connection)
            if connection.reusable and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(target.origin, []).append(connection)
            else:
                connection.close()
            return answer

    def _drop_idle(self, origin: tuple[str, str, int]) -> None:
        for connection in self._idle.pop(origin, []):
            connection.close()

    def _reused(self, origin: tuple[str, str, int]) -> _Connection | None:
        """The newest idle connection to ``origin`` still open; the expired ones closed."""
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest = time.monotonic() - self._keepalive_expiry
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if connection.lost or transport is None or transport.is_closing():
                continue
            if connection.idle_since < oldest:
                connection.close()
                for stale in idle:  # older still
                    stale.close()
                idle.clear()
                return None
            return connection
        return None

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if target.tls:
            context = self._ssl_context or _default_tls_context()
            tls = {"ssl": context, "server_hostname": target.host}
        try:
            _, connection = await loop.create_connection(
                functools.partial(_Connection, tls=target.tls), target.host, target.port, **tls
            )
        except BaseException as exc:
            _raise_mapped(exc, CONNECT_ERRORS)
        return connection

    def _target(self, method: str, url: str) -> _Target:
        key = (method, url)
        target = self._targets.get(key)
        if target is None:
            if len(self._targets) >= _CACHE_LIMIT:
                self._targets.clear()
            target = self._targets[key] = _Target(method, url)
        return target


def _request(target: _Target, method: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request's bytes: its first lines, ``headers``, the framing, then ``body``."""
    lines = [target.head]
    given = set()
    for name, value in headers.items():
        _refuse_splitting("a header's name", name)
        _refuse_splitting(f"the value of header {name}", value)
        lines.append(f"{name}: {value}\r\n".encode())
        given.add(name.lower())
    if target.authorization is not None and "authorization" not in given:
        lines.append(f"Authorization: {target.authorization}\r\n".encode())
    if "accept-encoding" not in given:
        lines.append(b"Accept-Encoding: gzip, deflate\r\n")
    if body is not None or method in _BODY_EXPECTED:
        lines.append(b"Content-Length: %d\r\n" % len(body or b""))
    lines.append(b"\r\n")
    if body:
        lines.append(body)
    return b"".join(lines)
