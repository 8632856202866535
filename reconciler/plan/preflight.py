"""Pre-flight checks of a purchase against what the vendor sells (the live catalogue).

A bad location must be a plan error before any money moves: an unsupported country, state,
region or did_type, or a regulation address that doesn't exist or doesn't fit the country.
Each check runs only when its list was fetched (a missing key in
:class:`~reconciler.live.model.Catalogue` means "not fetched"). A purchase must spell each
name exactly as the server lists it (a purchase for region ``LONDON`` is refused where
``London`` is sold), so a name that differs only in case is an error saying how the server
spells it. Every problem names the pool's origin and lists what is valid, closest matches
first.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import TypeVar

from reconciler.desired.model import NumberPool
from reconciler.live.model import Catalogue

_SHOW_ALL = 12  # list every valid value when there are this many or fewer

K = TypeVar("K")
V = TypeVar("V")


def _lookup(mapping: Mapping[K, V], key: K) -> V | None:
    """``mapping[key]``, trying a case-insensitive match of string keys too."""
    if key in mapping:
        return mapping[key]
    folded = _fold(key)
    for k, v in mapping.items():
        if _fold(k) == folded:
            return v
    return None


def _fold(key: object) -> object:
    if isinstance(key, str):
        return key.casefold()
    if isinstance(key, tuple):
        return tuple(_fold(k) for k in key)
    return key


def _contains(values: Sequence[str], value: str) -> bool:
    """``value`` is one of ``values``, spelt exactly (see :func:`_misspelt`)."""
    return value in values


def _misspelt(values: Sequence[str], value: str) -> str | None:
    """The server's spelling of ``value`` when it differs from it only in case."""
    folded = value.casefold()
    return next((v for v in values if v.casefold() == folded and v != value), None)


def _spelling(where: str, what: str, value: str, server: str) -> str:
    return (
        f"{where}: {what} {value!r} is not spelt as the server lists it: did you mean "
        f"{server!r}? (a purchase must name it exactly)"
    )


def _valid(values: Sequence[str], wrong: str) -> str:
    """``did you mean 'X'?`` plus the list of valid values (or how many there are)."""
    if not values:
        return "none are available"
    close = difflib.get_close_matches(wrong, list(values), n=3, cutoff=0.6)
    if not close:
        by_fold = {v.casefold(): v for v in values}
        close = [by_fold[c] for c in difflib.get_close_matches(wrong.casefold(), by_fold, n=3)]
    parts = []
    if close:
        parts.append("did you mean " + " or ".join(repr(c) for c in close) + "?")
    if len(values) <= _SHOW_ALL:
        parts.append("valid: " + ", ".join(sorted(values)))
    else:
        parts.append(f"{len(values)} are valid")
    return "; ".join(parts)


def check_purchase(pool: NumberPool, catalogue: Catalogue) -> list[str]:
    """Every problem with buying numbers for ``pool``; empty when it looks purchasable."""
    where = f"{pool.origin}: pool {pool.name}"
    loc = pool.location
    problems: list[str] = []

    countries = catalogue.countries.get(loc.did_type)
    if countries is not None and not _contains(countries, loc.country):
        server = _misspelt(countries, loc.country)
        if server is not None:
            problems.append(_spelling(where, "country", loc.country, server))
            return problems
        problems.append(
            f"{where}: country {loc.country!r} has no {loc.did_type} numbers for sale "
            f"({_valid(countries, loc.country)})"
        )
        return problems  # the state and region checks would only repeat the problem

    states = _lookup(catalogue.states, loc.country)
    if states is not None:
        if states and not loc.state:
            problems.append(
                f"{where}: {loc.country} needs a state ({_valid(states, '')})"
                if len(states) <= _SHOW_ALL
                else f"{where}: {loc.country} needs a state ({len(states)} are valid)"
            )
            return problems
        if loc.state and not states:
            problems.append(f"{where}: {loc.country} has no states; remove state {loc.state!r}")
            return problems
        if loc.state and not _contains(states, loc.state):
            server = _misspelt(states, loc.state)
            if server is not None:
                problems.append(_spelling(where, "state", loc.state, server))
                return problems
            problems.append(
                f"{where}: state {loc.state!r} is not sold in {loc.country} "
                f"({_valid(states, loc.state)})"
            )
            return problems

    regions = _lookup(catalogue.regions, (loc.country, loc.state or "", loc.did_type))
    if regions is not None and not _contains(regions, loc.region):
        server = _misspelt(regions, loc.region)
        if server is not None:
            problems.append(_spelling(where, "region", loc.region, server))
            return problems
        scope = f"{loc.country}/{loc.state}" if loc.state else loc.country
        problems.append(
            f"{where}: region {loc.region!r} has no {loc.did_type} numbers for sale in {scope} "
            f"({_valid(regions, loc.region)})"
        )

    addresses = catalogue.regulation_addresses
    if pool.regulation_address and addresses is not None:
        found = addresses.get(pool.regulation_address)
        server = _misspelt(list(addresses), pool.regulation_address)
        if found is None and server is not None:
            problems.append(_spelling(where, "regulation address", pool.regulation_address, server))
        elif found is None:
            problems.append(
                f"{where}: regulation address {pool.regulation_address!r} does not exist "
                f"on the account ({_valid(list(addresses), pool.regulation_address)})"
            )
        elif found[0].casefold() != loc.country.casefold():
            fitting = sorted(
                a for a, (c, _r) in addresses.items() if c.casefold() == loc.country.casefold()
            )
            problems.append(
                f"{where}: regulation address {pool.regulation_address!r} is in {found[0]}, "
                f"not {loc.country} ("
                + (
                    "valid for " + loc.country + ": " + ", ".join(fitting)
                    if fitting
                    else f"the account has none in {loc.country}"
                )
                + ")"
            )
    return problems
