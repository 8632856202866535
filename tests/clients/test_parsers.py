"""Parsers of the APIs' answers: every documented shape, and clear errors for the rest."""

from __future__ import annotations

import pytest

from reconciler.clients.parsers import (
    escape_non_ascii,
    parse_delete_result,
    parse_number_list,
    parse_regulation_addresses,
    parse_relay_reply,
    parse_service_list,
    unescape_literal,
)
from reconciler.errors import (
    AuthenticationError,
    MalformedResponseError,
    RelayAuthenticationError,
    RelayError,
)

CALL = "POST /tel_x"

# --------------------------------------------------------------------------- escapes


@pytest.mark.parametrize(
    ("plain", "wire"),
    [
        ("Mönchengladbach", "M\\u00f6nchengladbach"),
        ("London", "London"),
        ("Düsseldorf-Süd", "D\\u00fcsseldorf-S\\u00fcd"),
        ("Zürich 😀", "Z\\u00fcrich \\ud83d\\ude00"),
    ],
)
def test_non_ascii_is_sent_as_literal_u_escapes(plain: str, wire: str) -> None:
    assert escape_non_ascii(plain) == wire
    assert unescape_literal(wire) == plain


# --------------------------------------------------------------------------- numbers


def test_number_list_as_documented() -> None:
    data = {
        "441908538007": {
            "country": "United Kingdom",
            "price": "3.00",
            "region": "Milton Keynes",
            "purchased": "2011-09-14",
            "did_type": "geographic",
        },
        "+15873155555": {
            "country": "Canada",
            "state": "Alberta",
            "region": "Calgary",
            "price": "2.00",
            "purchased": "2022-05-10",
            "did_type": "geographic",
        },
        "4915100000": {
            "country": "Germany",
            "region": "M\\u00f6nchengladbach",
            "price": 1.5,
            "purchased": "2024-01-01",
            "did_type": "Geographic",
        },
    }
    numbers = parse_number_list(data, CALL)
    assert set(numbers) == {"441908538007", "15873155555", "4915100000"}
    mk = numbers["441908538007"]
    assert (mk.country, mk.region, mk.state, mk.price, mk.did_type) == (
        "United Kingdom",
        "Milton Keynes",
        None,
        "3.00",
        "geographic",
    )
    assert numbers["15873155555"].state == "Alberta"
    assert numbers["4915100000"].region == "Mönchengladbach"
    assert numbers["4915100000"].price == "1.5"
    assert numbers["4915100000"].did_type == "geographic"


def test_an_empty_list_means_no_numbers() -> None:
    assert parse_number_list([], CALL) == {}
    assert parse_number_list({}, CALL) == {}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (["441908538007"], "expected an object of numbers, got a list"),
        ({"abc": {}}, "'abc' is not a telephone number"),
        ({"441908538007": "UK"}, "number 441908538007: expected an object, got a string"),
        ({"441908538007": {"region": "x", "did_type": "geographic"}}, "'country' is missing"),
        (
            {
                "441908538007": {
                    "country": "UK",
                    "region": "x",
                    "did_type": "geographic",
                    "state": 3,
                }
            },
            "'state' is int",
        ),
    ],
)
def test_number_list_wrong_shapes(data: object, said: str) -> None:
    with pytest.raises(MalformedResponseError) as info:
        parse_number_list(data, CALL)
    assert str(info.value).startswith(f"{CALL}: unexpected reply")
    assert said in str(info.value)


# --------------------------------------------------------------------------- deletes


REQ = ["441908538010", "441908538011", "441908538009"]


def test_delete_ok() -> None:
    result = parse_delete_result({"status": "OK"}, CALL, REQ)
    assert result.status == "OK"
    assert result.failed == {}
    assert result.deleted == tuple(REQ)


def test_delete_partial_as_documented() -> None:
    data = {
        "status": "PARTIAL",
        "numbers": {
            "441908538009": {
                "description": "Telephone number 441908538009 does not belong to you",
                "code": "0300",
            }
        },
    }
    result = parse_delete_result(data, CALL, REQ)
    assert result.status == "PARTIAL"
    assert result.failed == {
        "441908538009": ("0300", "Telephone number 441908538009 does not belong to you")
    }
    assert result.deleted == ("441908538010", "441908538011")
    assert result.assumed_deleted == frozenset()


def test_delete_fail_without_reasons_fails_every_number() -> None:
    result = parse_delete_result({"status": "FAIL"}, CALL, REQ)
    assert result.status == "FAIL"
    assert set(result.failed) == set(REQ)
    assert result.deleted == ()


def test_a_retried_delete_counts_not_yours_as_deleted() -> None:
    data = {
        "status": "FAIL",
        "numbers": {n: {"code": "0300", "description": "does not belong to you"} for n in REQ},
    }
    first = parse_delete_result(data, CALL, REQ)
    assert first.status == "FAIL"
    retried = parse_delete_result(data, CALL, REQ, retried=True)
    assert retried.status == "OK"
    assert retried.failed == {}
    assert retried.assumed_deleted == frozenset(REQ)
    # Another reason stays a failure even on a retry.
    other = {"status": "PARTIAL", "numbers": {REQ[0]: {"code": "0002", "description": "bad"}}}
    mixed = parse_delete_result(other, CALL, REQ, retried=True)
    assert mixed.status == "PARTIAL" and set(mixed.failed) == {REQ[0]}


@pytest.mark.parametrize(
    "data", [{"status": "MAYBE"}, {"status": "PARTIAL"}, ["OK"], {"numbers": {}}]
)
def test_delete_wrong_shapes(data: object) -> None:
    with pytest.raises(MalformedResponseError):
        parse_delete_result(data, CALL, REQ)


# --------------------------------------------------------------------------- services


def test_service_list() -> None:
    data = {
        "services": [
            {"name": "MyWakeUpCallService", "target": "http://x/first", "description": "d"},
            {"name": "Other", "target": None, "description": None},
        ]
    }
    listed = parse_service_list(data, CALL)
    assert [s.name for s in listed] == ["MyWakeUpCallService", "Other"]
    assert listed[0].target == "http://x/first"
    assert listed[1].description is None


@pytest.mark.parametrize(
    "data",
    [
        {"service": []},
        {"services": {"a": 1}},
        "services",
        [{"target": "x"}],
        {"a": {"target": 3}},
        {"services": [{"target": "x"}]},
        {"services": [{"name": "a"}, {"name": "a"}]},
    ],
)
def test_service_list_wrong_shapes(data: object) -> None:
    with pytest.raises(MalformedResponseError):
        parse_service_list(data, CALL)


def test_regulation_addresses() -> None:
    data = {"My french place": {"country": "France", "region": "Avignon"}}
    assert parse_regulation_addresses(data, CALL) == {"My french place": ("France", "Avignon")}
    assert parse_regulation_addresses([], CALL) == {}
    with pytest.raises(MalformedResponseError):
        parse_regulation_addresses({"x": "France"}, CALL)


# --------------------------------------------------------------------------- aql replies

AQL = "aql query 44113000111"


def test_relay_reply_colon_form() -> None:
    text = (
        "200: OK\n"
        "number: 44113000111\n"
        "  action-type: httpget\n"
        "  action-detail: http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m\n"
    )
    route = parse_relay_reply(text, AQL, "44113000111")
    assert route.number == "44113000111"
    assert route.action == "httpget"
    assert route.detail == ("http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m",)


def test_relay_reply_star_form_as_published() -> None:
    text = (
        "status * 200\r\n"
        "number * 44113000111\r\n"
        "action-type * httpget  \r\n"
        "action-detail : http://a.example/cb?id=%i,http://b.example/cb?id=%i\r\n"
    )
    route = parse_relay_reply(text, AQL, "+44113000111")
    assert route.action == "httpget"
    assert route.detail == ("http://a.example/cb?id=%i", "http://b.example/cb?id=%i")


def test_relay_reply_null_route_mvno_and_email() -> None:
    null = parse_relay_reply("200: OK\nnumber: 1\naction-type: null-route\n", AQL, "1")
    assert (null.action, null.detail) == ("null-route", ())
    mvno = parse_relay_reply("200: OK\nnumber: 1\naction-type: mvno\naction-detail:\n", AQL, "1")
    assert mvno.is_mvno and mvno.detail == ()
    email = parse_relay_reply(
        "200: OK\nnumber: 1\naction-type: email\naction-detail: a@x.com, b@y.com\n", AQL, "1"
    )
    assert email.detail == ("a@x.com", "b@y.com")


def test_relay_callback_with_a_password_stays_a_plain_string_like_the_desired_one() -> None:
    text = "200: OK\nnumber: 1\naction-type: httppost\naction-detail: https://u:pw1234@h/cb\n"
    route = parse_relay_reply(text, AQL, "1")
    assert route.detail == ("https://u:pw1234@h/cb",)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("400: Bad request", "400"),
        ("500: Internal system error", "500"),
        ("600: Invalid Command", "600"),
        ("69001 * number is invalid", "69001"),
        ("69003: action-type is invalid", "69003"),
        ("69004: action-detail is invalid for the provided action-type", "69004"),
        ("status * 69001", "69001"),
    ],
)
def test_every_documented_failure_code_is_a_relay_error(text: str, code: str) -> None:
    with pytest.raises(RelayError) as info:
        parse_relay_reply(text, AQL, "44113000111")
    assert info.value.code == code
    assert str(info.value).startswith(f"{AQL}: aql answered {code}")
    assert info.value.hint


def test_relay_401_is_an_authentication_error() -> None:
    with pytest.raises(RelayAuthenticationError) as info:
        parse_relay_reply("401: Authentication error", AQL, "44113000111")
    assert isinstance(info.value, AuthenticationError)
    assert info.value.code == "401"
    assert "aql.password" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty body"),
        ("<html><title>Gateway</title></html>", "HTML page"),
        ("OK", "expected an aql status line"),
        ("200: OK\nnumber: 44113000111\n", "no action-type"),
        ("200: OK\nnumber: 999\naction-type: email\n", "the aql reply is about 999"),
    ],
)
def test_relay_garbage(text: str, said: str) -> None:
    with pytest.raises(MalformedResponseError) as info:
        parse_relay_reply(text, AQL, "44113000111")
    assert said in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        {"services": [{"name": "a", "target": "t", "description": "d"}, {"name": "b"}]},
        [{"name": "a", "target": "t", "description": "d"}, {"name": "b"}],
        [{"name": "a", "target": "t", "description": "d"}, "b"],
        {"a": {"target": "t", "description": "d"}, "b": None},
        {"a": {"target": "t", "description": "d"}, "b": {}},
    ],
    ids=["documented", "array", "array-of-names", "keyed", "keyed-empty-entry"],
)
def test_service_list_shapes_the_pages_leave_open(data: object) -> None:
    """The inbound list's shape is not published: each plausible one reads the same."""
    services = parse_service_list(data, CALL)
    assert [(s.name, s.target, s.description) for s in services] == [
        ("a", "t", "d"),
        ("b", None, None),
    ]


@pytest.mark.parametrize("data", [{"services": None}, {"services": []}, [], {}])
def test_service_list_empty_in_every_shape(data: object) -> None:
    assert parse_service_list(data, CALL) == []
