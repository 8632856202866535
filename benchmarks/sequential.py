"""The baseline: the same read done by a straightforward sequential reader.

It makes exactly the calls :func:`reconciler.live.reader.read_live` makes for the benchmark
account (the number list, both service lists, every declared service and pool number's
service that exists, one aql query per relay route), through the same clients, but one at a
time, each awaited before the next: what a first, obvious implementation does. The snapshot
it builds is the same, so the planner gets the same input.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.desired.model import DesiredState
from reconciler.live.model import Catalogue, LiveService, LiveState


async def read_sequentially(
    desired: DesiredState,
    aculab: AculabClient,
    aql: AqlClient,
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[LiveState, int]:
    """Read the account one call at a time; the snapshot and the number of calls made.

    ``limit`` stops after that many calls (a sample, for ``--quick``): the snapshot is then
    incomplete and only the timing matters.
    """
    calls = 0

    def count() -> bool:
        nonlocal calls
        calls += 1
        if progress is not None:
            progress(calls)
        return limit is not None and calls >= limit

    numbers = await aculab.list_numbers()
    count()
    names = {}
    for kind in ("inbound", "outbound"):
        names[kind] = {s.name for s in await aculab.list_services(kind)}
        count()
    pool_keys = {p.location.key() for p in desired.pools.values() if p.inbound is not None}
    wanted: list[tuple[str, str]] = [
        ("inbound", n)
        for n, live in numbers.items()
        if n in names["inbound"] and live.location.key() in pool_keys
    ]
    wanted += [("inbound", n) for n in desired.inbound_services if n in names["inbound"]]
    wanted += [("outbound", n) for n in desired.outbound_services if n in names["outbound"]]
    services: dict[str, dict[str, LiveService]] = {"inbound": {}, "outbound": {}}
    relay = {}
    stop = limit is not None and calls >= limit
    for kind, name in wanted:
        if stop:
            break
        config = await aculab.read_service(kind, name)
        services[kind][name] = LiveService(kind=kind, name=name, config=config)  # type: ignore[arg-type]
        stop = count()
    for number in desired.relay_routes:
        if stop:
            break
        relay[number] = await aql.query(number)
        stop = count()
    live = LiveState(
        numbers=numbers,
        inbound_names=frozenset(names["inbound"]),
        outbound_names=frozenset(names["outbound"]),
        inbound=services["inbound"],
        outbound=services["outbound"],
        relay_routes=relay,
        catalogue=Catalogue(),
        service_schemas={},
    )
    return live, calls
