"""Inbound and outbound services: the vendor's examples replayed, schema, defaults, errors."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from reconciler.simulator import Simulator

from .test_numbers import error_of

OUT = "/service/v1/outbound"
IN = "/service/v1/inbound"
LINK = "https://www.aculab.com/cloud/web-services/services/outbound/management?target=service_action_tabs&tab-id="

REST_DEFAULTS = {
    "api_version": "2.0",
    "application_parameters": None,
    "tts_voice": "English UK Female Polly Amy",
    "max_call_duration": 240,
    "answer_timeout": 30,
}


def test_list_shape(client: httpx.Client) -> None:
    out = client.get(OUT).json()
    assert out == {
        "services": [
            {
                "name": "wakeup",
                "target": "https://app.example.com/wakeup",
                "description": "Wake-up calls",
            }
        ]
    }
    inbound = client.get(IN).json()["services"]
    assert [s["name"] for s in inbound] == ["441908538007", "442079460123", "sales-sip"]
    assert all(set(s) == {"name", "target", "description"} for s in inbound)


@pytest.mark.parametrize("kind", ["inbound", "outbound"])
def test_schema_is_draft07_and_strict(client: httpx.Client, kind: str) -> None:
    schema = client.get(f"/service/v1/schema/{kind}").json()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert schema["allOf"]
    assert ("service_password" in schema["properties"]) == (kind == "outbound")
    assert ("message_notification_page" in schema["properties"]) == (kind == "inbound")


def test_write_example_1_uas(client: httpx.Client, sim: Simulator) -> None:
    body = {
        "description": "This is my outbound UAS service",
        "service_password": "p@$$w0rd",
        "uas": {"application_name": "my_uas_app"},
    }
    r = client.put(f"{OUT}/MyFirstOutboundService", json=body)
    assert r.status_code == 201
    config = r.json()
    assert config["enabled"] is True
    assert config["service_password"] == "p@$$w0rd"
    assert config["extra_channels"] == 0 and config["g729"] is False
    assert config["application_type"] == "UAS"
    assert config["uas"] == {"application_name": "my_uas_app", "application_parameters": None}
    assert set(config) == {
        "enabled",
        "service_password",
        "description",
        "extra_channels",
        "g729",
        "call_constraints",
        "application_type",
        "uas",
        "rest",
        "fax",
    }
    assert client.get(f"{OUT}/MyFirstOutboundService").json() == config
    listed = {s["name"]: s for s in client.get(OUT).json()["services"]}
    assert listed["MyFirstOutboundService"]["target"] == "my_uas_app"


def test_write_example_2_and_3_rest(client: httpx.Client) -> None:
    body = {
        "service_password": "p@$$w0rd",
        "description": "This is my outbound REST service",
        "application_type": "REST",
        "rest": {
            "first_page": {"address": "http://11.222.33.44:50080/my_first_page"},
            "final_page": {"address": "http://11.222.33.44:50080/my_final_page"},
        },
    }
    r = client.put(f"{OUT}/MySecondOutboundService", json=body)
    assert r.status_code == 201
    rest = r.json()["rest"]
    assert rest["first_page"] == {
        "address": "http://11.222.33.44:50080/my_first_page",
        "method": "POST",
    }
    assert rest["final_page"] == {
        "address": "http://11.222.33.44:50080/my_final_page",
        "method": "POST",
    }
    assert rest["error_page"] == {"address": None, "method": "POST"}
    assert {k: rest[k] for k in REST_DEFAULTS} == REST_DEFAULTS
    assert isinstance(rest["authentication"], dict) and isinstance(rest["call_recording"], dict)
    assert isinstance(rest["call_configuration"], dict)

    # Example 3: replace; omitted options go back to their defaults (200: it existed)
    body3 = {
        "service_password": "p@$$w0rd",
        "application_type": "REST",
        "rest": {
            "first_page": {"address": "http://11.222.33.44:50080/my_first_page"},
            "error_page": {"address": "http://11.222.33.44:50080/my_error_page"},
        },
    }
    r = client.put(f"{OUT}/MySecondOutboundService", json=body3)
    assert r.status_code == 200
    config = r.json()
    assert config["description"] is None
    assert config["rest"]["final_page"] == {"address": None, "method": "POST"}
    assert config["rest"]["error_page"]["address"] == "http://11.222.33.44:50080/my_error_page"


def test_write_example_4_incomplete(client: httpx.Client, sim: Simulator) -> None:
    body = {"description": "This is my outbound REST service", "application_type": "REST"}
    r = client.put(f"{OUT}/MyExampleOutboundService", json=body)
    error = error_of(r, 400, "HTTP 400")
    assert error["text"] == "Failed to validate configuration, see details for more information."
    assert error["details"] == [
        "service_password None is not of type 'string'. For REST, you must provide a "
        "first_page, a service_password and you can not enable fax receive.",
        "rest.first_page.address None is not of type 'string'. For REST, you must provide a "
        "first_page, a service_password and you can not enable fax receive.",
    ]
    assert error["link"] == LINK + "write"
    assert r.json()["request"]["url"] == "/service/v1/outbound/MyExampleOutboundService"
    assert "MyExampleOutboundService" not in sim.state.services["outbound"]


def test_modify_example(client: httpx.Client, sim: Simulator) -> None:
    client.put(
        f"{OUT}/MyRESTOutboundService",
        json={
            "service_password": "p@$$w0rd",
            "description": "This is my outbound REST service",
            "application_type": "REST",
            "rest": {
                "first_page": {"address": "http://11.222.33.44:50080/my_first_page"},
                "final_page": {"address": "http://11.222.33.44:50080/my_final_page"},
            },
        },
    )
    patch = {
        "rest": {
            "final_page": {"address": None},
            "error_page": {"address": "http://11.222.33.44:50080/my_error_page"},
        }
    }
    r = client.patch(f"{OUT}/MyRESTOutboundService", json=patch)
    assert r.status_code == 200
    config = r.json()
    assert config["description"] == "This is my outbound REST service"  # kept
    assert config["rest"]["first_page"]["address"] == "http://11.222.33.44:50080/my_first_page"
    assert config["rest"]["final_page"] == {"address": None, "method": "POST"}
    assert config["rest"]["error_page"] == {
        "address": "http://11.222.33.44:50080/my_error_page",
        "method": "POST",
    }
    assert sim.state.services["outbound"]["MyRESTOutboundService"] == config


def test_modify_invalid_method(client: httpx.Client, sim: Simulator) -> None:
    before = client.get(f"{OUT}/wakeup").json()
    r = client.patch(f"{OUT}/wakeup", json={"rest": {"first_page": {"method": "haha"}}})
    error = error_of(r, 400, "HTTP 400")
    assert error["details"] == ["rest.first_page.method 'haha' is not one of ['GET', 'POST']."]
    assert error["link"] == LINK + "modify"
    assert client.get(f"{OUT}/wakeup").json() == before


def test_modify_null_clears(client: httpx.Client) -> None:
    r = client.patch(f"{OUT}/wakeup", json={"description": None})
    assert r.json()["description"] is None
    # clearing a mandatory option is refused by the schema
    r = client.patch(f"{OUT}/wakeup", json={"service_password": None})
    assert error_of(r, 400, "HTTP 400")["details"][0].startswith("service_password None is not")


@pytest.mark.parametrize(
    ("method", "tab"), [("GET", "read"), ("PATCH", "modify"), ("DELETE", "delete")]
)
def test_unknown_name_404(client: httpx.Client, method: str, tab: str) -> None:
    kw: dict[str, Any] = {"json": {"description": "x"}} if method == "PATCH" else {}
    r = client.request(method, f"{OUT}/MyRESTOutboundService", **kw)
    error = error_of(r, 404, "HTTP 404")
    assert error["text"] == "The service name does not exist"
    assert error["link"] == LINK + tab
    assert "details" not in error


def test_delete(client: httpx.Client, sim: Simulator) -> None:
    r = client.delete(f"{IN}/sales-sip")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"{IN}/sales-sip").status_code == 404
    assert "sales-sip" not in sim.state.services["inbound"]


def test_inbound_write_with_no_body(client: httpx.Client, running: Any) -> None:
    r = client.put(f"{IN}/441908000111")
    assert r.status_code == 201
    config = r.json()
    schema = client.get("/service/v1/schema/inbound").json()
    assert set(config) == set(schema["properties"])  # every option present
    assert config["application_type"] == "UAS" and config["enabled"] is True
    assert config["message_notification_page"] == {"address": None, "method": "POST"}
    assert "service_password" not in config
    r = client.put(f"{IN}/441908000111", json={"service_password": "nope1234"})
    details = error_of(r, 400, "HTTP 400")["details"]
    assert "'service_password' was unexpected" in details[0]


def test_inbound_rest_needs_a_first_page(client: httpx.Client) -> None:
    r = client.put(f"{IN}/sip-new", json={"application_type": "REST"})
    details = error_of(r, 400, "HTTP 400")["details"]
    assert details == [
        "rest.first_page.address None is not of type 'string'. For REST, you must provide a "
        "first_page and you can not enable fax receive."
    ]


def test_read_returns_every_option(client: httpx.Client) -> None:
    config = client.get(f"{IN}/441908538007").json()
    assert config["description"] == "Main line"
    assert config["rest"]["first_page"]["address"] == "https://app.example.com/support/first"
    assert config["rest"]["tts_voice"] == "English UK Female Polly Amy"
    wakeup = client.get(f"{OUT}/wakeup").json()
    assert wakeup["service_password"] == "wakeup-demo-password"  # clear text, as documented


def test_bad_bodies(client: httpx.Client) -> None:
    bad_json = client.put(
        f"{IN}/x", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    error_of(bad_json, 400, "HTTP 400")
    error_of(client.put(f"{IN}/x", json=[1, 2]), 400, "HTTP 400")
    error_of(client.get("/service/v1/fax"), 404, "HTTP 404")
    error_of(client.get("/service/v1/schema/fax"), 404, "HTTP 404")


def test_secrets_never_recorded(client: httpx.Client, sim: Simulator) -> None:
    body = {
        "service_password": "s3cret-value",
        "uas": {"application_name": "app"},
        "rest": {"authentication": {"username": "u", "password": "p4ss-value"}},
    }
    assert client.put(f"{OUT}/secretive", json=body).status_code == 201
    recorded = repr([(c.params, c.body) for c in sim.calls])
    assert "s3cret-value" not in recorded and "p4ss-value" not in recorded
    assert sim.calls[-1].body["service_password"] == "(sensitive)"
