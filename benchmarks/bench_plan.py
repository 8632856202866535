"""Benchmark of the planner (issue 5): ``python -m benchmarks.bench_plan``.

Generates a desired state and a live snapshot of 10,000 numbers (in pools, a tenth of them
with an inbound template), 2,000 inbound services (1,800 of pool numbers, 200 SIP-named),
200 outbound services (half in replace mode, against a schema with defaults) and 1,000 relay
routes, as plain objects, then times ``make_plan`` (the reads are not included):

- nothing differs (target: under 1 s);
- 10% differ: a tenth of the services and relay routes changed, pools short and over by a
  tenth of their count (target: under 2 s).

Also times rendering the 10% plan as text, JSON and Markdown, and saving it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from reconciler.configuration import deep_merge, schema_defaults
from reconciler.desired.model import (
    DesiredState,
    Location,
    NumberPool,
    Origin,
    PinnedNumber,
    PoolInbound,
    PruneSettings,
    RelayRoute,
    SafetyLimits,
    ServiceSpec,
)
from reconciler.live.model import Catalogue, LiveNumber, LiveRelayRoute, LiveService, LiveState
from reconciler.plan.planner import make_plan
from reconciler.plan.render import render_json, render_markdown, render_text
from reconciler.plan.safety import Verdict
from reconciler.plan.saved import save_plan
from reconciler.secret import Secret, conceal

NUMBERS = 10_000
POOL_SIZE = 100
INBOUND_POOLS = 18  # 18 x 100 pool numbers with an inbound service
SIP_INBOUND = 200
OUTBOUND = 200
RELAY = 1_000

# Used when the simulator's schemas are not in the checkout: a few options with defaults.
_FALLBACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "description": {"type": ["string", "null"], "default": None},
        "service_password": {"type": ["string", "null"], "default": None},
        "application_type": {"enum": ["UAS", "REST"], "default": "UAS"},
        "rest": {
            "type": "object",
            "properties": {
                "api_version": {"type": "string", "default": "2.0"},
                "tts_voice": {"type": "string", "default": "English UK Female Polly Amy"},
                "first_page": {
                    "type": "object",
                    "properties": {
                        "address": {"type": ["string", "null"], "default": None},
                        "method": {"type": "string", "default": "POST"},
                    },
                },
            },
        },
    },
}


def service_schema(kind: str) -> dict[str, Any]:
    """The schema the simulator serves (``schemas/service-<kind>.schema.json``)."""
    path = Path(__file__).resolve().parent.parent / "schemas" / f"service-{kind}.schema.json"
    if path.is_file():
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return schema
    return _FALLBACK_SCHEMA


def _as_read(defaults: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """A configuration as the API reads it back after a PUT: every option present."""
    return deep_merge(copy.deepcopy(defaults), declared)


def generate(differ: float, scale: float = 1.0) -> tuple[DesiredState, LiveState]:
    """Desired and live state where about ``differ`` of everything differs; ``scale`` shrinks
    every count (at least one pool and one of each), for a quick run of the harness."""

    def scaled(n: int) -> int:
        return max(1, round(n * scale))

    n_pools = scaled(NUMBERS // POOL_SIZE)
    inbound_pools = scaled(INBOUND_POOLS)
    sip_inbound, outbound_count, relay_count = scaled(SIP_INBOUND), scaled(OUTBOUND), scaled(RELAY)
    origin = Origin("bench.yaml", 1, 1)
    every = round(1 / differ) if differ else 0

    def changed(i: int) -> bool:
        return bool(every) and i % every == 0

    schemas = {"inbound": service_schema("inbound"), "outbound": service_schema("outbound")}
    defaults = {kind: schema_defaults(schema) for kind, schema in schemas.items()}

    pools: dict[str, NumberPool] = {}
    numbers: dict[str, LiveNumber] = {}
    inbound_live: dict[str, LiveService] = {}
    template = conceal(
        {
            "application_type": "REST",
            "rest": {"first_page": {"address": "https://app.example.com/in"}},
        }
    )
    for p in range(n_pools):
        loc = Location(country="United Kingdom", region=f"Region {p:03d}", did_type="geographic")
        inbound = PoolInbound(config=template) if p < inbound_pools else None
        have = POOL_SIZE
        if every and p % (2 * every) == every:
            have = POOL_SIZE - POOL_SIZE // 10  # short: a purchase
        elif every and p % (2 * every) == 0:
            have = POOL_SIZE + POOL_SIZE // 10  # over: releases
        pools[f"pool-{p:03d}"] = NumberPool(
            name=f"pool-{p:03d}", location=loc, count=POOL_SIZE, inbound=inbound, origin=origin
        )
        for i in range(have):
            number = f"44{p:03d}{i:07d}"
            numbers[number] = LiveNumber(
                number=number,
                country=loc.country,
                region=loc.region,
                did_type="geographic",
                price="1.50",
                purchased=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            )
            if inbound is not None:
                config = _as_read(defaults["inbound"], template)
                if changed(i):
                    config["rest"]["first_page"]["address"] = "https://old.example.com/in"
                inbound_live[number] = LiveService("inbound", number, config)

    inbound_specs: dict[str, ServiceSpec] = {}
    for s in range(sip_inbound):
        name = f"sip-{s:04d}"
        declared = conceal(
            {
                "application_type": "REST",
                "description": f"SIP {s}",
                "rest": {"first_page": {"address": f"https://app.example.com/sip/{s}"}},
            }
        )
        inbound_specs[name] = ServiceSpec("inbound", name, declared, origin=origin)
        config = _as_read(defaults["inbound"], declared)
        if changed(s):
            config["description"] = "edited by hand"
        inbound_live[name] = LiveService("inbound", name, config)

    outbound_specs: dict[str, ServiceSpec] = {}
    outbound_live: dict[str, LiveService] = {}
    for s in range(outbound_count):
        name = f"out-{s:04d}"
        address = f"https://app.example.com/out/{s}"
        declared = conceal(
            {
                "service_password": f"pw-{s}-secret",
                "application_type": "REST",
                "rest": {"first_page": {"address": address}},
            }
        )
        mode: Literal["merge", "replace"] = "replace" if s % 2 else "merge"
        outbound_specs[name] = ServiceSpec(
            "outbound", name, declared, mode=mode, ignore_changes=("rest.tts_voice",), origin=origin
        )
        config = _as_read(defaults["outbound"], declared)
        if changed(s):
            config["rest"]["first_page"]["address"] = address + "/old"
            config["service_password"] = Secret("rotated-by-hand")
        outbound_live[name] = LiveService("outbound", name, config)

    routes: dict[str, RelayRoute] = {}
    routes_live: dict[str, LiveRelayRoute] = {}
    for r in range(relay_count):
        number = f"4477{r:08d}"
        detail = (f"https://sms.example.com/{r}?id=%i&orig=%o&msg=%m",)
        routes[number] = RelayRoute(number, "httppost", detail, origin=origin)
        live_detail = detail if not changed(r) else ("https://old.example.com/sms",)
        routes_live[number] = LiveRelayRoute(number, "httppost", live_detail)

    # A pinned number outside the pools, with its own declared inbound service.
    pinned_number = "441908538007"
    numbers[pinned_number] = LiveNumber(
        pinned_number, "United Kingdom", "Milton Keynes", "geographic", price="1.50"
    )
    pinned_config = conceal({"application_type": "REST", "description": "Main line"})
    inbound_specs[pinned_number] = ServiceSpec(
        "inbound", pinned_number, pinned_config, origin=origin
    )
    inbound_live[pinned_number] = LiveService(
        "inbound", pinned_number, _as_read(defaults["inbound"], pinned_config)
    )

    desired = DesiredState(
        pools=pools,
        pinned={pinned_number: PinnedNumber(pinned_number, origin)},
        inbound_services=inbound_specs,
        outbound_services=outbound_specs,
        relay_routes=routes,
        prune=PruneSettings(inbound_services=True, outbound_services=True, ignore=("test-*",)),
        safety=SafetyLimits(max_purchase=1_000, max_delete_percent=100, max_update_percent=100),
        sources=("bench.yaml",),
    )
    catalogue = Catalogue(
        countries={"geographic": ("United Kingdom", "Canada", "Germany")},
        states={"United Kingdom": ()},
        regions={
            ("United Kingdom", "", "geographic"): tuple(f"Region {p:03d}" for p in range(n_pools))
        },
    )
    live = LiveState(
        numbers=numbers,
        inbound_names=frozenset(inbound_live) | {"test-keep"},
        outbound_names=frozenset(outbound_live),
        inbound=inbound_live,
        outbound=outbound_live,
        relay_routes=routes_live,
        catalogue=catalogue,
        service_schemas=schemas,
    )
    return desired, live


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(best, median) seconds over ``repeat`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print(
        f"{NUMBERS:,} numbers, {INBOUND_POOLS * POOL_SIZE + SIP_INBOUND:,} inbound and "
        f"{OUTBOUND:,} outbound services, {RELAY:,} relay routes; best/median of {args.repeat}"
    )
    for label, differ, target in (("nothing differs", 0.0, 1.0), ("10% differ", 0.1, 2.0)):
        desired, live = generate(differ)
        best, median, plan = _time(functools.partial(make_plan, desired, live), args.repeat)
        c = plan.counts()
        verdict = "ok" if median < target else "OVER TARGET"
        print(
            f"make_plan, {label:15}: best {best:.3f} s, median {median:.3f} s "
            f"(target < {target:.0f} s: {verdict}); {len(plan.changes):,} changes {c}"
        )
    blocked = Verdict()
    for name, render in (
        ("render_text", lambda: render_text(plan, blocked, color=False)),
        ("render_json", lambda: render_json(plan, blocked)),
        ("render_markdown", lambda: render_markdown(plan, blocked)),
    ):
        best, median, _ = _time(render, args.repeat)
        print(f"{name:15} (10% plan): best {best:.3f} s, median {median:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        best, median, _ = _time(lambda: save_plan(plan, path), args.repeat)
        print(
            f"save_plan       (10% plan): best {best:.3f} s, median {median:.3f} s, "
            f"{path.stat().st_size:,} bytes"
        )


if __name__ == "__main__":
    main()
