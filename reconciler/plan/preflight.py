"""Pre-flight checks of a purchase against what the vendor sells (the live catalogue).

A bad location must be a plan error before any money moves: an unsupported country, state,
region or did_type, or a regulation address that doesn't exist or doesn't fit the country.
Each check runs only when its list was fetched (a missing key in
:class:`~reconciler.live.model.Catalogue` means "not fetched"); names compare
case-insensitively, as the vendor's do. Every problem names the pool's origin and lists what
is valid, closest matches first.
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
    folded = value.casefold()
    return any(v.casefold() == folded for v in values)


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
            problems.append(
                f"{where}: state {loc.state!r} is not sold in {loc.country} "
                f"({_valid(states, loc.state)})"
            )
            return problems

    regions = _lookup(catalogue.regions, (loc.country, loc.state or "", loc.did_type))
    if regions is not None and not _contains(regions, loc.region):
        scope = f"{loc.country}/{loc.state}" if loc.state else loc.country
        problems.append(
            f"{where}: region {loc.region!r} has no {loc.did_type} numbers for sale in {scope} "
            f"({_valid(regions, loc.region)})"
        )

    addresses = catalogue.regulation_addresses
    if pool.regulation_address and addresses is not None:
        found = _lookup(addresses, pool.regulation_address)
        if found is None:
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
