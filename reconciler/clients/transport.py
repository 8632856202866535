"""The seam under :class:`~reconciler.clients.http.HttpClient`: :class:`Transport`, one HTTP
exchange read whole, and its two implementations.

- :class:`AiohttpTransport`, the default: aiohttp moves the bytes, at a fraction of the CPU of
  httpx's own transport, and nothing else is built per call (docs/performance.md).
- :class:`HttpxTransport`: any ``httpx.AsyncBaseTransport`` behind the same seam (tests pass
  ``httpx.MockTransport`` or ``httpx.ASGITransport``; ``reconciler doctor`` records calls
  through httpx's own transport). :func:`as_transport` wraps one when a client is given it.

The seam is small on purpose: ``exchange(method, url, headers, body)`` takes a URL already
quoted and a ready body, and returns an :class:`Answer`: the status, the headers
(case-insensitive) and the body, whole and decoded. Why not httpx's ``Request`` and
``Response`` at the seam, as before: building them (a URL parsed and quoted, headers
normalised, a body wrapped in a stream and decoded through a chain) took a seventh of a
fleet's client CPU, for nothing that aiohttp needs (docs/performance.md).

Errors keep httpx's tree: a transport raises the ``httpx.TransportError`` that stands for the
failure, the original as its ``__cause__``, which is what ``HttpClient`` words its messages
from. A transport bounds nothing in time: ``HttpClient`` bounds each whole exchange.

What :class:`AiohttpTransport` does not do, as ``HttpClient`` expects: follow redirects (a
credential must not follow one elsewhere), keep cookies (none of the APIs uses them), or use a
proxy from the environment. It decodes ``Content-Encoding`` (gzip, deflate) as httpx did.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx
from yarl import URL

# aiohttp's errors as httpx's, in one table (as httpx maps httpcore's): the most specific class
# of an exception that is listed decides, and the original stays as ``__cause__`` (HttpClient
# words its message from the original, see HttpClient._connection_error).
EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    aiohttp.ClientError: httpx.TransportError,
    aiohttp.ClientConnectionError: httpx.NetworkError,  # a reset, a broken pipe
    aiohttp.ClientConnectorError: httpx.ConnectError,  # DNS, refused, TLS handshake
    aiohttp.ServerDisconnectedError: httpx.RemoteProtocolError,  # closed before answering
    aiohttp.ServerTimeoutError: httpx.ReadTimeout,
    aiohttp.ConnectionTimeoutError: httpx.ConnectTimeout,
    aiohttp.SocketTimeoutError: httpx.ReadTimeout,
    aiohttp.ClientResponseError: httpx.RemoteProtocolError,  # not a valid HTTP response
    aiohttp.ClientPayloadError: httpx.ReadError,  # a body cut short or garbled
    aiohttp.NonHttpUrlClientError: httpx.UnsupportedProtocol,  # not an http(s) URL
    aiohttp.InvalidURL: httpx.UnsupportedProtocol,  # not a URL aiohttp can use
}

# Parsed URLs kept at most (a fleet's accounts use a few thousand URLs).
_CACHE_LIMIT = 4096

# Requests carry no timeouts of their own: HttpClient bounds the whole exchange (connecting,
# waiting, reading) at the call's timeout, which per-read timeouts, restarting with every
# byte, never could; a transport's per-socket timers on top only cost CPU
# (docs/performance.md). httpx's transports read these from the request's extensions.
_NO_TIMEOUTS: dict[str, Any] = {
    "timeout": {"connect": None, "read": None, "write": None, "pool": None}
}


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read whole: ``headers`` look names up case-insensitively, ``body`` is
    decoded (no ``Content-Encoding`` left to undo)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    reason: str = ""


class Transport(Protocol):
    """The seam under ``HttpClient`` (an extension point): one exchange, read whole.

    ``url`` is absolute and already quoted (sent as it is); ``headers`` are the request's own
    (a transport adds ``Host`` and ``Content-Length``); ``body`` is the whole body, or None.
    Redirects are answered, not followed. The answer's headers must look names up
    case-insensitively (``HttpClient`` asks for ``retry-after`` and ``location``), as
    aiohttp's and httpx's do. A failure to exchange raises the ``httpx.TransportError`` that
    stands for it, the original as ``__cause__``.
    """

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


def mapped_exception(exc: Exception, request: httpx.Request | None = None) -> Exception:
    """The httpx exception that stands for aiohttp's ``exc`` (``exc`` itself when it is not
    aiohttp's): the entry of :data:`EXCEPTIONS` for its most specific listed class."""
    for cls in type(exc).__mro__:
        target = EXCEPTIONS.get(cls)
        if target is not None:
            return target(str(exc), request=request)
    return exc


def as_transport(given: Transport | httpx.AsyncBaseTransport) -> Transport:
    """``given`` at the seam: an httpx transport wrapped in :class:`HttpxTransport`."""
    if isinstance(given, httpx.AsyncBaseTransport):
        return HttpxTransport(given)
    return given


class HttpxTransport:
    """Any ``httpx.AsyncBaseTransport`` as a :class:`Transport`: each exchange is an
    ``httpx.Request`` built from ``content=`` (so httpx adds ``Host`` and
    ``Content-Length`` as it always does, and a transport may read ``request.content`` at
    once), with no timeouts of its own; the response is read whole and closed."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        request = httpx.Request(method, url, headers=headers, content=body, extensions=_NO_TIMEOUTS)
        try:
            response = await self.inner.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except httpx.DecodingError as exc:  # a garbled gzip body (a transport may read it
            # already): said as AiohttpTransport says it
            raise httpx.ReadError(str(exc), request=request) from exc
        return Answer(response.status_code, response.headers, content, response.reason_phrase)

    async def aclose(self) -> None:
        await self.inner.aclose()


class AiohttpTransport:
    """The default :class:`Transport`: one aiohttp session, opened on the first call.

    ``ssl_context`` verifies HTTPS endpoints (``None``: aiohttp's default verification);
    ``max_connections`` bounds the pooled keep-alive connections (0: no bound, for a pool
    shared by clients that each bound their own calls), which stay open
    ``keepalive_expiry`` seconds when idle. No per-socket timers: the caller bounds each
    exchange whole.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Opened in the running loop (aiohttp binds a session to the loop that creates it).
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._ssl_context if self._ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self._session

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        session = self._session or self._open()
        try:
            response = await session.request(
                method, self._url(url), headers=headers, data=body, allow_redirects=False
            )
            try:
                content = await response.read()
            finally:
                response.release()
        except aiohttp.ClientError as exc:
            raise mapped_exception(exc) from exc
        return Answer(response.status, response.headers, content, response.reason or "")

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _url(self, text: str) -> URL:
        """``text`` as aiohttp's URL, parsed once per distinct URL (the aql gateway and the
        lists are called over and over)."""
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) >= _CACHE_LIMIT:
                self._urls.clear()
            # Quoted already (HttpClient's paths, a base URL normalised once): sent as it is.
            parsed = self._urls[text] = URL(text, encoded=True)
        return parsed
