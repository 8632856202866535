"""Read a whole live account for export: every number, every service in full, the service
schemas, and the relay routes of the aql numbers asked for.

This is wider than :func:`reconciler.live.reader.read_live`, which reads only what a desired
state declares: an export has no desired state yet, so it reads everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.desired.model import ServiceKind
from reconciler.errors import LiveReadError, ReconcilerError
from reconciler.live.model import LiveNumber, LiveRelayRoute

if TYPE_CHECKING:
    from reconciler.clients.aculab import AculabClient
    from reconciler.clients.aql import AqlClient

T = TypeVar("T")

KINDS: tuple[ServiceKind, ...] = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Everything an export writes from. Service configurations have their secrets wrapped
    in :class:`~reconciler.secret.Secret` (the client conceals them as it reads)."""

    numbers: Mapping[str, LiveNumber] = field(default_factory=dict)
    services: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    relay_routes: Mapping[str, LiveRelayRoute] = field(default_factory=dict)


async def _bounded(
    jobs: Sequence[Callable[[], Awaitable[T]]],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
    done_before: int,
    total: int,
) -> list[T]:
    """Run ``jobs`` with at most ``concurrency`` in flight (a few workers, not a task per
    job: PERF-NOTES.md), results in job order."""
    results: list[Any] = [None] * len(jobs)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(jobs)):
        queue.put_nowait(i)
    done = done_before

    async def worker() -> None:
        nonlocal done
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results[i] = await jobs[i]()
            done += 1
            if progress is not None:
                progress(done, total)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(jobs))))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        raise
    return results


async def read_account(
    aculab: AculabClient,
    aql: AqlClient | None,
    *,
    relay_numbers: Sequence[str] = (),
    concurrency: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> AccountSnapshot:
    """Read the whole account. Any failed call fails the export (:class:`LiveReadError`):
    a partial export would plan as deletes and purchases later."""
    if relay_numbers and aql is None:
        raise LiveReadError(
            "--relay-number needs the aql account, but ACCOUNT has no `aql:` section",
            hint="add `aql: {username, password}` to ACCOUNT",
        )
    try:
        numbers, inbound, outbound, in_schema, out_schema = await asyncio.gather(
            aculab.list_numbers(),
            aculab.list_services("inbound"),
            aculab.list_services("outbound"),
            aculab.service_schema("inbound"),
            aculab.service_schema("outbound"),
        )
        names: list[tuple[ServiceKind, str]] = [("inbound", s.name) for s in inbound] + [
            ("outbound", s.name) for s in outbound
        ]
        total = 5 + len(names) + len(relay_numbers)
        if progress is not None:
            progress(5, total)

        def read_job(kind: ServiceKind, name: str) -> Callable[[], Awaitable[dict[str, Any]]]:
            return lambda: aculab.read_service(kind, name)

        def relay_job(number: str) -> Callable[[], Awaitable[LiveRelayRoute]]:
            assert aql is not None
            return lambda: aql.query(number)

        configs = await _bounded(
            [read_job(k, n) for k, n in names], concurrency, progress, 5, total
        )
        routes = await _bounded(
            [relay_job(n) for n in relay_numbers],
            concurrency,
            progress,
            5 + len(names),
            total,
        )
    except LiveReadError:
        raise
    except ReconcilerError as err:
        raise LiveReadError(
            f"the live account could not be read whole, so nothing was exported: {err.message}",
            hint=err.hint,
        ) from err
    services: dict[str, dict[str, Mapping[str, Any]]] = {"inbound": {}, "outbound": {}}
    for (kind, name), config in zip(names, configs, strict=True):
        services[kind][name] = config
    return AccountSnapshot(
        numbers=numbers,
        services=services,
        schemas={"inbound": in_schema, "outbound": out_schema},
        relay_routes={n: r for n, r in zip(relay_numbers, routes, strict=True)},
    )
