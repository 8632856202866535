"""The server's service schemas, read at most once per kind and run, and the plan's bodies
checked against them.

The server's schema (``GET /service/v1/schema/{kind}``) is the authority on what a service
configuration may hold. :func:`check_plan_bodies` checks every body a plan would write
(:mod:`reconciler.plan.bodies`) before anything is written or bought: ``plan`` fails on a
body the server would refuse, and ``apply`` refuses before its first purchase. A dry run
checks each change's body again as it goes (:meth:`ServiceSchemas.problems`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.apply.ports import AculabApi
from reconciler.errors import PlanError
from reconciler.plan.bodies import Body, check_bodies, kinds_to_check, schema_problems


class ServiceSchemas:
    """The server's service schemas, fetched at most once per kind for one run."""

    def __init__(
        self, aculab: AculabApi, known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.aculab = aculab
        self._schemas: dict[str, Mapping[str, Any]] = dict(known or {})
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def known(self) -> Mapping[str, Mapping[str, Any]]:
        """The schemas read so far (or given), by kind."""
        return self._schemas

    async def get(self, kind: str) -> Mapping[str, Any]:
        if kind in self._schemas:
            return self._schemas[kind]
        lock = self._locks.setdefault(kind, asyncio.Lock())
        async with lock:
            if kind not in self._schemas:
                self._schemas[kind] = await self.aculab.service_schema(kind)
        return self._schemas[kind]

    async def problems(self, kind: str, body: Mapping[str, Any]) -> list[str]:
        """Every way ``body`` breaks the server's schema for ``kind`` (empty when valid),
        as ``path: message`` lines, secrets masked."""
        return [str(p) for p in schema_problems(await self.get(kind), body)]


async def check_plan_bodies(bodies: Sequence[Body], schemas: ServiceSchemas) -> None:
    """Raise :class:`PlanError` naming every one of ``bodies`` (a plan's, from
    :func:`reconciler.plan.bodies.bodies_to_write`) that the server's schema refuses, each at
    the place of the offending key. Reads the schema of a kind only when a body of that kind
    is to be written (and the live read didn't already)."""
    if not bodies:
        return
    kinds = sorted(kinds_to_check(bodies))
    read = await asyncio.gather(*(schemas.get(kind) for kind in kinds))
    problems = check_bodies(bodies, dict(zip(kinds, read, strict=True)), whose="the server's")
    if problems:
        raise PlanError(
            problems,
            hint="the server would refuse these bodies (nothing was changed); fix each place "
            "named above: `reconciler validate` checks these bodies offline",
        )
