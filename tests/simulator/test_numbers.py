"""The tel_* calls: every example of the vendor's pages and of docs/vendor-api.md, replayed
over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.simulator import SimState, Simulator

from .conftest import AUTH


def tel(client: httpx.Client, call: str, method: str = "GET", **params: str) -> httpx.Response:
    if method == "GET":
        return client.get(f"/{call}", params=params)
    return client.post(f"/{call}", data=params)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request"}
    assert body["error"]["code"] == code
    assert {"code", "text", "datetime", "link"} <= set(body["error"])
    assert body["request"]["url"] == response.request.url.path
    date = body["error"]["datetime"]
    assert len(date) == 19 and date[10] == "_" and date[13] == ":", date
    error: dict[str, Any] = body["error"]
    return error


# ------------------------------------------------------------------------ the documented examples


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_purchase_calgary(client: httpx.Client, sim: Simulator, method: str) -> None:
    r = tel(client, "tel_purchase", method, country="Canada", state="Alberta", region="Calgary")
    assert r.status_code == 200
    bought = r.json()
    assert len(bought) == 1
    assert bought[0].startswith("1587") and len(bought[0]) == 11 and bought[0].isdigit()
    assert sim.state.numbers[bought[0]]["state"] == "Alberta"
    assert sim.state.purchase_log[-1]["numbers"] == bought


def test_purchase_bilbao_two(client: httpx.Client, sim: Simulator) -> None:
    r = tel(client, "tel_purchase", country="Spain", region="Bilbao", quantity="2")
    bought = r.json()
    assert len(bought) == 2 and len(set(bought)) == 2
    assert all(n.startswith("34944") and len(n) == 11 for n in bought)
    listed = tel(client, "tel_list_numbers", country="Spain").json()
    assert set(listed) == set(bought)
    assert all("state" not in info for info in listed.values())


def test_purchase_spain_tollfree_901(client: httpx.Client, sim: Simulator) -> None:
    r = tel(
        client,
        "tel_purchase",
        country="Spain",
        region="901",
        quantity="3",
        did_type="tollfree",
        allow_landline="True",
        allow_payphone="True",
    )
    bought = r.json()
    assert len(bought) == 3
    assert all(n.startswith("34901") for n in bought)
    info = sim.state.numbers[bought[0]]
    assert info["did_type"] == "tollfree" and info["region"] == "901"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_purchase_development_answers_the_fixed_numbers(
    client: httpx.Client, sim: Simulator, method: str
) -> None:
    before = dict(sim.state.numbers)
    r = tel(client, "tel_purchase_development", method, country="United Kingdom", region="London")
    assert r.json() == ["1234567", "89012345"]
    assert sim.state.numbers == before and sim.state.purchase_log == []


def test_purchase_development_validates_like_purchase(client: httpx.Client) -> None:
    r = tel(client, "tel_purchase_development", country="United Kingdom", region="Atlantis")
    error_of(r, 400, "0002")
    r = tel(client, "tel_purchase_development", country="France", region="Avignon")
    error_of(r, 400, "0005")


def test_list_numbers_uk_example(client: httpx.Client) -> None:
    listed = tel(client, "tel_list_numbers", country="United Kingdom").json()
    assert listed["441908538007"] == {
        "country": "United Kingdom",
        "price": "3.00",
        "region": "Milton Keynes",
        "purchased": "2011-09-14",
        "did_type": "geographic",
    }
    assert all(info["country"] == "United Kingdom" for info in listed.values())


def test_list_numbers_filters(client: httpx.Client) -> None:
    everything = tel(client, "tel_list_numbers").json()
    assert {"441908538007", "15873155555"} <= set(everything)
    canada = tel(client, "tel_list_numbers", "POST", country="Canada", state="Alberta").json()
    assert set(canada) == {"15873155555"}
    assert canada["15873155555"]["state"] == "Alberta"
    london = tel(client, "tel_list_numbers", region="london").json()  # names: any case
    assert set(london) == {"442079460123", "442079460456"}
    assert tel(client, "tel_list_numbers", did_type="tollfree").json() == {}
    error_of(tel(client, "tel_list_numbers", did_type="premium"), 400, "0002")


def test_delete_numbers_examples(client: httpx.Client, sim: Simulator) -> None:
    info = dict(sim.state.numbers["441908538007"])
    for n in ("441908538008", "441908538009", "441908538010", "441908538011"):
        sim.state.numbers[n] = dict(info)
    r = tel(client, "tel_delete_numbers", numbers="441908538007,441908538008,441908538009")
    assert r.json() == {"status": "OK"}
    # 441908538009 is gone now: the second documented example, word for word
    r = tel(client, "tel_delete_numbers", "POST", numbers="441908538010,441908538011,441908538009")
    assert r.json() == {
        "status": "PARTIAL",
        "numbers": {
            "441908538009": {
                "description": "Telephone number 441908538009 does not belong to you",
                "code": "0300",
            }
        },
    }
    assert not {"441908538007", "441908538010"} & set(sim.state.numbers)
    r = tel(client, "tel_delete_numbers", numbers="441908538010, +441908538009")
    body = r.json()
    assert body["status"] == "FAIL" and set(body["numbers"]) == {"441908538010", "441908538009"}
    error_of(tel(client, "tel_delete_numbers"), 400, "0001")


def test_supported_countries_published_lists(client: httpx.Client) -> None:
    geographic = tel(client, "tel_get_supported_countries").json()
    assert geographic[:6] == [
        "Israel",
        "Georgia",
        "Mexico",
        "Lithuania",
        "United Kingdom",
        "Netherlands",
    ]
    assert len(geographic) == 42 and geographic[-1] == "Bulgaria"
    national = tel(client, "tel_get_supported_countries", "POST", did_type="national").json()
    assert national == [
        "Israel",
        "Georgia",
        "Portugal",
        "South Africa",
        "United Kingdom",
        "Netherlands",
        "Singapore",
        "Austria",
        "Luxembourg",
        "Sweden",
        "Germany",
        "Norway",
        "Spain",
        "Finland",
        "Malta",
        "Slovenia",
        "Ireland",
        "Bahrain",
        "Estonia",
        "Hong Kong",
        "Panama",
        "France",
        "Belgium",
    ]
    assert "Canada" in tel(client, "tel_get_supported_countries", did_type="tollfree").json()


def test_supported_states_canada(client: httpx.Client) -> None:
    assert tel(client, "tel_get_supported_states", country="Canada").json() == [
        "British Columbia",
        "Newfoundland And Labrador",
        "Saskatchewan",
        "Prince Edward Island",
        "Ontario",
        "Nova Scotia",
        "Quebec",
        "Alberta",
        "Manitoba",
        "New Brunswick",
    ]
    assert tel(client, "tel_get_supported_states", country="United Kingdom").json() == []
    assert "California" in tel(client, "tel_get_supported_states", country="United States").json()
    error_of(tel(client, "tel_get_supported_states"), 400, "0001")


def test_supported_regions_examples(client: httpx.Client) -> None:
    manitoba = tel(client, "tel_get_supported_regions", country="Canada", state="Manitoba")
    assert manitoba.json() == ["Oakbank", "Winnipeg"]
    tollfree = tel(client, "tel_get_supported_regions", country="Canada", did_type="tollfree")
    assert tollfree.json() == ["855", "888", "866", "877"]
    uk = tel(client, "tel_get_supported_regions", "POST", country="United Kingdom").json()
    assert {"London", "Milton Keynes"} <= set(uk)
    assert "Calgary" in tel(client, "tel_get_supported_regions", country="Canada").json()
    assert (
        "901"
        in tel(client, "tel_get_supported_regions", country="Spain", did_type="tollfree").json()
    )
    germany = tel(client, "tel_get_supported_regions", country="Germany")
    assert "M\\u00f6nchengladbach" in germany.text  # JSON escapes non-ASCII, as the API does
    assert "Mönchengladbach" in germany.json()


def test_regulation_addresses_example(client: httpx.Client) -> None:
    r = tel(client, "tel_list_regulation_addresses")
    assert r.json() == {"My french place": {"country": "France", "region": "Avignon"}}


# --------------------------------------------------------------------------- purchase rules


def test_error_codes_0001_to_0004(client: httpx.Client, sim: Simulator) -> None:
    e = error_of(tel(client, "tel_purchase", region="London"), 400, "0001")
    assert "country" in e["text"]
    error_of(tel(client, "tel_purchase", country="United Kingdom"), 400, "0001")
    error_of(tel(client, "tel_purchase", country="Canada", region="Calgary"), 400, "0001")
    e = error_of(tel(client, "tel_purchase", country="Narnia", region="London"), 400, "0002")
    assert "Narnia" in e["text"]
    error_of(
        tel(client, "tel_purchase", country="United Kingdom", region="London", quantity="x"),
        400,
        "0002",
    )
    error_of(
        tel(client, "tel_purchase", country="United Kingdom", region="London", did_type="x"),
        400,
        "0002",
    )
    error_of(
        tel(
            client, "tel_purchase", country="United Kingdom", region="London", allow_partial="maybe"
        ),
        400,
        "0002",
    )
    twice = client.get("/tel_purchase?country=United+Kingdom&country=United+Kingdom&region=London")
    assert "country" in error_of(twice, 400, "0003")["text"]
    # the same parameter in the query and in the form body is also given twice
    mixed = client.post(
        "/tel_purchase?region=London", data={"region": "London", "country": "Spain"}
    )
    error_of(mixed, 400, "0003")
    e = error_of(
        tel(client, "tel_purchase", country="United Kingdom", region="London", quantity="0"),
        400,
        "0004",
    )
    assert "quantity" in e["text"]
    assert sim.state.purchase_log == []


def test_regulation_address_0005_and_0006(client: httpx.Client, sim: Simulator) -> None:
    e = error_of(tel(client, "tel_purchase", country="France", region="Avignon"), 400, "0005")
    assert "regulation address" in e["text"]
    paris = tel(
        client,
        "tel_purchase",
        country="France",
        region="Paris",
        regulation_address="My french place",
    )
    assert "does not fit" in error_of(paris, 400, "0006")["text"]
    unknown = tel(
        client, "tel_purchase", country="France", region="Avignon", regulation_address="Nowhere"
    )
    error_of(unknown, 400, "0006")
    ok = tel(
        client,
        "tel_purchase",
        country="France",
        region="Avignon",
        regulation_address="My french place",
    )
    assert ok.status_code == 200 and ok.json()[0].startswith("334")
    assert sim.state.purchase_log[-1]["params"]["regulation_address"] == "My french place"


def test_tollfree_needs_an_allowed_caller(client: httpx.Client, sim: Simulator) -> None:
    base = {"country": "Canada", "region": "855", "did_type": "tollfree"}
    e = error_of(tel(client, "tel_purchase", **base), 400, "0001")
    assert "allow_landline" in e["text"]
    error_of(tel(client, "tel_purchase", **base, allow_landline="False"), 400, "0002")
    # Spain's 901 can't accept calls from mobiles: allowing them fails
    no_cell = tel(
        client,
        "tel_purchase",
        country="Spain",
        region="901",
        did_type="tollfree",
        allow_cellular="True",
    )
    assert "cellular" in error_of(no_cell, 400, "0002")["text"]
    ok = tel(client, "tel_purchase", **base, allow_cellular="True")
    assert ok.json()[0].startswith("1855")
    assert len(sim.state.purchase_log) == 1


def test_escaped_region_names(client: httpx.Client, sim: Simulator) -> None:
    r = tel(client, "tel_purchase", country="Germany", region="M\\u00f6nchengladbach")
    (number,) = r.json()
    assert number.startswith("492161")
    assert sim.state.numbers[number]["region"] == "Mönchengladbach"
    listed = tel(client, "tel_list_numbers", region="M\\u00f6nchengladbach").json()
    assert set(listed) == {number}
    raw = tel(client, "tel_purchase", country="Germany", region="Mönchengladbach")
    assert "M\\u00f6nchengladbach" in error_of(raw, 400, "0002")["text"]  # tells how to send it


def test_based_on_creates_a_service_per_number(client: httpx.Client, sim: Simulator) -> None:
    r = tel(
        client,
        "tel_purchase",
        country="United Kingdom",
        region="London",
        quantity="2",
        based_on="441908538007",
    )
    bought = r.json()
    template = sim.state.services["inbound"]["441908538007"]
    for number in bought:
        assert sim.state.services["inbound"][number] == template
        read = client.get(f"/service/v1/inbound/{number}").json()
        assert read["description"] == "Main line"
    missing = tel(
        client, "tel_purchase", country="United Kingdom", region="London", based_on="nope"
    )
    assert "nope" in error_of(missing, 400, "0002")["text"]


def test_quantity_and_allow_partial(client: httpx.Client, sim: Simulator) -> None:
    oakbank = {"country": "Canada", "state": "Manitoba", "region": "Oakbank"}
    too_many = tel(client, "tel_purchase", **oakbank, quantity="5")
    assert "allow_partial" in error_of(too_many, 400, "HTTP 400")["text"]
    assert sim.state.purchase_log == []
    partial = tel(client, "tel_purchase", **oakbank, quantity="5", allow_partial="True").json()
    assert len(partial) == 3  # all that were left
    none_left = tel(client, "tel_purchase", **oakbank, allow_partial="True")
    error_of(none_left, 400, "HTTP 400")


def test_numbers_are_deterministic_from_the_seed(client: httpx.Client, sim: Simulator) -> None:
    def buy(rng_seed: int) -> list[str]:
        sim.state = SimState.seeded("empty", rng_seed=rng_seed)
        london = tel(
            client, "tel_purchase", country="United Kingdom", region="London", quantity="3"
        )
        calgary = tel(client, "tel_purchase", country="Canada", state="Alberta", region="Calgary")
        numbers: list[str] = london.json() + calgary.json()
        return numbers

    first = buy(5)
    assert first == buy(5)
    assert first != buy(6)
    assert len(set(first)) == 4
    assert all(n.startswith("44207") and len(n) == 12 for n in first[:3])
    assert first[3].startswith("1587")


def test_auth_errors(running: Any, sim: Simulator) -> None:
    url = running.base_url + "/tel_list_numbers"
    for auth in (
        None,
        ("1-2-0/ops@example.com", "wrong"),
        ("9-9-9/ops@example.com", "sim-api-key"),
        ("ops@example.com", "sim-api-key"),
    ):
        r = httpx.get(url, auth=auth)
        e = error_of(r, 401, "HTTP 401")
        assert "API access key" in e["text"]
        assert r.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url, auth=AUTH).status_code == 200
    assert all(c.status == 401 for c in sim.calls[:4])


def test_unknown_path_and_method(client: httpx.Client) -> None:
    error_of(client.get("/tel_buy_everything"), 404, "HTTP 404")
    error_of(client.delete("/tel_purchase"), 405, "HTTP 405")


def test_in_process_transport(sim: Simulator) -> None:
    """The same app through httpx.ASGITransport, for unit tests that want no sockets."""
    import asyncio

    async def go() -> Any:
        transport = httpx.ASGITransport(app=Simulator(seed="demo").app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim", auth=AUTH) as c:
            return (await c.get("/tel_list_numbers", params={"country": "Canada"})).json()

    assert set(asyncio.run(go())) == {"15873155555", "12045550142"}
