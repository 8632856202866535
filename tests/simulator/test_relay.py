"""The aql relay gateway: the documented examples and every status code."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from reconciler.simulator import RunningSimulator, Simulator

from .conftest import AQL_CREDENTIALS

CALLBACK = "http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m"


def send(aql: httpx.Client, method: str = "POST", **params: str) -> str:
    data = {**AQL_CREDENTIALS, **params}
    r = aql.get("", params=data) if method == "GET" else aql.post("", data=data)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def test_documented_modify_example_by_get(
    aql: httpx.Client, sim: Simulator, running: RunningSimulator
) -> None:
    sim.state.relay["44113000111"] = ("null-route", "")
    # the documented URL, with the credentials of this simulator
    url = (
        "?username=example&password=sim-aql-password&command=modify&number=44113000111"
        "&action-type=httpget&action-detail="
        "http%3A%2F%2Fwww.yourdomain.co.uk%2Fcallback.php%3Fid%3D%25i%26orig%3D%25o%26msg%3D%25m"
    )
    r = aql.get(running.aql_url + url)
    assert r.text == (
        f"200: OK\nnumber: 44113000111\n  action-type: httpget\n  action-detail: {CALLBACK}\n"
    )
    assert sim.state.relay["44113000111"] == ("httpget", CALLBACK)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_query(aql: httpx.Client, method: str) -> None:
    text = send(aql, method, command="query", number="44113000112")
    assert text == (
        "200: OK\nnumber: 44113000112\n"
        "  action-type: email\n"
        "  action-detail: sms-inbox@example.com\n"
    )


def test_modify_with_fallback_urls_then_query(aql: httpx.Client, sim: Simulator) -> None:
    detail = "https://primary.example.com/sms?id=%i,https://backup.example.com/sms?id=%i"
    text = send(
        aql,
        command="modify",
        number="44113000111",
        **{"action-type": "httppost", "action-detail": detail},
    )
    assert text.splitlines()[0] == "200: OK"
    assert (
        send(aql, command="query", number="44113000111").splitlines()[3]
        == f"  action-detail: {detail}"
    )


def test_email_and_null_route(aql: httpx.Client, sim: Simulator) -> None:
    send(
        aql,
        command="modify",
        number="44113000114",
        **{"action-type": "email", "action-detail": "a@example.com,b@example.org"},
    )
    assert sim.state.relay["44113000114"] == ("email", "a@example.com,b@example.org")
    text = send(aql, command="modify", number="44113000114", **{"action-type": "null-route"})
    assert text.splitlines()[2:] == ["  action-type: null-route", "  action-detail: "]
    assert sim.state.relay["44113000114"] == ("null-route", "")


def test_return_mode_url(aql: httpx.Client) -> None:
    text = send(aql, command="query", number="44113000111", **{"return-mode": "url"})
    assert dict(parse_qsl(text)) == {
        "status": "200",
        "description": "OK",
        "number": "44113000111",
        "action-type": "httpget",
        "action-detail": CALLBACK,
    }
    failed = send(aql, command="query", number="999", **{"return-mode": "url"})
    assert failed == "status=69001&description=Number+not+valid"


@pytest.mark.parametrize(
    ("params", "line"),
    [
        ({"command": "delete", "number": "44113000111"}, "600: Invalid Command"),
        ({"command": "query"}, "400: Bad request"),
        ({"command": "query", "number": "44999999999"}, "69001: Number not valid"),
        ({"command": "query", "number": "4411300011x"}, "69001: Number not valid"),
        (
            {"command": "modify", "number": "44113000111", "action-type": "sms"},
            "69003: action-type is invalid",
        ),
        (
            {"command": "modify", "number": "44113000111", "action-type": "mvno"},
            "69003: action-type is invalid",
        ),
        (
            {
                "command": "modify",
                "number": "44113000111",
                "action-type": "httpget",
                "action-detail": "ftp://x",
            },
            "69004: action-detail is invalid for the provided action-type",
        ),
        (
            {"command": "modify", "number": "44113000111", "action-type": "httppost"},
            "69004: action-detail is invalid for the provided action-type",
        ),
        (
            {
                "command": "modify",
                "number": "44113000111",
                "action-type": "email",
                "action-detail": "not-an-address",
            },
            "69004: action-detail is invalid for the provided action-type",
        ),
    ],
)
def test_failure_codes(
    aql: httpx.Client, sim: Simulator, params: dict[str, str], line: str
) -> None:
    before = dict(sim.state.relay)
    assert send(aql, **params) == line + "\n"
    assert sim.state.relay == before


def test_authentication(aql: httpx.Client, sim: Simulator) -> None:
    r = aql.post(
        "",
        data={
            "username": "example",
            "password": "wrong",
            "command": "query",
            "number": "44113000111",
        },
    )
    assert r.text == "401: Authentication error\n"
    r = aql.get("", params={"command": "query", "number": "44113000111"})
    assert r.text == "401: Authentication error\n"
    # credentials never reach the record of calls
    assert all("password" not in c.params and "username" not in c.params for c in sim.calls)
    assert "wrong" not in repr(sim.calls)


def test_mvno_can_be_read_and_left(aql: httpx.Client, sim: Simulator) -> None:
    assert "  action-type: mvno" in send(aql, command="query", number="44113000113")
    send(
        aql,
        command="modify",
        number="44113000113",
        **{"action-type": "httpget", "action-detail": CALLBACK},
    )
    assert sim.state.relay["44113000113"] == ("httpget", CALLBACK)


def test_parameter_names_any_case(aql: httpx.Client) -> None:
    r = aql.post(
        "",
        data={
            "Username": "example",
            "Password": "sim-aql-password",
            "Command": "query",
            "Number": "44113000114",
        },
    )
    assert r.text.startswith("200: OK\nnumber: 44113000114\n")
