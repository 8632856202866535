"""The one HTTP layer under both API clients.

:class:`HttpClient` drives one :class:`~reconciler.clients.transport.Transport` (by default
:class:`~reconciler.clients.http11.Http11Transport`, at a fraction of the CPU of httpx's own
or aiohttp's, see docs/performance.md; given any httpx transport, as tests give
``httpx.MockTransport`` or ``httpx.ASGITransport``, it wraps it in
:class:`~reconciler.clients.transport.HttpxTransport`)
and gives the Aculab and aql clients everything they share:

- pooled keep-alive connections and a bound on the calls in flight (``concurrency``);
- pacing under a rate limit it learns from 429s (:mod:`reconciler.clients.pacer`): one
  :class:`~reconciler.clients.pacer.Pacer` per vendor host;
- timeouts (a call may have its own, e.g. a purchase), each attempt's exchange bounded whole
  (a server that trickles bytes can't stretch it), and an overall deadline per call, its
  retries and waits included (``deadline``, ``--call-deadline``);
- retries with exponential backoff and full jitter, honouring ``Retry-After`` (capped), only
  for calls the caller marks safe to repeat and only on 429, 5xx and connection errors, and
  once on a 2xx whose body can't be read (a proxy's error page, a reply cut short); every retry
  spends one from the run's :class:`RetryBudget` (``--retry-budget``), shared by the clients
  of a run. A 429 the pacer absorbs goes back in line at the pace and doesn't count against
  the call's attempts (only against the budget and the deadline);
- typed errors (:mod:`reconciler.errors`) built from the documented error body, parsed
  defensively: HTML, XML, invalid JSON, an empty body or a wrong shape all become a clear
  :class:`~reconciler.errors.ApiStatusError` or :class:`~reconciler.errors.MalformedResponseError`;
- one DEBUG log line per attempt on the ``reconciler.http`` logger: call, status, time. Never a
  body, never a header, never a query string.

No secret reaches an error, a log line or a repr: credentials travel in headers or POST bodies
(never URLs), and every text that came from outside (a server's error body, a transport
exception) passes :meth:`HttpClient.scrub` before it enters a message.

Why the transport and not ``httpx.AsyncClient.send``: per call, ``AsyncClient`` adds an auth
flow, redirect handling, cookie extraction, event hooks and a stream wrapper, none of which
these APIs use, for about 40% more client CPU; at 3,200 calls a read, the client's CPU, not the
network, would set the pace (benchmarks/bench_read.py). Redirects are not followed.

Extension point: a client passes a ``parse`` function per call (``Reply -> T``); it runs inside
the retry loop, so a body-level transient failure (aql's ``500: Internal system error``) is
retried like an HTTP 5xx.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import json
import logging
import random as _random
import re
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx

from reconciler import __version__
from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, RetryBudget
from reconciler.clients.pacer import Pacer
from reconciler.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RelayError,
    ServerError,
)
from reconciler.secret import MASK, Redactor, Secret, active_redactor, reveal

if TYPE_CHECKING:  # the transports import httptools, which a command that makes no call skips
    from reconciler.clients.transport import Transport

log = logging.getLogger("reconciler.http")

T = TypeVar("T")

USER_AGENT = f"reconciler/{__version__}"

# The most of a foreign body quoted in an error message.
_SNIPPET = 120
# Bodies larger than this are not tried as Python literals (ast is slow and deep on big input).
_LITERAL_EVAL_LIMIT = 4 * 1024 * 1024


# --------------------------------------------------------------------------- retry policy


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How calls that are safe to repeat are retried.

    ``attempts`` counts the first try. The wait before retry *n* (1-based) is drawn uniformly
    from ``[0, min(max_delay, base_delay * 2**(n-1))]`` (exponential backoff, full jitter). A
    ``Retry-After`` header (seconds or an HTTP date) replaces that wait, capped at
    ``max_retry_after``, plus a little jitter so that concurrent callers do not return at
    the same instant.

    ``sleep``, ``clock`` and ``random`` are injectable so tests can assert the waits without
    waiting.
    """

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=_asyncio_sleep, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based) when the server named none."""
        cap = min(self.max_delay, self.base_delay * (2.0 ** (retry - 1)))
        return self.random() * cap

    def wait_for(self, retry: int, retry_after: float | None) -> float:
        """The wait before retry number ``retry``, honouring the server's ``Retry-After``."""
        if retry_after is None:
            return self.backoff(retry)
        jitter = self.random() * min(self.base_delay, self.max_delay)
        return min(max(retry_after, 0.0), self.max_retry_after) + jitter

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:  # pragma: no cover - older Pythons returned None
            return None
        return max(when.timestamp() - self.clock(), 0.0)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)

# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole. ``attempts`` is how many tries it took."""

    call: str
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    attempts: int
    paced: bool = False  # a 429 the pacer absorbs (see Pacer.observe)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body said: the documented fields when present, else a description."""

    code: str | None = None
    text: str | None = None
    details: tuple[str, ...] = ()
    shape: str | None = None  # e.g. "an HTML page" when the body is not the documented JSON


def describe_body(content: bytes) -> str:
    """A short, human description of a body that is not what was expected.

    It never quotes JSON-like content (a cut-short service read holds a service password that
    no :class:`Secret` knows yet); other text is quoted briefly with ``key=value``-like
    credentials masked. Callers still pass the result through :meth:`HttpClient.scrub`.
    """
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return "an empty body"
    low = text[:200].lower()
    if low.startswith(("<!doctype html", "<html")) or "<html" in low:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title and title.group(1).strip():
            return f"an HTML page ({_masked(_one_line(title.group(1)))!r})"
        return "an HTML page"
    if low.startswith("<"):
        return "an XML document"
    if text[0] in "{[":
        return f"invalid JSON ({len(content):,} bytes; cut short or not JSON)"
    return f"a body that is not JSON ({_masked(_one_line(text))!r})"


# ``password=...``, ``"api_key": "..."``, ``token: ...``: masked in any quoted foreign text.
_CREDENTIAL = re.compile(
    r"""(?ix)(pass(?:word)?|passwd|pwd|api[_-]?key|secret|token|authorization)
    (["']?\s*[:=]\s*["']?)([^\s"'&,;]+)"""
)


def _masked(text: str) -> str:
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def _one_line(text: str) -> str:
    """Foreign text (a header, an exception's words) for a message: on one line, short, and
    printable. A transport may keep the bytes of a header that are not UTF-8 as lone
    surrogates (aiohttp did), which no UTF-8 output can write; they become U+FFFD."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        text = text.encode("utf-8", "replace").decode("utf-8")
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 3] + "..."


class _NotJson(Exception):
    pass


def _plain(value: Any) -> Any:
    """Check a Python-literal value is JSON-like (tuples become lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _NotJson
        return {k: _plain(v) for k, v in value.items()}
    raise _NotJson


def loads(content: bytes) -> Any:
    """Decode a JSON body; failing that, a Python-literal body (the vendor's own published
    error example uses single quotes). Raises ``ValueError`` when it is neither."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        pass
    except RecursionError:  # absurdly deep nesting: not a body any API sends
        raise ValueError("not JSON") from None
    text = content.decode("utf-8", errors="replace").strip()
    if not text or text[0] not in "{[" or len(text) > _LITERAL_EVAL_LIMIT:
        raise ValueError("not JSON")
    try:
        return _plain(ast.literal_eval(text))
    except Exception as exc:  # SyntaxError, ValueError, RecursionError, MemoryError, _NotJson
        raise ValueError("not JSON") from exc


def parse_aculab_error(content: bytes) -> ErrorBody:
    """The documented Aculab error body ``{"error": {"code", "text", "details"?}}``, or a
    description of whatever came instead."""
    try:
        data = loads(content)
    except ValueError:
        from reconciler.clients.parsers import parse_html_error

        page = parse_html_error(content)
        if page is None or page.text is None:
            return ErrorBody(shape=describe_body(content))
        # Some endpoints answer errors in HTML: its words are worth showing, masked.
        return ErrorBody(
            code=page.code,
            text=_masked(page.text),
            details=tuple(_masked(d) for d in page.details),
            shape="an HTML page",
        )
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code = err.get("code")
        text = err.get("text")
        raw_details = err.get("details")
        details: list[str] = []
        if isinstance(raw_details, list):
            details = [str(d) for d in raw_details if d is not None]
        elif raw_details is not None:
            details = [str(raw_details)]
        return ErrorBody(
            code=None if code is None else str(code),
            text=None if text is None else str(text),
            details=tuple(details),
        )
    if isinstance(data, dict):
        # Not the documented shape, but a message is worth showing (frameworks' defaults).
        for key in ("message", "detail", "error", "text"):
            if isinstance(data.get(key), str):
                return ErrorBody(text=data[key], shape="an undocumented JSON error")
    return ErrorBody(shape="JSON that is not the documented error shape")


# --------------------------------------------------------------------------- the client


def secrets_in(value: Any) -> set[str]:
    """The revealed values of every :class:`Secret` inside a JSON-like value."""
    found: set[str] = set()
    if isinstance(value, Secret):
        found.add(value.reveal())
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= secrets_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found |= secrets_in(v)
    return found


class HttpClient:
    """One pooled, bounded, retrying HTTP client for one API.

    ``service`` names the API in messages ("Aculab Cloud", "aql"); ``auth_hint`` is the hint
    of an :class:`AuthenticationError`. ``secrets`` are values that must never appear in any
    message (the account's API key or password): they are made known to ``redactor`` (the
    command's, by default), which masks them in every foreign text, in every form.
    ``headers`` are sent on every call (e.g. ``Accept`` and the Basic authorisation).
    ``error_parser`` reads an error body (Aculab's JSON by default).
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        auth_hint: str,
        secrets: Iterable[str] = (),
        redactor: Redactor | None = None,
        headers: Mapping[str, str] | None = None,
        transport: Transport | httpx.AsyncBaseTransport | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        error_parser: Callable[[bytes], ErrorBody] = parse_aculab_error,
        deadline: float = DEFAULT_CALL_DEADLINE,
        budget: RetryBudget | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not deadline > 0:
            raise ValueError("deadline must be positive")
        self.service = service
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        # For messages: the host only, never a userinfo part of a user-given URL.
        self.host = parts.hostname or self.base_url
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        self.auth_hint = auth_hint
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
        self.error_parser = error_parser
        self.deadline = deadline
        self.budget = budget if budget is not None else RetryBudget()
        self.pacer = pacer if pacer is not None else Pacer(f"{service} ({self.host})")
        self.redactor = redactor or active_redactor() or Redactor()
        self.redactor.add(*secrets)
        # Every call's URL is this plus a path the API clients quoted: the base is quoted
        # (and its host put in IDNA form) here, once, so a transport sends URLs as they are.
        # A base httpx can't parse makes every call fail, whatever the transport (the desired
        # state's validation refuses such an endpoint first: reconciler/desired/validate.py).
        self._wire_base, self._unusable = wire_url(self.base_url)
        common = {"User-Agent": USER_AGENT, **(headers or {})}
        self._headers = common
        self._json_headers = {**common, "Content-Type": "application/json"}
        self._form_headers = {**common, "Content-Type": "application/x-www-form-urlencoded"}
        self._given_transport = transport
        self._transport: Transport | None = None
        self._shared = False  # the transport is a scope's shared pool
        self._gate: asyncio.Semaphore | None = None

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> HttpClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        if self._transport is not None:
            return
        given = self._given_transport
        if given is not None:
            from reconciler.clients.transport import as_transport

            transport = as_transport(given)
        else:
            from reconciler.clients.connections import current

            shared = current()
            if shared is not None:  # a fleet's accounts in this process share the pools
                transport = shared.transport(_tls_context(self.base_url))
                self._shared = True
            else:
                from reconciler.clients.http11 import Http11Transport

                transport = Http11Transport(
                    ssl_context=_tls_context(self.base_url),
                    max_connections=self.concurrency,
                    keepalive_expiry=30.0,
                )
        self._transport = transport
        self._gate = asyncio.Semaphore(self.concurrency)

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        # Shared pools are closed by their scope (a given transport is closed here, as ever).
        if transport is not None and not self._shared:
            await transport.aclose()

    def __repr__(self) -> str:
        return f"<HttpClient {self.service} {self.host} concurrency={self.concurrency}>"

    def pace_delay(self) -> float:
        """Seconds a call made now would wait for its turn at this host (for schedulers)."""
        return self.pacer.delay()

    # ----------------------------------------------------------------- secrets

    def scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        """``text`` with every secret this client's redactor knows (and ``extra``) masked, in
        every form (:class:`reconciler.secret.Redactor`)."""
        self.redactor.add(*extra)
        return self.redactor.redact(text)

    # ----------------------------------------------------------------- calls

    async def request(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[Reply], T],
        call: str | None = None,
        form: Mapping[str, str | Secret] | None = None,
        json_body: Any = None,
        retry: bool = True,
        timeout: float | None = None,
        gone_ok_after_retry: bool = False,
        outcome_unknown: str | None = None,
    ) -> T:
        """Send one call (retrying when ``retry`` and the failure is transient); return
        ``parse(reply)`` for a 2xx answer.

        ``path`` (with its query, if any) is appended to the base URL as it is: the caller
        quotes it (printable ASCII, no ``#``), as the API clients do.

        ``form`` is sent as an urlencoded POST body, ``json_body`` (which may hold
        :class:`Secret` values, revealed here only) as JSON. ``gone_ok_after_retry``: a 404
        to a retried DELETE means an earlier attempt did it; ``parse`` gets that reply.
        ``outcome_unknown`` is added to the message of any failure after which the call may
        or may not have taken effect (connection lost, timeout, 5xx, unreadable success).
        """
        if self._transport is None or self._gate is None:
            raise RuntimeError("HttpClient used outside `async with`")
        call = call or f"{method} {path}"
        if self._unusable is not None:
            raise ApiConnectionError(
                self.scrub(
                    f"the endpoint of {self.service} is not a usable URL ({self._unusable})"
                ),
                call=call,
                hint=f"check the endpoint of {self.service} in the desired state",
            )
        if _UNQUOTED.search(path):  # a caller's bug: transports send a URL as it is
            raise ValueError(f"HttpClient.request: the path {path!r} is not quoted")
        url = self._wire_base + path
        extra_secrets: set[str] = secrets_in(json_body) if json_body is not None else set()
        if form is not None:
            # A form may carry the account's own credentials (aql): known already, but a
            # Secret passed in a form is masked too.
            extra_secrets |= secrets_in(dict(form))
        content: bytes | None = None
        headers = self._headers
        if json_body is not None:
            content = json.dumps(reveal(json_body)).encode()
            headers = self._json_headers
        elif form is not None:
            pairs = [(k, v.reveal() if isinstance(v, Secret) else v) for k, v in form.items()]
            content = urlencode(pairs).encode()
            headers = self._form_headers
        policy = self.retry if retry else NO_RETRY
        deadline = time.monotonic() + max(self.deadline, timeout or 0.0)

        attempt = 0
        counted = 0  # attempts that count against the policy (not 429s the pacer absorbed)
        absorbed = 0  # 429s the pacer absorbed: as many again (one call's 429s whatever the
        # pace are not about the pace)
        garbled = 0  # 2xx replies whose body could not be read
        while True:
            attempt += 1
            reply: Reply | None = None
            try:
                epoch = await self.pacer.turn()
                reply = await self._send(
                    method,
                    url,
                    headers,
                    content,
                    call=call,
                    timeout=timeout,
                    attempt=attempt,
                    secrets=extra_secrets,
                    outcome_unknown=outcome_unknown,
                    epoch=epoch,
                    deadline=deadline,
                )
                if 200 <= reply.status < 300 or (
                    gone_ok_after_retry and attempt > 1 and reply.status == 404
                ):
                    try:
                        return parse(reply)
                    except ApiError as err:
                        # A parser may quote the body: mask what this call knows is secret.
                        err.message = self.scrub(err.message, extra_secrets)
                        err.args = (err.message,)
                        if outcome_unknown and isinstance(err, MalformedResponseError):
                            raise MalformedResponseError(
                                f"{_strip_call(err)}; {outcome_unknown}",
                                call=err.call,
                                hint=err.hint,
                            ) from err
                        raise
                raise self._status_error(reply, extra_secrets, outcome_unknown)
            except ApiError as err:
                paced = (
                    reply is not None
                    and reply.paced
                    and isinstance(err, RateLimitedError)
                    and absorbed < policy.attempts
                )
                if paced:
                    absorbed += 1
                else:
                    counted += 1
                # A 2xx that can't be read (an HTML page from a proxy, JSON cut short) is
                # retried once: at a few percent of replies, a read of hundreds of calls
                # would otherwise almost never complete. Once only: an endpoint that always
                # answers HTML is a misconfiguration, and should fail fast.
                if isinstance(err, MalformedResponseError):
                    garbled += 1
                    worth = garbled == 1
                else:
                    worth = _transient(err)
                if not (retry and worth) or counted >= policy.attempts:
                    _after(err, attempt)
                    raise
                retry_after = err.retry_after if isinstance(err, RateLimitedError) else None
                wait = 0.0 if paced else policy.wait_for(counted, retry_after)
                if time.monotonic() + wait >= deadline:
                    _after(
                        err,
                        attempt,
                        f"the call's deadline of {self.deadline:g} s is reached",
                        "--call-deadline",
                    )
                    raise
                if not self.budget.spend():
                    _after(
                        err,
                        attempt,
                        f"the run's retry budget of {self.budget.limit:,} retries is spent",
                        "--retry-budget",
                    )
                    raise
                if paced:
                    log.info(
                        "%s answered 429; back in line at %.1f calls/s", call, self.pacer.rate or 0
                    )
                else:
                    log.info(
                        "%s failed (%s); retry %d of %d in %.2f s",
                        call,
                        _short_reason(err),
                        counted,
                        policy.attempts - 1,
                        wait,
                    )
                if wait > 0:
                    await policy.sleep(wait)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        call: str,
        timeout: float | None,
        attempt: int,
        secrets: set[str],
        outcome_unknown: str | None,
        epoch: int = 0,
        deadline: float | None = None,
    ) -> Reply:
        assert self._transport is not None and self._gate is not None
        timeout_s = self.timeout if timeout is None else timeout
        async with self._gate:
            # The whole exchange, not each read, is bounded: httpx's timeouts restart with
            # every byte, so a server trickling one byte a second would never time out.
            started = time.perf_counter()
            bound = timeout_s
            if deadline is not None:
                bound = min(bound, deadline - time.monotonic())
            try:
                if bound <= 0:
                    raise asyncio.TimeoutError
                answer = await _within(
                    bound, self._transport.exchange(method, url, headers, content)
                )
            except (httpx.TransportError, OSError, asyncio.TimeoutError) as exc:
                raise self._connection_error(
                    exc, call, secrets, outcome_unknown, max(bound, 0.0)
                ) from exc
        elapsed = time.perf_counter() - started
        status = answer.status
        retry_after = (
            self.retry.parse_retry_after(answer.headers.get("retry-after"))
            if status == 429
            else None
        )
        paced = self.pacer.observe(
            epoch, throttled=status == 429, retry_after=retry_after, latency=elapsed
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %d in %.1f ms (attempt %d)", call, status, elapsed * 1000, attempt)
        return Reply(call, status, answer.headers, answer.body, attempt, paced)

    # ----------------------------------------------------------------- errors

    def _connection_error(
        self,
        exc: BaseException,
        call: str,
        secrets: set[str],
        outcome_unknown: str | None,
        timeout: float,
    ) -> ApiConnectionError:
        # A transport raises the httpx error that stands for the failure, the original as its
        # cause (reconciler/clients/transport.py): the class decides what is said, the
        # original (the more precise) names it and gives its words.
        cause = exc
        if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None:
            cause = exc.__cause__
        kind = type(cause).__name__
        if isinstance(exc, asyncio.TimeoutError | TimeoutError | httpx.TimeoutException):
            what = f"no answer from {self.host} within {timeout:g} s ({kind})"
        elif isinstance(exc, httpx.ConnectError):
            what = f"could not connect to {self.host} ({kind})"
        else:
            what = f"the connection to {self.host} failed ({kind})"
        detail = str(cause).strip()
        if detail:
            what = f"{what}: {_one_line(detail)}"
        message = self.scrub(what, secrets)
        if outcome_unknown:
            message = f"{message}; {outcome_unknown}"
        hint = (
            f"check the endpoint of {self.service} in the desired state and that it can be "
            "reached from here, then run the command again"
        )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            hint = f"check the endpoint of {self.service} in the desired state"
        return ApiConnectionError(message, call=call, hint=hint)

    def _status_error(
        self, reply: Reply, secrets: set[str], outcome_unknown: str | None
    ) -> ApiError:
        status = reply.status
        body = self.error_parser(reply.content)
        scrub = self.scrub
        code = scrub(body.code, secrets) if body.code else None
        text = scrub(body.text, secrets) if body.text else None
        details = [scrub(d, secrets) for d in body.details]
        said = []
        if text:
            said.append(text)
        if code and code not in (f"HTTP {status}", str(status)):
            said.append(f"(code {code})")
        message = f"{self.service} answered {status}"
        if said and body.shape == "an HTML page":
            message += f" with an HTML page: {' '.join(said)}"
        elif said:
            message += ": " + " ".join(said)
        elif body.shape:
            message += f" with {scrub(body.shape, secrets)}"
        if details:
            message += "".join(f"\n    - {d}" for d in details)
        if status in (401, 403):
            return AuthenticationError(message, call=reply.call, hint=self.auth_hint)
        hint = None
        if 300 <= status < 400:
            # Redirects are not followed (a credential must not follow a redirect elsewhere).
            where = reply.headers.get("location")
            if where:
                message += f" (a redirect to {scrub(_one_line(where), secrets)})"
            hint = f"check the endpoint of {self.service} in the desired state"
        if outcome_unknown and (status >= 500 or status == 408):
            message = f"{message}; {outcome_unknown}"
        if status == 429:
            hint = f"{self.service} is limiting the request rate: lower --concurrency, or try later"
        elif status >= 500:
            hint = f"{self.service} failed on its side, not on your input: try again later"
        kw: dict[str, Any] = {
            "call": reply.call,
            "status": status,
            "code": code,
            "text": text,
            "details": details,
            "hint": hint,
        }
        if status == 404:
            return NotFoundError(message, **kw)
        if status == 429:
            retry_after = self.retry.parse_retry_after(reply.headers.get("retry-after"))
            return RateLimitedError(message, retry_after=retry_after, **kw)
        if status >= 500:
            return ServerError(message, **kw)
        return ApiStatusError(message, **kw)


# What a quoted path never holds: anything but printable ASCII, or a fragment.
_UNQUOTED = re.compile(r"[^\x21-\x7e]|#")


def wire_url(url: str) -> tuple[str, str | None]:
    """``url`` as it goes on the wire: quoted, its host lower-cased and in IDNA form, as
    httpx would send it; or, when httpx can't parse it, ``url`` and why not. The one test of
    whether an endpoint is usable (reconciler/desired/validate.py asks it too)."""
    try:
        return str(httpx.URL(url)), None
    except httpx.InvalidURL as err:
        return url, str(err)


@functools.cache
def _verifying_tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's roots, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    built once per process: loading the roots takes 50-150 ms, which every client paid on
    opening (two per command: Aculab and aql)."""
    return httpx.create_ssl_context()


def _tls_context(base_url: str) -> ssl.SSLContext:
    """The TLS context for an API at ``base_url``: one per kind in a process, so that shared
    connection pools (reconciler/clients/connections.py) are one per kind too."""
    if urlsplit(base_url).scheme.lower() != "http":
        return _verifying_tls_context()
    return _plain_http_context()


@functools.cache
def _plain_http_context() -> ssl.SSLContext:
    """Plain HTTP (the simulator on 127.0.0.1) never uses TLS, and redirects are not followed:
    no roots to load. This context still verifies by default, with nothing it trusts, so it
    could only ever refuse a connection."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


if sys.version_info >= (3, 11):

    async def _within(seconds: float, work: Awaitable[T]) -> T:
        """``await work``, or :class:`TimeoutError` after ``seconds`` (no extra task)."""
        async with asyncio.timeout(seconds):
            return await work

else:  # pragma: no cover - Python 3.10

    async def _within(seconds: float, work: Awaitable[T]) -> T:
        return await asyncio.wait_for(work, seconds)


def _after(err: ApiError, attempt: int, why: str | None = None, option: str | None = None) -> None:
    """Say in ``err``'s message how many attempts it took, and why no more were made (a
    limit, and the ``option`` that sets it, named in the hint)."""
    if attempt > 1 and not isinstance(err, AuthenticationError):
        err.message = f"{err.message} (after {attempt} attempts)"
    if why is not None:
        err.message = f"{err.message}; {why}"
    if option is not None:
        more = f"{option} sets this limit"
        err.hint = f"{err.hint}; {more}" if err.hint else more
    err.args = (err.message,)


def _transient(err: ApiError) -> bool:
    """Worth another try: 429, 5xx, a lost connection, aql's body-level 500."""
    if isinstance(err, ApiConnectionError):
        # A malformed endpoint fails the same way every time.
        return not isinstance(err.__cause__, httpx.UnsupportedProtocol | httpx.InvalidURL)
    if isinstance(err, RateLimitedError | ServerError):
        return True
    return isinstance(err, RelayError) and err.code == "500"


def _short_reason(err: ApiError) -> str:
    if isinstance(err, ApiStatusError):
        return f"status {err.status}"
    if isinstance(err, RelayError):
        return f"code {err.code}"
    return type(err).__name__


def _strip_call(err: ApiError) -> str:
    prefix = f"{err.call}: "
    return err.message[len(prefix) :] if err.message.startswith(prefix) else err.message


def expect_json(reply: Reply) -> Any:
    """The JSON of a 2xx reply, or a :class:`MalformedResponseError` saying what came."""
    try:
        return loads(reply.content)
    except ValueError:
        raise MalformedResponseError(
            f"expected JSON, got {describe_body(reply.content)}", call=reply.call
        ) from None


def malformed(reply: Reply, what: str) -> MalformedResponseError:
    """A reply of the wrong shape: ``what`` says what was wrong."""
    return MalformedResponseError(f"unexpected reply: {what}", call=reply.call)
