"""The default transport of :class:`~reconciler.clients.http.HttpClient`: httpx's transport
interface over one aiohttp ``ClientSession``.

httpx stays the seam (``httpx.Request`` in, ``httpx.Response`` out: any
``httpx.AsyncBaseTransport`` can replace this one, and tests pass ``httpx.MockTransport``);
aiohttp moves the bytes, at a fraction of the CPU of httpx's own transport
(docs/performance.md). The transport is lean on purpose: it reads each body whole inside the
exchange (``HttpClient`` reads every body whole anyway), hands it to httpx as ``content``
rather than as a stream of chunks, and keeps the per-call objects that don't change (the
parsed URL, the ``ClientTimeout``) from one call to the next.

What it does not do, as ``HttpClient`` expects: follow redirects (a credential must not follow
one elsewhere), keep cookies (none of the APIs uses them), decompress bodies (httpx decodes
``Content-Encoding`` when it builds the response, as it would with its own transport), or use
a proxy from the environment.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
from multidict import CIMultiDict, CIMultiDictProxy
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

# Parsed URLs and header sets kept at most (a fleet's accounts use a few thousand URLs).
_CACHE_LIMIT = 4096


def mapped_exception(exc: Exception, request: httpx.Request | None = None) -> Exception:
    """The httpx exception that stands for aiohttp's ``exc`` (``exc`` itself when it is not
    aiohttp's): the entry of :data:`EXCEPTIONS` for its most specific listed class."""
    for cls in type(exc).__mro__:
        target = EXCEPTIONS.get(cls)
        if target is not None:
            return target(str(exc), request=request)
    return exc


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over one aiohttp session, opened on the first call.

    ``ssl_context`` verifies HTTPS endpoints (``None``: aiohttp's default verification);
    ``max_connections`` bounds the pooled keep-alive connections (0: no bound, for a pool
    shared by clients that each bound their own calls), which stay open
    ``keepalive_expiry`` seconds when idle. A request's ``timeout`` extension (httpx's
    ``connect``/``read``/``pool``) becomes aiohttp's per-socket timeouts, as
    ``httpx-aiohttp`` mapped them; redirects are answered, not followed.
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
        self._headers: dict[tuple[tuple[bytes, bytes], ...], CIMultiDictProxy[str]] = {}
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

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
            auto_decompress=False,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        # A ready body (HttpClient's) comes at once; a streamed one is read whole first.
        data = await request.aread() or None
        try:
            response = await session.request(
                request.method,
                self._url(request.url),
                headers=self._headers_of(request.headers),
                data=data,
                allow_redirects=False,
                timeout=self._timeout(request.extensions.get("timeout")),
            )
            try:
                body = await response.read()
            finally:
                response.release()
        except aiohttp.ClientError as exc:
            raise mapped_exception(exc, request) from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=body,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # Each of the three below turns an httpx value into aiohttp's, once per distinct value.

    def _url(self, url: httpx.URL) -> URL:
        text = str(url)
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) >= _CACHE_LIMIT:
                self._urls.clear()
            # httpx has quoted it already: aiohttp must send it as it is.
            parsed = self._urls[text] = URL(text, encoded=True)
        return parsed

    def _headers_of(self, headers: httpx.Headers) -> CIMultiDictProxy[str]:
        raw = tuple(headers.raw)
        found = self._headers.get(raw)
        if found is None:
            if len(self._headers) >= _CACHE_LIMIT:
                self._headers.clear()
            # A read-only view: aiohttp copies it into each request's own headers.
            found = self._headers[raw] = CIMultiDictProxy(CIMultiDict(headers.multi_items()))
        return found

    def _timeout(self, timeout: dict[str, float | None] | None) -> aiohttp.ClientTimeout:
        timeout = timeout or {}
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            connect, read, pool = key
            found = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=connect, sock_read=read, connect=pool
            )
        return found
