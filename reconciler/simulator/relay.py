"""The aql SMS relay gateway (``/sms/sms-relay.api.php``): ``query`` and ``modify``.

Replies are plain text, as aql documents them, always with HTTP status 200 (the gateway's own
status code is the first thing in the body)::

    200: OK
    number: 44113000111
      action-type: httpget
      action-detail: http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m

and on failure one line, ``69001: Number not valid``. With ``return-mode=url`` the same facts
come url-encoded on one line (the simulator's choice, since aql publishes that format
separately)::

    status=200&description=OK&number=44113000111&action-type=httpget&action-detail=http%3A%2F%2F...

and on failure ``status=69001&description=Number+not+valid``. ``return-format`` is accepted and
ignored. Parameter names are matched case-insensitively (aql's own table capitalises them).

In the ``aql-star`` dialect (see :mod:`reconciler.simulator.dialect`) the plain replies are
written as the published example has them::

    status * 200
    number * 44113000111
    action-type * httpget
    action-detail : http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m

and ``69001 * number is invalid`` on failure.

Checks, in order: credentials (401), command (600), number given (400) and one of this
account's relay numbers (69001); for ``modify``: action-type given (400) and one of
``null-route``, ``email``, ``httpget``, ``httppost`` (69003; ``mvno`` can be read but never set),
action-detail (69004): one or more comma-separated http(s) URLs for ``httpget``/``httppost``,
e-mail addresses for ``email``; ``null-route`` takes none (any detail given is dropped).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from reconciler.simulator.account import SimState
from reconciler.simulator.services import normalise_url

STATUS_TEXT = {
    200: "OK",
    400: "Bad request",
    401: "Authentication error",
    500: "Internal system error",
    600: "Invalid Command",
    69001: "Number not valid",
    69003: "action-type is invalid",
    69004: "action-detail is invalid for the provided action-type",
}
SETTABLE_ACTIONS = ("null-route", "email", "httpget", "httppost")
_URL = re.compile(r"^https?://(?:[^\s/?#,@]+@)?[^\s/?#,@]+(?:[/?#][^\s,]*)?$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_NUMBER = re.compile(r"^\d{6,15}$")


@dataclass(frozen=True)
class RelayReply:
    """One gateway answer; ``changed`` says the account was modified."""

    status: int
    number: str | None = None
    action: str | None = None
    detail: str | None = None
    changed: bool = False

    def render(self, return_mode: str | None, sep: str = ":") -> str:
        description = STATUS_TEXT[self.status]
        if (return_mode or "").lower() == "url":
            fields = [("status", str(self.status)), ("description", description)]
            if self.number is not None:
                fields += [
                    ("number", self.number),
                    ("action-type", self.action or ""),
                    ("action-detail", self.detail or ""),
                ]
            return urlencode(fields)
        if sep == "*":
            if self.number is None:
                return status_line(self.status, "*")
            # The published example, its trailing blanks and its one ":" line included.
            return (
                f"status * {self.status}\n"
                f"number * {self.number}\n"
                f"action-type * {self.action}  \n"
                f"action-detail : {self.detail}\n"
            )
        if self.number is None:
            return f"{self.status}: {description}\n"
        return (
            f"{self.status}: {description}\n"
            f"number: {self.number}\n"
            f"  action-type: {self.action}\n"
            f"  action-detail: {self.detail}\n"
        )


def separator(sep: str) -> str:
    """The text between a code and its description: ``": "`` or ``" * "``."""
    return " * " if sep == "*" else ": "


def status_line(status: int, sep: str = ":") -> str:
    """A one-line failure reply: ``69001: Number not valid`` or ``69001 * number is invalid``."""
    description = STATUS_TEXT[status]
    if sep == "*":
        description = description[:1].lower() + description[1:]
    return f"{status}{separator(sep)}{description}\n"


def _valid_detail(action: str, detail: str) -> str | None:
    """The detail normalised for storage, or None when it is invalid for ``action``."""
    if action == "null-route":
        return ""
    items = [item.strip() for item in detail.split(",")]
    if not items or any(not item for item in items):
        return None
    pattern = _EMAIL if action == "email" else _URL
    if not all(pattern.match(item) for item in items):
        return None
    return ",".join(items)


def handle(
    state: SimState,
    params: Mapping[str, str],
    *,
    username: str,
    password: str,
    normalise: bool = False,
) -> RelayReply:
    """Answer one gateway request (``params`` with lower-case names). ``normalise`` (the
    dialect): callback URLs are stored with their scheme and host lower-cased."""
    user_ok = hmac.compare_digest(params.get("username", "").encode(), username.encode())
    pass_ok = hmac.compare_digest(params.get("password", "").encode(), password.encode())
    if not (user_ok and pass_ok):
        return RelayReply(401)
    command = params.get("command", "").strip().lower()
    if command not in ("query", "modify"):
        return RelayReply(600)
    number = params.get("number", "").strip()
    if not number:
        return RelayReply(400)
    if not _NUMBER.match(number) or number not in state.relay:
        return RelayReply(69001)
    if command == "query":
        action, detail = state.relay[number]
        return RelayReply(200, number, action, detail)

    action = params.get("action-type", "").strip().lower()
    if not action:
        return RelayReply(400)
    if action not in SETTABLE_ACTIONS:
        return RelayReply(69003)
    stored = _valid_detail(action, params.get("action-detail", ""))
    if stored is None:
        return RelayReply(69004)
    if normalise and action in ("httpget", "httppost"):
        stored = ",".join(normalise_url(url) for url in stored.split(","))
    changed = state.relay[number] != (action, stored)
    state.relay[number] = (action, stored)
    return RelayReply(200, number, action, stored, changed=changed)
