"""The export writer on hand-built snapshots: defaults dropped, pools, placeholders, escaping."""

from __future__ import annotations

import json
from typing import Any

import yaml

from export.snapshots import whole_account
from reconciler.configuration import schema_defaults
from reconciler.desired.model import Location
from reconciler.export.defaults import strip_defaults
from reconciler.export.writer import FILES, build_export, pool_names
from reconciler.live.model import LiveNumber, LiveRelayRoute, LiveState
from reconciler.secret import Secret, conceal

SECRET = "Zk8-export-secret-value"

PAGE = {
    "type": "object",
    "properties": {
        "address": {"type": ["string", "null"], "default": None},
        "method": {"enum": ["GET", "POST"], "default": "POST"},
    },
    "default": {"address": None, "method": "POST"},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "description": {"type": ["string", "null"], "default": None},
        "extra_channels": {"type": "integer", "default": 0},
        "service_password": {"type": ["string", "null"], "default": None},
        "rest": {"$ref": "#/definitions/rest"},
    },
    "definitions": {
        "page": PAGE,
        "rest": {
            "type": "object",
            "properties": {
                "first_page": {"$ref": "#/definitions/page"},
                "tts_voice": {"type": "string", "default": "English UK Female Polly Amy"},
                "authentication": {
                    "type": "object",
                    "properties": {
                        "username": {"default": None},
                        "password": {"default": None},
                    },
                },
            },
        },
    },
}
ACCOUNT = {
    "version": 1,
    "aculab": {"cloud_id": "1-2-0", "username": "ops@example.com", "api_key": "${MY_KEY}"},
    "aql": {"username": "example", "password": SECRET},  # written in clear: never copied
    "inbound_services": {"x": {"description": SECRET}},  # the rest is ignored
}


def _full(**over: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "enabled": True,
        "description": None,
        "extra_channels": 0,
        "service_password": None,
        "rest": {
            "first_page": {"address": None, "method": "POST"},
            "tts_voice": "English UK Female Polly Amy",
            "authentication": {"username": None, "password": None},
        },
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return conceal(config)  # type: ignore[no-any-return]


def _num(n: str, region: str, **kw: str) -> LiveNumber:
    return LiveNumber(
        n, kw.pop("country", "United Kingdom"), region, kw.pop("did_type", "geographic"), **kw
    )


def _snapshot(**kw: Any) -> LiveState:
    base: dict[str, Any] = {
        "numbers": {},
        "services": {"inbound": {}, "outbound": {}},
        "schemas": {"inbound": SCHEMA, "outbound": SCHEMA},
        "relay_routes": {},
    }
    base.update(kw)
    return whole_account(**base)


def test_schema_defaults_follow_refs_and_object_defaults() -> None:
    d = schema_defaults(SCHEMA)
    assert d["enabled"] is True
    assert d["rest"]["first_page"] == {"address": None, "method": "POST"}
    assert d["rest"]["tts_voice"] == "English UK Female Polly Amy"


def test_strip_defaults_keeps_only_what_differs() -> None:
    d = schema_defaults(SCHEMA)
    live = _full(enabled=False, rest={"first_page": {"address": "https://a/x", "method": "POST"}})
    assert strip_defaults(live, d) == {
        "enabled": False,
        "rest": {"first_page": {"address": "https://a/x"}},
    }
    assert strip_defaults(_full(), d) == {}
    # True is not the default 1, nor 0 the default False
    assert strip_defaults({"extra_channels": False}, d) == {"extra_channels": False}


def test_pins_services_and_secret_placeholders() -> None:
    snap = _snapshot(
        numbers={"441908538007": _num("441908538007", "Milton Keynes")},
        services={
            "inbound": {"441908538007": _full(description="Main line")},
            "outbound": {
                "wakeup": _full(
                    service_password=SECRET,
                    rest={
                        "first_page": {"address": f"https://bob:{SECRET}@app.example.com/w"},
                        "authentication": {"username": "u", "password": SECRET},
                    },
                )
            },
        },
        relay_routes={
            "44113000111": LiveRelayRoute(
                "44113000111", "httppost", ("https://a/1", "https://b/2")
            ),
            "44113000113": LiveRelayRoute("44113000113", "mvno"),
        },
    )
    result = build_export(snap, ACCOUNT, schema_ref="../schemas/desired-state.schema.json")
    text = result.files["-"]
    assert SECRET not in text
    assert text.startswith("# yaml-language-server: $schema=../schemas/desired-state.schema.json\n")
    data = yaml.safe_load(text)
    assert data["version"] == 1
    assert data["aculab"]["api_key"] == "${MY_KEY}"  # the ACCOUNT file's own reference
    assert data["aql"]["password"] == "${AQL_PASSWORD}"  # a clear value is never copied
    assert data["numbers"] == {"pinned": {"441908538007": {}}}
    assert data["inbound_services"] == {"441908538007": {"description": "Main line"}}
    wakeup = data["outbound_services"]["wakeup"]
    assert wakeup["service_password"] == "${OUTBOUND_WAKEUP_SERVICE_PASSWORD}"
    assert wakeup["rest"]["authentication"] == {
        "username": "u",
        "password": "${OUTBOUND_WAKEUP_REST_AUTHENTICATION_PASSWORD}",
    }
    assert (
        wakeup["rest"]["first_page"]["address"]
        == "https://bob:${OUTBOUND_WAKEUP_REST_FIRST_PAGE_ADDRESS_PASSWORD}@app.example.com/w"
    )
    assert data["relay_routes"] == {
        "44113000111": {"action": "httppost", "detail": ["https://a/1", "https://b/2"]}
    }
    names = [p.name for p in result.placeholders]
    assert names == [
        "MY_KEY",
        "AQL_PASSWORD",
        "OUTBOUND_WAKEUP_SERVICE_PASSWORD",
        "OUTBOUND_WAKEUP_REST_FIRST_PAGE_ADDRESS_PASSWORD",
        "OUTBOUND_WAKEUP_REST_AUTHENTICATION_PASSWORD",
    ]
    # listed at the end, as a comment block
    tail = text[text.index("# Secrets:") :]
    assert all(n in tail for n in names)
    assert "44113000113" in result.notes[0] and "mvno" in result.notes[0]


def test_literal_dollar_brace_is_escaped() -> None:
    snap = _snapshot(
        services={"inbound": {"sip": _full(description="costs ${price}")}, "outbound": {}}
    )
    data = yaml.safe_load(build_export(snap, ACCOUNT).files["-"])
    assert data["inbound_services"]["sip"]["description"] == "costs $${price}"


def test_pools_group_by_location_and_share_identical_inbound() -> None:
    support = _full(rest={"first_page": {"address": "https://app.example.com/support"}})
    snap = _snapshot(
        numbers={
            "442070000001": _num("442070000001", "London"),
            "442070000002": _num("442070000002", "London"),
            "441908538007": _num("441908538007", "Milton Keynes"),
            "441908538008": _num("441908538008", "Milton Keynes"),
            "18555550100": _num("18555550100", "855", country="Canada", did_type="tollfree"),
        },
        services={
            "inbound": {
                "442070000001": support,
                "442070000002": support,
                "441908538007": _full(description="Main line"),  # differs from its neighbour
                "441908538008": support,
            },
            "outbound": {},
        },
    )
    data = yaml.safe_load(build_export(snap, ACCOUNT, pools=True).files["-"])
    pools = data["numbers"]["pools"]
    assert set(pools) == {"london", "milton-keynes", "tollfree-855"}
    assert pools["london"]["count"] == 2
    assert pools["london"]["inbound"] == {
        "rest": {"first_page": {"address": "https://app.example.com/support"}}
    }
    assert "inbound" not in pools["milton-keynes"]
    assert pools["tollfree-855"]["did_type"] == "tollfree"
    assert pools["tollfree-855"]["allow_landline"] is True
    assert set(data["inbound_services"]) == {"441908538007", "441908538008"}
    assert "pinned" not in data["numbers"]


def test_pool_names_are_unique() -> None:
    names = pool_names(
        [
            Location("United Kingdom", "London"),
            Location("Canada", "London", state="Ontario"),
            Location("Canada", "905", did_type="national"),
        ]
    )
    assert sorted(names.values()) == [
        "canada-ontario-london",
        "national-905",
        "united-kingdom-london",
    ]


def test_split_export_has_one_file_per_section() -> None:
    snap = _snapshot(
        numbers={"441908538007": _num("441908538007", "Milton Keynes")},
        services={"inbound": {}, "outbound": {"wakeup": _full(service_password=SECRET)}},
    )
    result = build_export(snap, ACCOUNT, split=True)
    assert list(result.files) == [
        "account.yaml",
        "numbers.yaml",
        "outbound-services.yaml",
        "desired-state.schema.json",
    ]
    assert set(result.files) <= set(FILES)
    assert json.loads(result.files["desired-state.schema.json"])["title"]
    for name, text in result.files.items():
        if not name.endswith(".yaml"):
            continue
        assert text.startswith("# yaml-language-server: $schema=desired-state.schema.json\n")
        assert yaml.safe_load(text)["version"] == 1
        assert SECRET not in text
    assert "OUTBOUND_WAKEUP_SERVICE_PASSWORD" in result.files["outbound-services.yaml"]
    assert "OUTBOUND_WAKEUP_SERVICE_PASSWORD" not in result.files["account.yaml"]


def test_secret_objects_never_reach_the_yaml() -> None:
    snap = _snapshot(
        services={"inbound": {}, "outbound": {"w": {"service_password": Secret(SECRET)}}}
    )
    assert SECRET not in build_export(snap, ACCOUNT).files["-"]
