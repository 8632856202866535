"""The aql SMS relay gateway client: ``query`` and ``modify`` one number's delivery.

The gateway takes its credentials as parameters; they are always sent in a POST body, never
in a URL (URLs end up in logs). Replies are plain text (``200: OK`` then ``number``,
``action-type``, ``action-detail`` lines; ``:`` or ``*`` as the separator), parsed by
:func:`~reconciler.clients.parsers.parse_relay_reply`. A failure code becomes a
:class:`~reconciler.errors.RelayError` carrying it (``401`` a
:class:`~reconciler.errors.RelayAuthenticationError`); ``500`` (internal error) is retried like
an HTTP 5xx. Both commands are safe to repeat and are retried on 429, 5xx and lost connections.

``return-mode=url`` is not used: its reply format is documented only in a separate aql
document, and the plain mode (the default) says everything needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import httpx

from reconciler.clients.http import DEFAULT_RETRY, ErrorBody, HttpClient, Reply, RetryPolicy
from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, RetryBudget
from reconciler.clients.parsers import (
    RELAY_CODES,
    parse_relay_error_line,
    parse_relay_reply,
)
from reconciler.desired.model import AqlAccount
from reconciler.desired.numbers import digits_of
from reconciler.live.model import LiveRelayRoute
from reconciler.secret import Secret

if TYPE_CHECKING:  # the transports import httptools
    from reconciler.clients.transport import Transport

__all__ = ["AqlClient"]

T = TypeVar("T")


def _aql_error_body(content: bytes) -> ErrorBody:
    """An aql error body is one ``<code>: <description>`` line (or anything, defensively)."""
    from reconciler.clients.http import describe_body

    status = parse_relay_error_line(content)
    if status is not None:
        code, text = status
        return ErrorBody(code=code, text=text or RELAY_CODES.get(code))
    return ErrorBody(shape=describe_body(content))


class AqlClient:
    """An aql account's relay gateway. Use as ``async with AqlClient(...) as aql``."""

    def __init__(
        self,
        account: AqlAccount,
        *,
        transport: Transport | httpx.AsyncBaseTransport | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        deadline: float = DEFAULT_CALL_DEADLINE,
        budget: RetryBudget | None = None,
    ) -> None:
        self.account = account
        self.http = HttpClient(
            service="aql",
            base_url=account.url,
            auth_hint="check `aql.username` and `aql.password` (the aql account's credentials)",
            secrets=[account.password.reveal()],
            transport=transport,
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            deadline=deadline,
            budget=budget,
            error_parser=_aql_error_body,
        )

    async def __aenter__(self) -> AqlClient:
        await self.http.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def __repr__(self) -> str:
        return f"<AqlClient {self.account.username} at {self.http.host}>"

    async def _command(
        self, command: str, number: str, extra: dict[str, str | Secret]
    ) -> LiveRelayRoute:
        number = digits_of(number)

        def parse(reply: Reply) -> LiveRelayRoute:
            return parse_relay_reply(reply.text, reply.call, number)

        return await self._send(command, number, extra, parse)

    async def _send(
        self,
        command: str,
        number: str,
        extra: dict[str, str | Secret],
        parse: Callable[[Reply], T],
    ) -> T:
        form: dict[str, str | Secret] = {
            "username": self.account.username,
            "password": self.account.password,
            "command": command,
            **({"number": number} if number else {}),
            **extra,
        }
        call = f"aql {command} {number}".rstrip()
        return await self.http.request("POST", "", call=call, form=form, parse=parse)

    async def query_reply(self, number: str) -> Reply:
        """The gateway's reply to ``command=query``, unparsed, whatever its status line says
        (``reconciler doctor`` judges its format). An empty ``number`` sends none: a check of
        the credentials alone. A 429 or 5xx is retried and raised like any other call's."""
        return await self._send("query", digits_of(number), {}, lambda reply: reply)

    async def query(self, number: str) -> LiveRelayRoute:
        """``command=query``: how aql delivers SMS for ``number`` now."""
        return await self._command("query", number, {})

    async def modify(
        self, number: str, action: str, detail: Sequence[str | Secret]
    ) -> LiveRelayRoute:
        """``command=modify``: deliver ``number``'s SMS by ``action`` to ``detail`` (tried in
        order; comma-joined on the wire). ``null-route`` sends no detail. A detail may be a
        :class:`Secret` (a callback URL with a password). Returns the route as the gateway
        reports it after the change."""
        extra: dict[str, str | Secret] = {"action-type": action}
        if detail:
            joined = ",".join(d.reveal() if isinstance(d, Secret) else d for d in detail)
            secret = any(isinstance(d, Secret) for d in detail)
            extra["action-detail"] = Secret(joined) if secret else joined
        return await self._command("modify", number, extra)
