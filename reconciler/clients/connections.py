"""Connection pools shared by the API clients of many accounts in one process (a fleet).

Each :class:`~reconciler.clients.http.HttpClient` otherwise opens its own pool, so a fleet
that reads 100 accounts opens some 3,000 connections to the same API host (over HTTPS, each
a handshake) and closes them account after account. Inside ``async with shared_connections():``
every client that is not given a transport of its own draws on one pool per TLS context
instead (the default transport, reconciler/clients/http11.py), and the pool's keep-alive
connections pass from one account to the next.

Sharing a connection shares nothing else: credentials go with each request (HTTP Basic for
Aculab, form fields for aql), the transport keeps no cookies, and each client still bounds
its own calls in flight (``--concurrency``), paces itself and counts its retries. The scope
closes the pools when it ends; a client closing inside it leaves them open.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.clients.http11 import Http11Transport

# Seconds an idle pooled connection stays open: long enough to pass from one account to the
# next, short enough not to hold a server's connections after the fleet moved on.
KEEPALIVE_S = 30.0


class SharedConnections:
    """The pools of one scope, one per TLS context (a pool's connections are keyed by host,
    port and TLS settings, so accounts on different endpoints never share a connection)."""

    def __init__(self) -> None:
        self._pools: dict[ssl.SSLContext, Http11Transport] = {}
        self.closed = False

    def transport(self, ssl_context: ssl.SSLContext) -> Http11Transport:
        """The pool for ``ssl_context``, opened on first use. Unbounded: every client keeps
        its own calls in flight within its ``--concurrency``."""
        if self.closed:
            raise RuntimeError("shared connections used after their scope ended")
        pool = self._pools.get(ssl_context)
        if pool is None:
            from reconciler.clients.http11 import Http11Transport

            pool = self._pools[ssl_context] = Http11Transport(
                ssl_context=ssl_context, max_connections=0, keepalive_expiry=KEEPALIVE_S
            )
        return pool

    async def aclose(self) -> None:
        self.closed = True
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


_current: ContextVar[SharedConnections | None] = ContextVar("shared_connections", default=None)


def current() -> SharedConnections | None:
    """The shared pools of the scope this task runs in, if any."""
    return _current.get()


@contextlib.asynccontextmanager
async def shared_connections() -> AsyncIterator[SharedConnections]:
    """``async with shared_connections():`` the clients opened in this task, and in the tasks
    it starts, share their connections; the pools close when the block ends."""
    shared = SharedConnections()
    token = _current.set(shared)
    try:
        yield shared
    finally:
        _current.reset(token)
        await shared.aclose()
