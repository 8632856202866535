"""What to do about a failed call: run apply again, or change something first.

A hint must never suggest running again what can only fail again. A timeout, a refused or
reset connection, a 5xx, a 429 can pass: a re-run can help (apply re-plans from the account
as it is then, and a purchase re-counts first). Everything else the server refused for a
reason that will still hold on the next run: the body (its schema), the location, the stock,
the regulation address, the credentials. Those say what to change first.

The vendor's own advice is not always ours to pass on: a stock shortage answer says to set
``allow_partial``, which the desired state has no key for (a pool is kept at its count, or
not at all); :func:`vendor_reason` leaves that sentence out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.errors import (
    ApiConnectionError,
    ApiStatusError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    ReconcilerError,
    RelayError,
    ServerError,
)

_ALLOW_PARTIAL = re.compile(r"[;,.]?\s*set\s+'?\"?allow_partial\b[^.;]*[.;]?", re.IGNORECASE)
_STOCK = re.compile(r"\b(no telephone numbers are|only \d+ (?:are|is)) available\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Remedy:
    """``retry``: can running apply again (unchanged) help? ``advice``: what to do."""

    retry: bool
    advice: str


RETRY_LATER = Remedy(True, "a re-run can help: run apply again (it re-plans from the account)")


def vendor_reason(text: str) -> str:
    """The server's reason without advice reconciler can't follow (``allow_partial``)."""
    return _ALLOW_PARTIAL.sub("", text).strip()


def remedy_of(err: BaseException) -> Remedy:
    """Whether a re-run can help ``err``, and what to change first when it can't."""
    if isinstance(err, RateLimitedError):
        return Remedy(
            True,
            "rate limited: a re-run can help; if it persists, lower --concurrency",
        )
    if isinstance(err, ApiConnectionError | ServerError):
        return RETRY_LATER
    if isinstance(err, MalformedResponseError):
        return Remedy(True, "an unreadable answer: a re-run can help if it was passing")
    if isinstance(err, AuthenticationError):
        return Remedy(
            False,
            "change first: the credentials were refused (cloud_id, username, api_key; for "
            "aql, username and password); running apply again as is fails the same way",
        )
    if isinstance(err, RelayError):
        return Remedy(False, "change first: aql refused the route; fix the relay route's YAML")
    if isinstance(err, ApiStatusError):
        return _status_remedy(err)
    if isinstance(err, ReconcilerError):
        return Remedy(False, "change first: running apply again as is fails the same way")
    return Remedy(False, "change first: running apply again as is fails the same way")


def _status_remedy(err: ApiStatusError) -> Remedy:
    if err.status == 408 or err.status >= 500:
        return RETRY_LATER
    text = " ".join([err.text or "", *err.details, err.message])
    if err.code == "0005":
        return Remedy(
            False,
            "change first: numbers in this country need a regulation address; register one "
            "in the Cloud Console and name it in the pool's regulation_address",
        )
    if err.code == "0006":
        return Remedy(
            False,
            "change first: the pool's regulation_address must be one registered for the "
            "pool's country (and region)",
        )
    if _STOCK.search(text):
        return Remedy(
            False,
            "change first: there are not enough numbers left at this location; lower the "
            "pool's count to what is left, or move the pool to another region",
        )
    if isinstance(err, NotFoundError):
        return Remedy(False, "change first: it does not exist on the account")
    if err.details or "validate" in text.casefold():
        return Remedy(
            False,
            "change first: the server's schema refused the body; fix the YAML at the keys "
            "named (`reconciler plan` checks every body against the server's schema)",
        )
    return Remedy(
        False,
        "change first: the server refused the request; running apply again as is fails the "
        "same way",
    )
