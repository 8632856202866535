"""The seam under :class:`~reconciler.clients.http.HttpClient`: :class:`Transport`, one HTTP
exchange read whole, and the pieces every transport shares.

- :class:`~reconciler.clients.http11.Http11Transport`, the default: HTTP/1.1 on asyncio's
  sockets, parsed by httptools, with nothing built per call but the request's bytes
  (reconciler/clients/http11.py, docs/performance.md).
- :class:`HttpxTransport`: any ``httpx.AsyncBaseTransport`` behind the same seam (tests pass
  ``httpx.MockTransport`` or ``httpx.ASGITransport``; ``reconciler doctor`` records calls
  through httpx's own transport). :func:`as_transport` wraps one when a client is given it.

The seam is small on purpose: ``exchange(method, url, headers, body)`` takes a URL already
quoted and a ready body, and returns an :class:`Answer`: the status, the headers
(case-insensitive) and the body, whole and decoded. Why not httpx's ``Request`` and
``Response`` at the seam: building them (a URL parsed and quoted, headers normalised, a body
wrapped in a stream and decoded through a chain) took a seventh of a fleet's client CPU
(docs/performance.md).

Errors keep httpx's tree::

    httpx.TransportError
    ├── httpx.UnsupportedProtocol   not an http(s) URL
    ├── httpx.TimeoutException      (HttpClient bounds time itself: asyncio.TimeoutError)
    ├── httpx.NetworkError
    │   ├── httpx.ConnectError      DNS, refused, unreachable, the TLS handshake
    │   └── httpx.ReadError         a reset, an answer cut short or undecodable
    └── httpx.ProtocolError
        └── httpx.RemoteProtocolError   closed without answering, not HTTP

A transport raises the one that stands for the failure, the original as its ``__cause__``,
which is what ``HttpClient`` words its messages from. A transport bounds nothing in time:
``HttpClient`` bounds each whole exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

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
    httpx's and :class:`~reconciler.clients.http11.Headers` do. A failure to exchange raises
    the ``httpx.TransportError`` that stands for it, the original as ``__cause__``.
    """

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


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
            # already): said as Http11Transport says it
            raise httpx.ReadError(str(exc), request=request) from exc
        return Answer(response.status_code, response.headers, content, response.reason_phrase)

    async def aclose(self) -> None:
        await self.inner.aclose()
