"""The ``tel_*`` calls: listing, buying and releasing numbers, and the catalogue.

Each function takes the account and the request's parameters (already checked for
duplicates, ``\\uXXXX`` escapes not yet decoded) and returns the JSON answer, or raises
:class:`~reconciler.simulator.wire.Problem`. Behaviour beyond the documentation is the
**assumed** behaviour of docs/vendor-api.md, and is written down here:

- too few numbers left in a region: with ``allow_partial=False`` (the default) the purchase
  fails (400, ``"HTTP 400"``) and buys nothing; with ``True`` it buys what is left (none left:
  the same failure);
- a region name with raw non-ASCII letters is refused (``0002``): the API wants ``\\uXXXX``;
- a released number keeps its inbound service (the service is a separate resource);
- ``allow_*`` flags are checked for syntax on every purchase and matter for toll-free only.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.simulator import catalogue
from reconciler.simulator.account import SimState
from reconciler.simulator.catalogue import Country, Region
from reconciler.simulator.wire import Problem, malformed, missing, today

DEVELOPMENT_ANSWER = ["1234567", "89012345"]
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_CALLERS = ("landline", "cellular", "payphone")


def decode_escapes(name: str, value: str) -> str:
    """``M\\u00f6nchengladbach`` -> ``Mönchengladbach``; raw non-ASCII is refused."""
    if not value.isascii():
        escaped = "".join(c if c.isascii() else f"\\u{ord(c):04x}" for c in value)
        raise malformed(
            name,
            f"'{value}' contains non-ASCII characters; send each as a \\uXXXX escape "
            f"('{escaped}').",
        )
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or value.strip() == "":
        return None
    return decode_escapes(name, value.strip())


def _did_type(params: Mapping[str, str], default: str | None) -> str | None:
    value = params.get("did_type")
    if value is None or value == "":
        return default
    if value not in catalogue.DID_TYPES:
        raise malformed("did_type", f"'{value}' is not one of {', '.join(catalogue.DID_TYPES)}.")
    return value


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0", ""):
        return False
    raise malformed(name, f'\'{value}\' is not "True" or "False".')


def _country(params: Mapping[str, str], did_type: str) -> Country:
    name = _text(params, "country")
    if name is None:
        raise missing("country")
    country = catalogue.find_country(name)
    if country is None or country.name not in catalogue.countries(did_type):
        raise malformed(
            "country",
            f"'{name}' has no {did_type} numbers (see tel_get_supported_countries).",
        )
    return country


def _state(params: Mapping[str, str], country: Country, did_type: str) -> str | None:
    """The state, checked: required where the country has states (geographic numbers)."""
    name = _text(params, "state")
    has_states = bool(country.states) and did_type == "geographic"
    if name is None:
        return None
    if not country.states:
        raise malformed("state", f"{country.name} has no states.")
    for state in country.states:
        if state.casefold() == name.casefold():
            return state if has_states else None
    raise malformed(
        "state", f"'{name}' is not a state of {country.name} (see tel_get_supported_states)."
    )


# --------------------------------------------------------------------------- purchases


@dataclass(frozen=True)
class Order:
    """A checked purchase: where, how many, and what to do with the new numbers."""

    country: Country
    state: str | None
    region: Region
    did_type: str
    quantity: int
    allow_partial: bool
    based_on: str | None
    params: dict[str, str]
    available: int = 0  # numbers left in stock at the location when checked

    def location(self) -> dict[str, str]:
        loc = {"country": self.country.name}
        if self.state is not None:
            loc["state"] = self.state
        loc["region"] = self.region.name
        return loc

    def where(self) -> str:
        parts = [self.region.name, self.state, self.country.name]
        return ", ".join(p for p in parts if p)


def check_purchase(state: SimState, params: Mapping[str, str]) -> Order:
    """Validate a ``tel_purchase`` (or ``tel_purchase_development``) request."""
    did_type = _did_type(params, "geographic") or "geographic"
    country = _country(params, did_type)
    region_name = _text(params, "region")
    if region_name is None:
        raise missing("region")

    raw_quantity = params.get("quantity", "1").strip() or "1"
    try:
        quantity = int(raw_quantity)
    except ValueError:
        raise malformed("quantity", f"'{raw_quantity}' is not a whole number.") from None
    if quantity == 0:
        raise Problem(400, "Parameter 'quantity' must not be zero.", code="0004")
    if quantity < 0:
        raise malformed("quantity", f"'{raw_quantity}' is not a positive number.")

    allow_partial = bool(_bool(params, "allow_partial"))
    callers = {c: _bool(params, f"allow_{c}") for c in _CALLERS}

    st = _state(params, country, did_type)
    if country.states and did_type == "geographic" and st is None:
        raise missing("state")
    found = country.find_region(did_type, st, region_name)
    if found is None:
        where = f"{st}, {country.name}" if st else country.name
        raise malformed(
            "region",
            f"'{region_name}' is not a {did_type} region of {where} "
            "(see tel_get_supported_regions).",
        )
    region_state, region = found

    _check_regulation(state, params, country, region, did_type)

    if did_type == "tollfree":
        if all(v is None for v in callers.values()):
            raise Problem(
                400,
                "Toll free numbers need at least one of 'allow_landline', 'allow_cellular' and "
                "'allow_payphone' set to \"True\".",
                code="0001",
            )
        wanted = {c for c, v in callers.items() if v}
        if not wanted:
            raise malformed(
                "allow_landline",
                "at least one call type must be allowed for toll free numbers.",
            )
        for caller in _CALLERS:
            if caller in wanted and caller not in region.allowed_callers:
                raise malformed(
                    f"allow_{caller}",
                    f"calls from {caller} phones can't be allowed on toll free prefix "
                    f"{region.name} in {country.name}.",
                )

    based_on = params.get("based_on") or None
    if based_on is not None and based_on not in state.services["inbound"]:
        raise malformed("based_on", f"there is no inbound service called '{based_on}'.")

    order = Order(
        country=country,
        state=region_state or None,
        region=region,
        did_type=did_type,
        quantity=quantity,
        allow_partial=allow_partial,
        based_on=based_on,
        params=dict(params),
    )
    # Counting the numbers owned there scans the account: once per purchase, not twice (in
    # the benchmark's account of 10,000 numbers, a purchase is otherwise several ms of CPU).
    available = order.region.stock - _owned_at(state, order)
    order = replace(order, available=available)
    if available < quantity and (not allow_partial or available <= 0):
        left = "No telephone numbers are" if available <= 0 else f"Only {available} are"
        raise Problem(
            400,
            f"{left} available in {order.where()} ({quantity} requested); "
            'set allow_partial to "True" to buy as many as there are.',
        )
    return order


def _check_regulation(
    state: SimState, params: Mapping[str, str], country: Country, region: Region, did_type: str
) -> None:
    name = params.get("regulation_address") or None
    if not country.needs_regulation_address:
        return
    if name is None:
        raise Problem(
            400,
            f"Numbers in {country.name} need a regulation address: register one on the Cloud "
            "Console and name it in 'regulation_address'.",
            code="0005",
        )
    address = state.regulation_addresses.get(name)
    if address is None:
        raise Problem(
            400,
            f"The regulation address '{name}' is not registered on this account.",
            code="0006",
        )
    fits = address.get("country", "").casefold() == country.name.casefold() and (
        did_type != "geographic" or address.get("region", "").casefold() == region.name.casefold()
    )
    if not fits:
        raise Problem(
            400,
            f"The regulation address '{name}' ({address.get('region')}, "
            f"{address.get('country')}) does not fit {region.name}, {country.name}.",
            code="0006",
        )


def _owned_at(state: SimState, order: Order) -> int:
    loc = order.location()
    region, country, st, did_type = loc["region"], loc["country"], loc.get("state"), order.did_type
    count = 0
    # The region first: most numbers are elsewhere, and one look rules them out (a purchase
    # scans the whole account; at 10,000 numbers this keeps it to a few ms).
    for info in state.numbers.values():
        if (
            info.get("region") == region
            and info.get("country") == country
            and info.get("state") == st
            and info.get("did_type") == did_type
        ):
            count += 1
    return count


def _new_number(state: SimState, region: Region, length: int) -> str:
    """The next unused number in ``region``: deterministic from the seed and position."""
    width = max(length - len(region.prefix), 4)
    while True:
        state.serial += 1
        digest = hashlib.blake2b(
            f"{state.rng_seed}|{state.serial}".encode(), digest_size=8
        ).digest()
        value = int.from_bytes(digest, "big")
        first = 2 + value % 8  # subscriber numbers don't start with 0 or 1
        rest = (value // 8) % 10 ** (width - 1)
        number = f"{region.prefix}{first}{rest:0{width - 1}d}"
        if number not in state.numbers and number not in state.relay:
            return number


def purchase(state: SimState, params: Mapping[str, str], *, list_lag_s: float = 0.0) -> list[str]:
    """``tel_purchase``: buy, log, create services ``based_on``; the numbers bought."""
    order = check_purchase(state, params)
    count = min(order.quantity, order.available)
    bought: list[str] = []
    price = order.country.price(order.did_type)
    for _ in range(count):
        number = _new_number(state, order.region, order.country.length)
        state.numbers[number] = {
            **order.location(),
            "price": price,
            "purchased": today(),
            "did_type": order.did_type,
        }
        if list_lag_s > 0:
            state.visible_after[number] = time.time() + list_lag_s
        if order.based_on is not None:
            template = state.services["inbound"][order.based_on]
            state.services["inbound"][number] = copy.deepcopy(template)
        bought.append(number)
    state.purchase_log.append({"at": time.time(), "params": order.params, "numbers": bought})
    return bought


def purchase_development(state: SimState, params: Mapping[str, str]) -> list[str]:
    """``tel_purchase_development``: the same checks, nothing bought."""
    check_purchase(state, params)
    return list(DEVELOPMENT_ANSWER)


# --------------------------------------------------------------------------- the account


def list_numbers(state: SimState, params: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``tel_list_numbers``, filtered; numbers still in their list lag are left out."""
    did_type = _did_type(params, None)
    # (key, value as given, value casefolded): an exact match skips the casefold, which
    # matters on a 10,000-number account where apply lists one location per purchase.
    wanted = [
        (k, v, v.casefold()) for k in ("country", "state", "region") if (v := _text(params, k))
    ]
    now = time.time()
    lagging = state.visible_after
    found: list[str] = []
    for number, info in state.numbers.items():
        if did_type is not None and info.get("did_type") != did_type:
            continue
        for key, given, folded in wanted:
            value = info.get(key, "")
            if value != given and value.casefold() != folded:
                break
        else:
            if not (lagging and lagging.get(number, 0.0) > now):
                found.append(number)
    found.sort()
    numbers = state.numbers
    return {number: numbers[number] for number in found}


def delete_numbers(state: SimState, params: Mapping[str, str]) -> dict[str, Any]:
    """``tel_delete_numbers``: OK, PARTIAL or FAIL with the reason for each number kept."""
    raw = params.get("numbers")
    wanted: list[str] = []
    for part in (raw or "").split(","):
        number = part.strip().lstrip("+")
        if number and number not in wanted:
            wanted.append(number)
    if not wanted:
        raise missing("numbers")
    failed: dict[str, dict[str, str]] = {}
    for number in wanted:
        if number in state.numbers:
            del state.numbers[number]
            state.visible_after.pop(number, None)
        else:
            failed[number] = {
                "description": f"Telephone number {number} does not belong to you",
                "code": "0300",
            }
    if not failed:
        return {"status": "OK"}
    status = "FAIL" if len(failed) == len(wanted) else "PARTIAL"
    return {"status": status, "numbers": failed}


def regulation_addresses(state: SimState) -> dict[str, dict[str, str]]:
    return {name: dict(addr) for name, addr in state.regulation_addresses.items()}


# --------------------------------------------------------------------------- the catalogue


def supported_countries(params: Mapping[str, str]) -> list[str]:
    return catalogue.countries(_did_type(params, "geographic") or "geographic")


def supported_states(params: Mapping[str, str]) -> list[str]:
    name = _text(params, "country")
    if name is None:
        raise missing("country")
    country = catalogue.find_country(name)
    if country is None:
        raise malformed("country", f"'{name}' is not a supported country.")
    return list(country.states)


def supported_regions(params: Mapping[str, str]) -> list[str]:
    did_type = _did_type(params, "geographic") or "geographic"
    name = _text(params, "country")
    if name is None:
        raise missing("country")
    country = catalogue.find_country(name)
    if country is None:
        raise malformed("country", f"'{name}' is not a supported country.")
    st = _state(params, country, did_type) if country.states else None
    if st is None and _text(params, "state") is None and did_type == "geographic":
        regions = country.regions_of(did_type, None)
    else:
        regions = country.regions_of(did_type, st if st is not None else "")
    return [r.name for r in regions]
