"""Builders of desired and live state as plain objects, for planner tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
from reconciler.secret import conceal

FILE = "desired.yaml"


def at(line: int) -> Origin:
    return Origin(FILE, line, 3)


def location(
    country: str = "United Kingdom",
    region: str = "London",
    state: str | None = None,
    did_type: str = "geographic",
) -> Location:
    return Location(country=country, region=region, state=state, did_type=did_type)


def pool(
    name: str = "london",
    count: int = 1,
    *,
    loc: Location | None = None,
    inbound: Mapping[str, Any] | None = None,
    inbound_mode: str = "merge",
    line: int = 10,
    **kw: Any,
) -> NumberPool:
    return NumberPool(
        name=name,
        location=loc or location(),
        count=count,
        inbound=None
        if inbound is None
        else PoolInbound(config=conceal(dict(inbound)), mode=inbound_mode),  # type: ignore[arg-type]
        origin=at(line),
        **kw,
    )


def number(
    n: str,
    *,
    loc: Location | None = None,
    price: str | None = "1.00",
    purchased: str | None = "2024-01-01",
) -> LiveNumber:
    loc = loc or location()
    return LiveNumber(
        number=n,
        country=loc.country,
        region=loc.region,
        state=loc.state,
        did_type=loc.did_type,
        price=price,
        purchased=purchased,
    )


def service(
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    kind: str = "inbound",
    mode: str = "merge",
    ignore: Iterable[str] = (),
    line: int = 20,
) -> ServiceSpec:
    return ServiceSpec(
        kind=kind,  # type: ignore[arg-type]
        name=name,
        config=conceal(dict(config or {})),
        mode=mode,  # type: ignore[arg-type]
        ignore_changes=tuple(ignore),
        origin=at(line),
    )


def route(
    n: str, action: str, *detail: str, allow_mvno_takeover: bool = False, line: int = 30
) -> RelayRoute:
    return RelayRoute(
        number=n,
        action=action,
        detail=tuple(detail),
        allow_mvno_takeover=allow_mvno_takeover,
        origin=at(line),
    )


def desired(
    *,
    pools: Iterable[NumberPool] = (),
    pinned: Iterable[str] = (),
    services: Iterable[ServiceSpec] = (),
    routes: Iterable[RelayRoute] = (),
    prune: PruneSettings | None = None,
    safety: SafetyLimits | None = None,
) -> DesiredState:
    specs = list(services)
    return DesiredState(
        pools={p.name: p for p in pools},
        pinned={n: PinnedNumber(n, origin=at(5 + i)) for i, n in enumerate(pinned)},
        inbound_services={s.name: s for s in specs if s.kind == "inbound"},
        outbound_services={s.name: s for s in specs if s.kind == "outbound"},
        relay_routes={r.number: r for r in routes},
        prune=prune or PruneSettings(),
        safety=safety or SafetyLimits(),
        sources=(FILE,),
    )


def live(
    *,
    numbers: Iterable[LiveNumber] = (),
    inbound: Mapping[str, Mapping[str, Any]] | None = None,
    outbound: Mapping[str, Mapping[str, Any]] | None = None,
    inbound_names: Iterable[str] = (),
    outbound_names: Iterable[str] = (),
    routes: Mapping[str, tuple[str, ...]] | None = None,
    catalogue: Catalogue | None = None,
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> LiveState:
    """Live state; the read services are listed too, plus ``*_names`` listed but not read."""
    inbound = inbound or {}
    outbound = outbound or {}
    return LiveState(
        numbers={n.number: n for n in numbers},
        inbound_names=frozenset(inbound) | frozenset(inbound_names),
        outbound_names=frozenset(outbound) | frozenset(outbound_names),
        inbound={k: LiveService("inbound", k, conceal(dict(v))) for k, v in inbound.items()},
        outbound={k: LiveService("outbound", k, conceal(dict(v))) for k, v in outbound.items()},
        relay_routes={
            n: LiveRelayRoute(n, action, tuple(detail))
            for n, (action, *detail) in (routes or {}).items()
        },
        catalogue=catalogue or Catalogue(),
        service_schemas=schemas or {},
    )


# ----------------------------------------------------------------------------- a rich plan

# Distinctive secret values: no output, plan file or fingerprint may contain them.
SECRETS = (
    "pw-OLD-8c1f2e",
    "pw-NEW-3b9d7a",
    "urlpass-OLD-5e1d",
    "urlpass-NEW-77aa",
    "relaypass-OLD-41c3",
    "relaypass-NEW-0d2f",
    "tmplpass-9e0b",
)

OUTBOUND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "service_password": {"type": ["string", "null"], "default": None},
        "description": {"type": ["string", "null"], "default": None},
        "application_type": {"enum": ["UAS", "REST"], "default": "UAS"},
        "rest": {"$ref": "#/definitions/rest"},
    },
    "definitions": {
        "rest": {
            "type": "object",
            "properties": {
                "first_page": {
                    "type": "object",
                    "properties": {
                        "address": {"type": ["string", "null"], "default": None},
                        "method": {"enum": ["GET", "POST"], "default": "POST"},
                    },
                },
                "tts_voice": {"type": "string", "default": "English UK Female Polly Amy"},
                "max_call_duration": {"type": "integer", "default": 240},
            },
        }
    },
}


def rich() -> tuple[DesiredState, LiveState]:
    """Every kind of change, a warning, unmanaged numbers and secrets on both sides."""
    london = location(region="London")
    leeds = location(region="Leeds")
    tollfree = location(country="United Kingdom", region="800", did_type="tollfree")
    template = {
        "application_type": "REST",
        "rest": {"first_page": {"address": "https://app.example.com/support"}},
        "message_notification_page": {"address": "https://bot:tmplpass-9e0b@hooks.example.com/m"},
    }
    d = desired(
        pools=[
            pool("london-support", 3, loc=london, inbound=template, line=12),
            pool("leeds", 1, loc=leeds, line=18),
            pool(
                "freephone",
                2,
                loc=tollfree,
                allow_landline=True,
                allow_cellular=True,
                regulation_address="HQ",
                line=22,
            ),
        ],
        pinned=["441908538007"],
        services=[
            service(
                "441908538007",
                {"application_type": "REST", "description": "Main line"},
                line=40,
            ),
            service(
                "sales-sip",
                {"application_type": "REST", "rest": {"first_page": {"address": "https://s"}}},
                line=44,
            ),
            service(
                "wakeup",
                {
                    "service_password": "pw-NEW-3b9d7a",
                    "application_type": "REST",
                    "rest": {
                        "first_page": {"address": "https://u:urlpass-NEW-77aa@app.example.com/w"}
                    },
                },
                kind="outbound",
                mode="replace",
                ignore=["rest.tts_voice"],
                line=50,
            ),
            service(
                "billing",
                {"description": "Billing", "extra": {"a": 1, "b": [1, 2]}},
                kind="outbound",
                line=58,
            ),
        ],
        routes=[
            route("44113000111", "httppost", "https://a:relaypass-NEW-0d2f@sms.example.com/1"),
            route("44113000112", "null-route", line=33),
            route("44113000113", "email", "ops@example.com", line=34),
        ],
        prune=PruneSettings(inbound_services=True, ignore=("test-*",)),
    )
    lv = live(
        numbers=[
            number("441000000001", loc=london, price="1.20", purchased="2023-05-01"),
            number("441000000002", loc=london, price="1.30", purchased="2023-06-01"),
            number("442000000001", loc=leeds, price="0.90", purchased="2024-01-10"),
            number("442000000002", loc=leeds, price="0.90", purchased="2024-03-10"),
            number("442000000003", loc=leeds, price="0.95", purchased="2024-02-10"),
            number("441908538007", loc=location(region="Milton Keynes"), price="1.00"),
            number("447700900001", loc=location(region="Bristol"), price=None),
        ],
        inbound={
            "441000000001": {
                "application_type": "REST",
                "rest": {"first_page": {"address": "https://old.example.com/support"}},
                "message_notification_page": {
                    "address": "https://bot:tmplpass-9e0b@hooks.example.com/m"
                },
            },
            "441000000002": dict(template),
            "442000000002": {"application_type": "UAS"},
            "441908538007": {"application_type": "REST", "description": "Main line"},
            "old-sip": {"application_type": "UAS"},
            "test-keep": {"application_type": "UAS"},
        },
        outbound={
            "wakeup": {
                "enabled": True,
                "service_password": "pw-OLD-8c1f2e",
                "description": "set by hand",
                "application_type": "REST",
                "rest": {
                    "first_page": {
                        "address": "https://u:urlpass-OLD-5e1d@app.example.com/w",
                        "method": "POST",
                    },
                    "tts_voice": "Custom Voice",
                    "max_call_duration": 240,
                },
            },
            "billing": {"description": "Billing", "extra": {"a": 2, "b": [1, 2, 3], "c": 9}},
        },
        routes={
            "44113000111": ("httppost", "https://a:relaypass-OLD-41c3@sms.example.com/1"),
            "44113000112": ("mvno",),
            "44113000113": ("email", "ops@example.com"),
        },
        schemas={"outbound": OUTBOUND_SCHEMA},
    )
    return d, lv


def pinned_missing_desired(**kw: Any) -> DesiredState:
    """A desired state pinning 449, which no live state here holds."""
    return desired(pinned=["449"], **kw)


TEMPLATE_EMPTY: dict[str, Any] = {}
