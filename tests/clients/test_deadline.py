"""Every call has an overall deadline a trickling server can't stretch, and a run has a retry
budget. Against real slow servers on 127.0.0.1 (a slow loris that sends a byte at a time, a
silent one), through the default transport."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from reconciler.clients.http import HttpClient, Reply, RetryPolicy
from reconciler.clients.limits import RetryBudget
from reconciler.errors import ApiConnectionError, ServerError

from .support import Script, Sleeps, reply

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP server on 127.0.0.1; yields its URL and a list that counts requests."""
    seen: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            seen.append(1)
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        listening.close()


async def slow_loris(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then one byte of the body every 50 ms, forever."""
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9999\r\n\r\n"
    )
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.05)


async def silent(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


def client(url: str, **kw: object) -> HttpClient:
    return HttpClient(service="Aculab Cloud", base_url=url, auth_hint="check the key", **kw)  # type: ignore[arg-type]


async def call(http: HttpClient) -> object:
    async with http:
        return await http.request("GET", "/tel_list_numbers", parse=lambda r: r.content)


@pytest.mark.timeout(30)  # without the bound, the slow loris holds the call for ever
@pytest.mark.parametrize("handler", [slow_loris, silent], ids=["slow-loris", "silent"])
def test_an_attempt_is_bounded_whole_even_when_bytes_keep_coming(handler: Handler) -> None:
    async def go() -> None:
        async with server(handler) as (url, seen):
            # httpx's read timeout (0.3 s) restarts with every byte: alone, it never fires.
            http = client(url, timeout=0.3, retry=RetryPolicy(attempts=1))
            with pytest.raises(ApiConnectionError) as info:
                await call(http)
            assert "within 0.3 s" in info.value.message
            assert len(seen) == 1

    asyncio.run(go())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("handler", [slow_loris, silent], ids=["slow-loris", "silent"])
def test_the_deadline_covers_every_attempt_and_wait(handler: Handler) -> None:
    async def go() -> None:
        async with server(handler) as (url, seen):
            policy = RetryPolicy(attempts=50, base_delay=0.01, max_delay=0.02)
            http = client(url, timeout=0.2, deadline=0.7, retry=policy)
            with pytest.raises(ApiConnectionError) as info:
                await call(http)
            message = info.value.message
            assert "the call's deadline of 0.7 s is reached" in message
            assert "--call-deadline" in (info.value.hint or "")
            assert 2 <= len(seen) < 50  # it retried, and the deadline, not the attempts, ended it

    asyncio.run(go())


def test_the_retry_budget_is_shared_by_the_run() -> None:
    budget = RetryBudget(3)
    sleeps = Sleeps()
    script = Script([reply(503)] * 20)

    async def go() -> tuple[str, str]:
        messages = []
        for _ in range(2):  # two clients of one run (Aculab and aql share the budget)
            http = client(
                "http://api.example",
                transport=script.transport,
                budget=budget,
                retry=RetryPolicy(attempts=6, sleep=sleeps),
            )
            with pytest.raises(ServerError) as info:
                async with http:
                    await http.request("GET", "/x", parse=lambda r: r)
            messages.append(info.value.message + " | " + (info.value.hint or ""))
        return messages[0], messages[1]

    first, second = asyncio.run(go())
    assert "(after 4 attempts); the run's retry budget of 3 retries is spent" in first
    assert "--retry-budget" in first
    assert "after" not in second.split(" | ")[0] and "retry budget of 3" in second
    assert len(script.requests) == 5 and budget.spent == 3


def test_retries_within_the_budget_win() -> None:
    budget = RetryBudget(5)
    script = Script([reply(503), reply(503), reply(200, json=[])])

    async def go() -> Reply:
        http = client(
            "http://api.example",
            transport=script.transport,
            budget=budget,
            retry=RetryPolicy(sleep=Sleeps()),
        )
        async with http:
            return await http.request("GET", "/x", parse=lambda r: r)

    assert asyncio.run(go()).attempts == 3 and budget.spent == 2


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        RetryBudget(-1)
    with pytest.raises(ValueError):
        client("http://api.example", deadline=0.0)
    with pytest.raises(ValueError):
        client("http://api.example", deadline=float("nan"))
