"""Every HTTP exchange doctor's clients make, as the server answered it.

:class:`RecordingTransport` sits under the ordinary API clients (so doctor's calls get the same
auth, retries and secret scrubbing as every other command's) and keeps, for each attempt,
what doctor judges: the status, how long it took, the headers that speak of rate limits, and
the head of an error body (its shape is one of the assumptions). A retried 429 is recorded
too, although the client absorbs it. Request bodies are never kept (they carry the aql
credentials), nor success bodies (account data).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx

from reconciler.clients.transport import Answer, Transport, as_transport

# The most of an error body kept: enough to tell JSON from HTML and read a code.
_ERROR_HEAD = 4096
_RATE_HEADER = re.compile(r"^(retry-after|x-?rate-?limit.*|rate-?limit.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One attempt: ``endpoint`` is the path (``/tel_list_numbers``,
    ``/service/v1/inbound/{name}``) or ``aql <command>``; ``status`` None when no answer came."""

    api: str
    endpoint: str
    status: int | None
    elapsed_ms: float
    content_type: str = ""
    rate_headers: tuple[tuple[str, str], ...] = ()
    error_head: bytes = b""


@dataclass(frozen=True, slots=True)
class Latency:
    """How long an endpoint took, over ``calls`` answers."""

    calls: int
    median_ms: float
    max_ms: float


class RecordingTransport:
    """Wraps a :class:`~reconciler.clients.transport.Transport`; appends an
    :class:`Exchange` to ``log`` for every attempt."""

    def __init__(self, inner: Transport, api: str, log: list[Exchange]) -> None:
        self._inner = inner
        self._api = api
        self._log = log

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        endpoint = self._endpoint(url, body)
        started = time.perf_counter()
        try:
            answer = await self._inner.exchange(method, url, headers, body)
        except BaseException:
            elapsed = (time.perf_counter() - started) * 1000
            self._log.append(Exchange(self._api, endpoint, None, elapsed))
            raise
        elapsed = (time.perf_counter() - started) * 1000
        status = answer.status
        # Names lower-cased, whichever transport answered (httpx's headers are already).
        rate = tuple(
            (name.lower(), value)
            for name, value in answer.headers.items()
            if _RATE_HEADER.match(name)
        )
        self._log.append(
            Exchange(
                api=self._api,
                endpoint=endpoint,
                status=status,
                elapsed_ms=elapsed,
                content_type=answer.headers.get("content-type", ""),
                rate_headers=rate,
                error_head=answer.body[:_ERROR_HEAD] if status >= 300 else b"",
            )
        )
        return answer

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _endpoint(self, url: str, body: bytes | None) -> str:
        if self._api == "aql":
            form = parse_qs((body or b"").decode("utf-8", "replace"))
            return f"aql {(form.get('command') or ['?'])[0]}"
        # The path as sent (quoted): a service's name, even one with a "/", is one part.
        path = urlsplit(url).path
        # A service's name is account data: the endpoint keeps its shape only.
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["service", "v1"] and parts[3] != "schema":
            return f"/service/v1/{parts[3]}/{{name}}"
        return path


@dataclass
class Recorder:
    """The exchanges of one doctor run, and what they add up to."""

    log: list[Exchange] = field(default_factory=list)

    def wrap(self, inner: Transport | httpx.AsyncBaseTransport, api: str) -> RecordingTransport:
        """``inner`` (an httpx transport behind the seam, as doctor passes) recording into
        :attr:`log`."""
        return RecordingTransport(as_transport(inner), api, self.log)

    def latency(self) -> dict[str, Latency]:
        """Per endpoint, over the attempts that got an answer (in call order)."""
        times: dict[str, list[float]] = {}
        for ex in self.log:
            if ex.status is not None:
                times.setdefault(ex.endpoint, []).append(ex.elapsed_ms)
        return {
            endpoint: Latency(len(ms), statistics.median(ms), max(ms))
            for endpoint, ms in times.items()
        }

    def last(self, endpoint: str) -> Exchange | None:
        """The latest attempt at ``endpoint``."""
        for ex in reversed(self.log):
            if ex.endpoint == endpoint:
                return ex
        return None
