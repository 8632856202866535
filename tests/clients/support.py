"""Helpers for the client (and live reader) tests: accounts with distinctive secrets, a
scripted transport, and a sleep that records the waits instead of waiting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from reconciler.clients.http import RetryPolicy
from reconciler.desired.model import AculabAccount, AqlAccount
from reconciler.secret import Secret

# Distinctive values: a test fails if any of them shows up in a message, repr or log record.
API_KEY = "KEY-f00dfacecafe-7731"
AQL_PASSWORD = "AQLPW-beadfeed-4412"
SERVICE_PASSWORD = "SVCPW-deadbeef-9902"
SECRETS = (API_KEY, AQL_PASSWORD, SERVICE_PASSWORD)


def aculab_account(endpoint: str = "http://aculab.test") -> AculabAccount:
    return AculabAccount(
        cloud_id="1-2-0", username="ops@example.com", api_key=Secret(API_KEY), endpoint=endpoint
    )


def aql_account(endpoint: str = "http://aql.test/sms/sms-relay.api.php") -> AqlAccount:
    return AqlAccount(username="example", password=Secret(AQL_PASSWORD), endpoint=endpoint)


@dataclass
class Sleeps:
    """An injectable ``sleep`` that records each wait and returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fast_retry(sleeps: Sleeps | None = None, **kw: object) -> RetryPolicy:
    """A retry policy that never really waits (and draws the full jitter deterministically)."""
    return RetryPolicy(sleep=sleeps or Sleeps(), random=lambda: 1.0, **kw)  # type: ignore[arg-type]


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A MockTransport that answers from a list of handlers in turn (the last repeats) and
    records every request."""

    handlers: list[Handler]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        i = min(len(self.requests), len(self.handlers)) - 1
        return self.handlers[i](request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def reply(status: int = 200, **kw: object) -> Handler:
    return lambda request: httpx.Response(status, **kw)  # type: ignore[arg-type]


def fail(exc: type[Exception], message: str = "boom") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(message)

    return handler


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked into: {text!r}"
