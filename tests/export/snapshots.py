"""Hand-built whole-account snapshots for the export writer's tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.live.model import LiveNumber, LiveRelayRoute, LiveService, LiveState


def whole_account(
    *,
    numbers: Mapping[str, LiveNumber] | None = None,
    services: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
    relay_routes: Mapping[str, LiveRelayRoute] | None = None,
) -> LiveState:
    """A :class:`LiveState` as :func:`reconciler.live.reader.read_account` returns it: every
    listed service read in full."""
    services = services or {}
    inbound = {n: LiveService("inbound", n, c) for n, c in services.get("inbound", {}).items()}
    outbound = {n: LiveService("outbound", n, c) for n, c in services.get("outbound", {}).items()}
    return LiveState(
        numbers=dict(numbers or {}),
        inbound_names=frozenset(inbound),
        outbound_names=frozenset(outbound),
        inbound=inbound,
        outbound=outbound,
        relay_routes=dict(relay_routes or {}),
        service_schemas=dict(schemas or {}),
    )
