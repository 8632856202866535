"""Read the live account into one :class:`~reconciler.live.model.LiveState` snapshot.

What is read, and nothing more (each call once):

- one ``tel_list_numbers``;
- both service lists, ``GET /service/v1/inbound`` and ``/outbound``;
- the full configuration of every declared service that the lists show exists, and of the
  inbound service of every live number of a pool that has ``inbound:`` (when it exists);
- the service schema of a kind only when a declared service of that kind (a pool's inbound
  included) uses ``mode: replace`` (its defaults are part of the comparison);
- one aql ``query`` per declared relay route;
- the purchase catalogue, only for pools short of their count: the supported countries per
  did_type, the states of a country when the pool names a state, the regions per (country,
  state, did_type), and the regulation addresses once if a short pool names one.

All of it runs concurrently on a :class:`~reconciler.workpool.WorkPool` of ``concurrency``
workers; a finished list adds the reads it unlocks. Each read queues for its API host (Aculab
or aql), so under one vendor's rate limit the workers keep the other busy.

Any failed read (after the clients' own retries) fails the whole read with
:class:`~reconciler.errors.LiveReadError` naming the call and its cause: no partial snapshot
ever reaches the planner.

One race is handled rather than failed: a service the list showed but whose read answers 404
was deleted in between. The reader then lists that kind again (once per read): if the service
is gone from the new list too, the snapshot records it as absent; if the list still shows it,
the read fails (the account is changing under us, or the API is inconsistent).

:func:`read_account` reads a whole account the same way, for ``export``: it has no desired
state yet, so it reads every listed service, both service schemas and the relay routes of the
aql numbers asked for, into the same :class:`LiveState` (one snapshot type, one race rule).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.desired.model import DesiredState, NumberPool, ServiceKind
from reconciler.errors import (
    ApiStatusError,
    ConfigError,
    LiveReadError,
    NotFoundError,
    ReconcilerError,
)
from reconciler.live.model import (
    Catalogue,
    LiveNumber,
    LiveRelayRoute,
    LiveService,
    LiveState,
    number_fingerprint,
    relay_fingerprint,
    service_fingerprint,
)
from reconciler.live.progress import ProgressCallback
from reconciler.workpool import WorkPool

Job = Callable[[], Awaitable[None]]

__all__ = ["read_account", "read_live"]

KINDS: tuple[ServiceKind, ...] = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a read covers beyond what the desired state declares (export's whole account)."""

    every_service: bool = False
    schema_kinds: frozenset[ServiceKind] = frozenset()
    relay_numbers: tuple[str, ...] = ()
    # Fingerprint each resource as it arrives (LiveState.known_fingerprints): only a snapshot
    # that may back a saved plan needs them; drift and export never look at them, and in a
    # CPU-bound fleet they cost about a twentieth of the client's CPU.
    fingerprint: bool = True
    # Said after a failed read: what the failure spared the user.
    spared: str = "nothing was changed"


async def read_live(
    desired: DesiredState,
    aculab: AculabClient | None,
    aql: AqlClient | None,
    *,
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
    fingerprint: bool = True,
) -> LiveState:
    """Read everything ``desired`` needs from the live account (see the module docstring).

    ``progress(done, total)`` is called as reads finish; ``total`` is None until the lists
    (numbers, services) have revealed everything there is to read, then final. Raises
    :class:`LiveReadError` if any read fails. ``fingerprint``: fingerprint the resources as
    they arrive (for a plan that may be saved); without, the snapshot computes them only if
    asked (:meth:`LiveState.resource_fingerprints`).

    ``aculab`` is None for a desired state without an ``aculab:`` section (an aql customer
    with relay routes only): then nothing of Aculab is read, and the snapshot has no numbers
    and no services, which the planner reads as nothing to manage (that state declares none).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if aculab is None and desired.manages_aculab:
        raise ConfigError(
            "the desired state declares numbers or services but has no `aculab:` section",
            hint="add `aculab: {cloud_id, username, api_key}` to the desired state",
        )
    if desired.relay_routes and aql is None:
        raise ConfigError(
            "the desired state declares relay routes but there is no aql account to read them",
            hint="add an `aql:` section (username, password) to the desired state",
        )
    scope = _Scope(schema_kinds=frozenset(_replace_kinds(desired)), fingerprint=fingerprint)
    return await _Reader(desired, aculab, aql, concurrency, progress, scope).run()


async def read_account(
    aculab: AculabClient | None,
    aql: AqlClient | None,
    *,
    relay_numbers: Sequence[str] = (),
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
) -> LiveState:
    """Read the whole account for export: every number, every listed service in full, both
    service schemas, and the relay routes of ``relay_numbers``. Any failed read fails it
    (:class:`LiveReadError`): a partial export would plan as deletes and purchases later."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if relay_numbers and aql is None:
        raise LiveReadError(
            "--relay-number needs the aql account, but ACCOUNT has no `aql:` section",
            hint="add `aql: {username, password}` to ACCOUNT",
        )
    scope = _Scope(
        every_service=True,
        schema_kinds=frozenset(KINDS),
        relay_numbers=tuple(relay_numbers),
        fingerprint=False,
        spared="nothing was exported",
    )
    return await _Reader(DesiredState(), aculab, aql, concurrency, progress, scope).run()


def _replace_kinds(desired: DesiredState) -> set[ServiceKind]:
    kinds: set[ServiceKind] = set()
    if any(s.mode == "replace" for s in desired.inbound_services.values()) or any(
        p.inbound is not None and p.inbound.mode == "replace" for p in desired.pools.values()
    ):
        kinds.add("inbound")
    if any(s.mode == "replace" for s in desired.outbound_services.values()):
        kinds.add("outbound")
    return kinds


class _Reader:
    """One read: the job queue, its workers, and what they found."""

    def __init__(
        self,
        desired: DesiredState,
        aculab: AculabClient | None,
        aql: AqlClient | None,
        concurrency: int,
        progress: ProgressCallback | None,
        scope: _Scope,
    ) -> None:
        self.desired = desired
        self.scope = scope
        self.aculab = aculab
        self.aql = aql
        self.concurrency = concurrency
        self.progress = progress
        self.pool = WorkPool(concurrency, progress=None if progress is None else self._report)
        # What was found.
        self.numbers: dict[str, LiveNumber] | None = None
        self._members: list[tuple[str, NumberPool]] | None = None  # see _pool_members
        self.names: dict[ServiceKind, set[str] | None] = {"inbound": None, "outbound": None}
        self.configs: dict[ServiceKind, dict[str, LiveService]] = {"inbound": {}, "outbound": {}}
        self.requested: dict[ServiceKind, set[str]] = {"inbound": set(), "outbound": set()}
        self.relay: dict[str, LiveRelayRoute] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.countries: dict[str, tuple[str, ...]] = {}
        self.states: dict[str, tuple[str, ...]] = {}
        self.regions: dict[tuple[str, str, str], tuple[str, ...]] = {}
        # States/regions calls refused (400) for a country: fine when that country is not for
        # sale at all (the planner's preflight names the pool); an error otherwise.
        self._refused: list[tuple[str, str, ApiStatusError]] = []
        self.addresses: dict[str, tuple[str, str]] | None = None
        # One re-list per kind when a listed service answers 404 (see the module docstring).
        self._relists: dict[ServiceKind, asyncio.Task[set[str]]] = {}
        # Resource fingerprints, computed as the resources arrive: the CPU is mostly idle
        # while the reads wait on the network, and planning would otherwise spend 0.15-0.2 s
        # on them at the end for a 10,000-number account.
        self.fingerprints: dict[str, str] = {}
        self._fingerprinting: asyncio.Task[None] | None = None

    @property
    def _cloud(self) -> AculabClient:
        # Aculab's jobs are queued only when there is an Aculab account (see run).
        assert self.aculab is not None
        return self.aculab

    # ----------------------------------------------------------------- the queue

    def add(self, job: Job) -> None:
        """Queue an Aculab read."""
        self.pool.add(job, self._cloud.http)

    def _report(self, done: int, total: int) -> None:
        """Progress with the total only once it is final: every read is queued by the time
        the numbers and both service lists are in (a total that grew as it went would only
        mislead)."""
        assert self.progress is not None
        listed = self.numbers is not None and None not in self.names.values()
        self.progress(done, total if listed else None)

    async def run(self) -> LiveState:
        # The lists first: they unlock the rest. The other reads keep the workers busy
        # meanwhile.
        if self.aculab is None:  # aql only: no Aculab account to read, nothing of it managed
            self.numbers = {}
            self.names = {"inbound": set(), "outbound": set()}
        else:
            self.add(self._list_numbers)
            self.add(lambda: self._list_services("inbound"))
            self.add(lambda: self._list_services("outbound"))
            for kind in sorted(self.scope.schema_kinds):
                self.add(self._schema_job(kind))
        for number in [*self.desired.relay_routes, *self.scope.relay_numbers]:
            self.pool.add(self._relay_job(number), self.aql.http if self.aql else None)
        if self.progress is not None:
            self._report(0, self.pool.total)

        try:
            await self.pool.run()
            if self._fingerprinting is not None:
                await self._fingerprinting
        except LiveReadError:
            raise
        except ReconcilerError as err:
            spared = self.scope.spared
            raise LiveReadError(
                f"could not read the live account: {err.message}",
                hint=f"{spared}; {err.hint}"
                if err.hint
                else f"{spared}; fix the cause and run the command again",
            ) from err
        finally:
            tasks: list[asyncio.Future[Any]] = [*self._relists.values()]
            if self._fingerprinting is not None:
                tasks.append(self._fingerprinting)
            for pending in tasks:
                pending.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._check_refusals()
        return self._snapshot()

    def _check_refusals(self) -> None:
        on_sale = {c.casefold() for countries in self.countries.values() for c in countries}
        states = {c.casefold(): {s.casefold() for s in v} for c, v in self.states.items()}
        for country, state, err in self._refused:
            known = states.get(country.casefold())
            if state and known is not None and state.casefold() not in known:
                continue  # the preflight names the state that is not one of the country's
            if country.casefold() in on_sale:
                raise LiveReadError(
                    f"could not read the live account: {err.message}",
                    hint=err.hint or "nothing was changed; check the pool's location",
                ) from err

    def _snapshot(self) -> LiveState:
        assert self.numbers is not None
        inbound_names, outbound_names = self.names["inbound"], self.names["outbound"]
        assert inbound_names is not None and outbound_names is not None
        return LiveState(
            numbers=self.numbers,
            inbound_names=frozenset(inbound_names),
            outbound_names=frozenset(outbound_names),
            inbound=self.configs["inbound"],
            outbound=self.configs["outbound"],
            relay_routes=self.relay,
            catalogue=Catalogue(
                countries=self.countries,
                states=self.states,
                regions=self.regions,
                regulation_addresses=self.addresses,
            ),
            service_schemas=self.schemas,
            known_fingerprints=self._known_fingerprints(inbound_names, outbound_names),
        )

    def _known_fingerprints(
        self, inbound_names: set[str], outbound_names: set[str]
    ) -> dict[str, str] | None:
        """Exactly the keys of LiveState.resource_fingerprints(): every number, every listed
        service (read, or only listed), every relay route; None when not fingerprinting."""
        if not self.scope.fingerprint:
            return None
        fingerprints = {k: v for k, v in self.fingerprints.items() if k.startswith("number:")}
        listed = service_fingerprint(None)
        for kind, names in (("inbound", inbound_names), ("outbound", outbound_names)):
            for name in names:
                key = f"{kind}:{name}"
                fingerprints[key] = self.fingerprints.get(key, listed)
        for number in self.relay:
            fingerprints[f"relay:{number}"] = self.fingerprints[f"relay:{number}"]
        return fingerprints

    # ----------------------------------------------------------------- lists

    async def _list_numbers(self) -> None:
        self.numbers = await self._cloud.list_numbers()
        self._after_lists()
        self._add_catalogue()
        if self.scope.fingerprint:
            self._fingerprinting = asyncio.ensure_future(self._fingerprint_numbers(self.numbers))

    async def _fingerprint_numbers(self, numbers: dict[str, LiveNumber]) -> None:
        """Fingerprint the numbers in slices, letting replies in between."""
        for count, (number, live) in enumerate(numbers.items(), 1):
            self.fingerprints[f"number:{number}"] = number_fingerprint(live)
            if count % 250 == 0:
                await asyncio.sleep(0)

    async def _list_services(self, kind: ServiceKind) -> None:
        names = {s.name for s in await self._cloud.list_services(kind)}
        self.names[kind] = names
        declared = sorted(names) if self.scope.every_service else self.desired.services(kind)
        self._add_reads(kind, [name for name in declared if name in names])
        if kind == "inbound":
            self._after_lists()

    def _after_lists(self) -> None:
        """Once both the numbers and the inbound list are known: read the inbound services
        of the pools' live numbers."""
        names = self.names["inbound"]
        if self.numbers is None or names is None:
            return
        wanted = [
            number
            for number, pool in self._pool_members()
            if pool.inbound is not None and number in names
        ]
        self._add_reads("inbound", wanted)

    def _pool_members(self) -> list[tuple[str, NumberPool]]:
        """Each live number in a pool, with its pool: the pool whose location it has. Pinned
        numbers belong to no pool (as the planner sees them): they neither count toward a
        pool nor get its ``inbound:`` service. Found once: the numbers are listed once."""
        assert self.numbers is not None
        if self._members is None:
            pool_of = self.desired.pool_of
            self._members = [
                (number, pool)
                for number, live in self.numbers.items()
                if (pool := pool_of(number, live.location)) is not None
            ]
        return self._members

    # ----------------------------------------------------------------- services

    def _add_reads(self, kind: ServiceKind, names: list[str]) -> None:
        for name in names:
            if name not in self.requested[kind]:
                self.requested[kind].add(name)
                self.add(self._read_job(kind, name))

    def _read_job(self, kind: ServiceKind, name: str) -> Job:
        async def job() -> None:
            try:
                config = await self._cloud.read_service(kind, name)
            except NotFoundError as err:
                await self._listed_but_gone(kind, name, err)
                return
            service = self.configs[kind][name] = LiveService(kind=kind, name=name, config=config)
            if self.scope.fingerprint:
                self.fingerprints[f"{kind}:{name}"] = service_fingerprint(service)

        return job

    async def _listed_but_gone(self, kind: ServiceKind, name: str, err: NotFoundError) -> None:
        """A listed service answered 404: list again (once per kind and read) to tell a
        deletion during the read from an inconsistency."""
        task = self._relists.get(kind)
        if task is None:

            async def relist() -> set[str]:
                return {s.name for s in await self._cloud.list_services(kind)}

            task = self._relists[kind] = asyncio.ensure_future(relist())
        fresh = await asyncio.shield(task)
        if name in fresh:
            raise LiveReadError(
                f"could not read the live account: {err.call} answered 404 although the "
                f"{kind} service list shows {name!r}, twice; the account is inconsistent or "
                "changing during the read",
                hint="run the command again; if it persists, check the service in the "
                "Aculab Cloud console",
            ) from err
        names = self.names[kind]
        assert names is not None
        names.discard(name)

    def _schema_job(self, kind: ServiceKind) -> Job:
        async def job() -> None:
            self.schemas[kind] = await self._cloud.service_schema(kind)

        return job

    # ----------------------------------------------------------------- relay routes

    def _relay_job(self, number: str) -> Job:
        async def job() -> None:
            assert self.aql is not None
            route = self.relay[number] = await self.aql.query(number)
            if self.scope.fingerprint:
                self.fingerprints[f"relay:{number}"] = relay_fingerprint(route)

        return job

    # ----------------------------------------------------------------- catalogue

    def _add_catalogue(self) -> None:
        """The purchase catalogue for pools short of their count, each list once."""
        have: dict[str, int] = {}
        for _number, pool in self._pool_members():
            have[pool.name] = have.get(pool.name, 0) + 1
        short = [p for p in self.desired.pools.values() if have.get(p.name, 0) < p.count]
        did_types: list[str] = []
        countries: list[str] = []
        regions: list[tuple[str, str, str]] = []
        for pool in short:
            loc = pool.location
            if loc.did_type not in did_types:
                did_types.append(loc.did_type)
            if loc.state and loc.country not in countries:
                countries.append(loc.country)
            key = (loc.country, loc.state or "", loc.did_type)
            if key not in regions:
                regions.append(key)
        for did_type in did_types:
            self.add(self._countries_job(did_type))
        for country in countries:
            self.add(self._states_job(country))
        for key in regions:
            self.add(self._regions_job(key))
        if any(p.regulation_address for p in short):
            self.add(self._addresses_job)

    def _countries_job(self, did_type: str) -> Job:
        async def job() -> None:
            self.countries[did_type] = tuple(await self._cloud.supported_countries(did_type))

        return job

    def _states_job(self, country: str) -> Job:
        async def job() -> None:
            try:
                self.states[country] = tuple(await self._cloud.supported_states(country))
            except ApiStatusError as err:
                if err.status != 400:
                    raise
                self._refused.append((country, "", err))

        return job

    def _regions_job(self, key: tuple[str, str, str]) -> Job:
        country, state, did_type = key

        async def job() -> None:
            try:
                found = await self._cloud.supported_regions(country, state or None, did_type)
            except ApiStatusError as err:
                if err.status != 400:
                    raise
                self._refused.append((country, state, err))
                return
            self.regions[key] = tuple(found)

        return job

    async def _addresses_job(self) -> None:
        self.addresses = await self._cloud.regulation_addresses()
