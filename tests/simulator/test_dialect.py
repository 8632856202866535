"""The simulator's dialects: each alternative the vendor pages leave open, played on the wire.

Each test switches the shared simulator to one mode (the ``sim`` fixture puts the documented
dialect back) and checks what a client receives, against the same requests in the documented
dialect where that is the point.
"""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.errors import ConfigError
from reconciler.simulator import Dialect, Simulator
from reconciler.simulator.dialect import DOCUMENTED, ENVIRONMENT_VARIABLE, MODES

from .conftest import AQL_CREDENTIALS

OUT = "/service/v1/outbound"
IN = "/service/v1/inbound"


def _defaults_in(schema: dict[str, object]) -> int:
    """How many ``default`` keywords a schema holds (a property named "default" not counted)."""
    count = 0
    stack: list[object] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += "default" in node
            stack.extend(v for k, v in node.items() if k not in ("default", "properties"))
            if isinstance(node.get("properties"), dict):
                stack.extend(node["properties"].values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


# --------------------------------------------------------------------------- choosing a dialect


def test_modes_by_name_and_the_environment() -> None:
    assert Dialect.from_modes([]) == DOCUMENTED
    assert Dialect.from_modes(["documented"]).describe() == "documented"
    star = Dialect.from_modes(["aql-star", "HTML_errors"])
    assert (star.aql_separator, star.errors) == ("*", "html")
    assert star.modes == ("aql-star", "html-errors")
    every = Dialect.from_modes(["all"])
    assert set(every.modes) == set(MODES) - {"inbound-keyed"}
    env = Dialect.from_environment({ENVIRONMENT_VARIABLE: "no-schema-defaults, normalise"})
    assert (env.schema_defaults, env.normalise) == (False, True)
    assert Dialect.from_environment({}) == DOCUMENTED


def test_a_simulator_given_no_dialect_takes_the_environments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "inbound-keyed")
    assert Simulator().dialect.inbound_list == "keyed"
    assert Simulator(dialect=DOCUMENTED).dialect == DOCUMENTED


@pytest.mark.parametrize(
    ("modes", "said"),
    [(["aql-dash"], "unknown simulator dialect mode 'aql-dash'"),
     (["inbound-array", "inbound-keyed"], "contradict")],
)  # fmt: skip
def test_a_bad_mode_is_a_clear_error(modes: list[str], said: str) -> None:
    with pytest.raises(ConfigError) as info:
        Dialect.from_modes(modes)
    assert said in info.value.message
    assert info.value.hint


def test_a_bad_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        Dialect.from_environment({ENVIRONMENT_VARIABLE: "nope"})
    assert ENVIRONMENT_VARIABLE in info.value.message


# --------------------------------------------------------------------------- on the wire


@pytest.mark.parametrize("kind", ["inbound", "outbound"])
def test_schemas_without_defaults(client: httpx.Client, sim: Simulator, kind: str) -> None:
    documented = client.get(f"/service/v1/schema/{kind}").json()
    assert _defaults_in(documented) > 5
    sim.dialect = Dialect(schema_defaults=False)
    bare = client.get(f"/service/v1/schema/{kind}").json()
    assert _defaults_in(bare) == 0
    assert bare["properties"].keys() == documented["properties"].keys()
    # The server still fills the defaults on a write.
    body = {"service_password": "pw-1", "uas": {"application_name": "App"}}
    written = client.put(
        f"/service/v1/{kind}/dialect-test", json=body if kind == "outbound" else {}
    )
    assert written.status_code == 201, written.text
    assert written.json()["enabled"] is True


@pytest.mark.parametrize(
    ("shape", "expect"),
    [
        ("services", lambda e: {"services": e}),
        ("array", lambda e: e),
        ("keyed", lambda e: {x["name"]: {"target": x["target"], "description": x["description"]}
                             for x in e}),
    ],
)  # fmt: skip
def test_inbound_list_shapes(
    client: httpx.Client, sim: Simulator, shape: str, expect: object
) -> None:
    entries = client.get(IN).json()["services"]
    assert entries
    sim.dialect = Dialect(inbound_list=shape)  # type: ignore[arg-type]
    assert client.get(IN).json() == expect(entries)  # type: ignore[operator]
    assert "services" in client.get(OUT).json()  # the outbound list is documented


def test_html_errors(client: httpx.Client, sim: Simulator) -> None:
    sim.dialect = Dialect(errors="html")
    missing = client.get(f"{OUT}/no-such-service")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "The service name does not exist" in missing.text
    with pytest.raises(json.JSONDecodeError):
        missing.json()
    bad = client.put(f"{OUT}/x", json={"service_password": None})
    assert bad.status_code == 400 and "<li>service_password None" in bad.text
    regulated = client.post(
        "/tel_purchase_development", data={"country": "France", "region": "Paris"}
    )
    assert regulated.status_code == 400 and "0005: " in regulated.text
    anonymous = httpx.get(str(client.base_url) + "/tel_list_numbers")
    assert anonymous.status_code == 401 and "<html>" in anonymous.text


def test_aql_star_separator(aql: httpx.Client, sim: Simulator) -> None:
    sim.dialect = Dialect(aql_separator="*")
    ok = aql.post("", data={**AQL_CREDENTIALS, "command": "query", "number": "44113000111"})
    lines = ok.text.splitlines()
    assert lines[0] == "status * 200"
    assert lines[1] == "number * 44113000111"
    assert lines[2].startswith("action-type * ")
    assert lines[3].startswith("action-detail : ")
    bad = aql.post("", data={**AQL_CREDENTIALS, "command": "query", "number": "1"})
    assert bad.text == "69001 * number not valid\n"


def test_normalise_stores_what_it_likes(
    client: httpx.Client, aql: httpx.Client, sim: Simulator
) -> None:
    sim.dialect = Dialect(normalise=True)
    address = "HTTPS://App.Example.COM/First?Q=A"
    written = {"application_type": "REST", "rest": {"first_page": {"address": address}}}
    stored = client.put(f"{IN}/norm", json=written).json()
    assert stored["rest"]["first_page"]["address"] == "https://app.example.com/First?Q=A"
    assert client.get(f"{IN}/norm").json() == stored
    # A modify that clears an option with a default gets the default back.
    patched = client.patch(f"{IN}/norm", json={"rest": {"first_page": {"method": None}}}).json()
    assert patched["rest"]["first_page"]["method"] == "POST"
    sim.dialect = DOCUMENTED  # where the same modify is refused: null is no method
    refused = client.patch(f"{IN}/norm", json={"rest": {"first_page": {"method": None}}})
    assert refused.status_code == 400
    sim.dialect = Dialect(normalise=True)
    hook = "http://Hooks.Example.com/In?id=%i"
    reply = aql.post(
        "",
        data={**AQL_CREDENTIALS, "command": "modify", "number": "44113000111",
              "action-type": "httpget", "action-detail": hook},
    )  # fmt: skip
    assert "action-detail: http://hooks.example.com/In?id=%i" in reply.text
