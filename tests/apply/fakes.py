"""An in-memory account behind the client interface apply uses (``reconciler.apply.ports``).

The unit tests of the purchase recovery and of the applier's ordering need to script exactly
what goes wrong and when (a purchase that commits and then loses its reply, a list that lags
by N seconds on a clock the test controls, a re-list that fails): this fake is that script.
The end-to-end tests (``test_cli_e2e.py``) run the real CLI against the real simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import (
    ApiConnectionError,
    ApiStatusError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from reconciler.live.model import LiveNumber, LiveRelayRoute
from reconciler.secret import reveal


class Clock:
    """A clock the test drives: ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# What a scripted purchase does instead of answering normally.
COMMIT_THEN_LOSE = "commit-then-lose"  # buys, then the connection drops
SERVER_ERROR = "server-error"  # 503 before buying anything
REJECT = "reject"  # 400 0005: needs a regulation address
RATE_LIMITED = "rate-limited"  # 429, Retry-After 2


@dataclass
class DeleteAnswer:
    status: str
    failed: Mapping[str, tuple[str, str]] = field(default_factory=dict)


class FakeAculab:
    """Numbers, services and a purchase log; every call recorded in ``calls``."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or (lambda: 0.0)
        self.numbers: dict[str, LiveNumber] = {}
        self.visible_from: dict[str, float] = {}
        self.services: dict[str, dict[str, dict[str, Any]]] = {"inbound": {}, "outbound": {}}
        self.purchase_log: list[list[str]] = []
        self.calls: list[tuple[str, str]] = []
        self.purchase_script: list[str] = []
        self.commit_only: int | None = None  # COMMIT_THEN_LOSE buys this many (default all)
        self.list_failures = 0  # the next N list calls fail
        self.list_lag = 0.0
        self.fail_writes: dict[str, ApiStatusError] = {}  # "PUT inbound:x" -> error
        self.delete_failed: dict[str, tuple[str, str]] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.on_purchase: Callable[[Mapping[str, str]], None] | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.write_delay = 0.0
        self._next = 441632960000

    # ----------------------------------------------------------------- helpers

    def add_number(
        self,
        number: str,
        country: str,
        region: str,
        did_type: str = "geographic",
        state: str | None = None,
    ) -> None:
        self.numbers[number] = LiveNumber(
            number, country, region, did_type, state, "1.00", "2026-01-01"
        )

    def at(self, country: str, region: str) -> list[str]:
        return sorted(
            n
            for n, live in self.numbers.items()
            if (live.country, live.region) == (country, region)
        )

    def writes(self) -> list[tuple[str, str]]:
        return [
            c
            for c in self.calls
            if c[0] in {"PUT", "PATCH", "DELETE", "purchase", "delete_numbers"}
        ]

    async def _enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(self.write_delay)

    def _exit(self) -> None:
        self.in_flight -= 1

    # ----------------------------------------------------------------- numbers

    async def list_numbers(
        self,
        country: str | None = None,
        state: str | None = None,
        region: str | None = None,
        did_type: str | None = None,
    ) -> dict[str, LiveNumber]:
        self.calls.append(("list", f"{country}/{region}"))
        await asyncio.sleep(0)
        if self.list_failures:
            self.list_failures -= 1
            raise ServerError("HTTP 503", call="POST /tel_list_numbers", status=503)
        now = self.clock()
        out = {}
        for n, live in self.numbers.items():
            if self.visible_from.get(n, 0.0) > now:
                continue
            if country is not None and live.country != country:
                continue
            if region is not None and live.region != region:
                continue
            out[n] = live
        return out

    async def purchase(self, params: Mapping[str, str], *, development: bool = False) -> list[str]:
        if development:
            self.calls.append(("purchase_development", params["region"]))
            if self.purchase_script and self.purchase_script[0] == REJECT:
                self.purchase_script.pop(0)
                raise _reject()
            return ["1234567", "89012345"]
        self.calls.append(("purchase", f"{params['region']} x{params['quantity']}"))
        if self.on_purchase is not None:
            self.on_purchase(params)
        behaviour = self.purchase_script.pop(0) if self.purchase_script else "ok"
        if behaviour == SERVER_ERROR:
            raise ServerError("HTTP 503: unavailable", call="POST /tel_purchase", status=503)
        if behaviour == REJECT:
            raise _reject()
        if behaviour == RATE_LIMITED:
            raise RateLimitedError(
                "HTTP 429", call="POST /tel_purchase", status=429, retry_after=2.0
            )
        quantity = int(params["quantity"])
        if behaviour == COMMIT_THEN_LOSE and self.commit_only is not None:
            quantity = self.commit_only
        bought = []
        for _ in range(quantity):
            self._next += 1
            number = str(self._next)
            self.add_number(
                number, params["country"], params["region"], params["did_type"], params.get("state")
            )
            self.visible_from[number] = self.clock() + self.list_lag
            bought.append(number)
        self.purchase_log.append(bought)
        if behaviour == COMMIT_THEN_LOSE:
            raise ApiConnectionError(
                "connection lost; the outcome is unknown", call="POST /tel_purchase"
            )
        return bought

    async def delete_numbers(self, numbers: Sequence[str]) -> DeleteAnswer:
        self.calls.append(("delete_numbers", ",".join(numbers)))
        failed = {n: self.delete_failed[n] for n in numbers if n in self.delete_failed}
        for n in numbers:
            if n not in failed:
                self.numbers.pop(n, None)
        status = "OK" if not failed else ("FAIL" if len(failed) == len(numbers) else "PARTIAL")
        return DeleteAnswer(status, failed)

    # ----------------------------------------------------------------- services

    async def service_schema(self, kind: str) -> dict[str, Any]:
        self.calls.append(("schema", kind))
        return self.schemas[kind]

    async def read_service(self, kind: str, name: str) -> dict[str, Any]:
        self.calls.append(("GET", f"{kind}:{name}"))
        if name not in self.services[kind]:
            raise NotFoundError("HTTP 404", call=f"GET /service/v1/{kind}/{name}", status=404)
        return dict(self.services[kind][name])

    async def write_service(
        self, kind: str, name: str, body: Mapping[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        self.calls.append(("PUT", f"{kind}:{name}"))
        await self._enter()
        try:
            if f"PUT {kind}:{name}" in self.fail_writes:
                raise self.fail_writes[f"PUT {kind}:{name}"]
            created = name not in self.services[kind]
            self.services[kind][name] = reveal(dict(body))
            return created, dict(body)
        finally:
            self._exit()

    async def modify_service(self, kind: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("PATCH", f"{kind}:{name}"))
        await self._enter()
        try:
            if f"PATCH {kind}:{name}" in self.fail_writes:
                raise self.fail_writes[f"PATCH {kind}:{name}"]
            self.services[kind].setdefault(name, {}).update(reveal(dict(body)))
            return self.services[kind][name]
        finally:
            self._exit()

    async def delete_service(self, kind: str, name: str) -> None:
        self.calls.append(("DELETE", f"{kind}:{name}"))
        await self._enter()
        try:
            if f"DELETE {kind}:{name}" in self.fail_writes:
                raise self.fail_writes[f"DELETE {kind}:{name}"]
            if name not in self.services[kind]:
                raise NotFoundError(
                    "HTTP 404", call=f"DELETE /service/v1/{kind}/{name}", status=404
                )
            del self.services[kind][name]
        finally:
            self._exit()


class FakeAql:
    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls
        self.routes: dict[str, LiveRelayRoute] = {}

    async def modify(self, number: str, action: str, detail: Sequence[str]) -> LiveRelayRoute:
        self.calls.append(("relay", number))
        route = LiveRelayRoute(number, action, tuple(detail))
        self.routes[number] = route
        return route


def _reject() -> ApiStatusError:
    return ApiStatusError(
        "HTTP 400: 0005 the country needs a regulation address",
        call="POST /tel_purchase",
        status=400,
        code="0005",
        text="the country needs a regulation address",
    )
