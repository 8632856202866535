"""What the simulated Aculab Cloud puts on the wire: errors, dates, documentation links."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

NUMBERS_LINK = (
    "https://www.aculab.com/cloud/web-services/telephone-numbers/"
    "managing-inbound-telephone-numbers/"
)
AUTH_LINK = "https://www.aculab.com/cloud/web-services/"


def services_link(kind: str, tab: str) -> str:
    """The documentation link the services API puts in its errors."""
    return (
        f"https://www.aculab.com/cloud/web-services/services/{kind}/management"
        f"?target=service_action_tabs&tab-id={tab}"
    )


def stamp(at: float | None = None) -> str:
    """A date as the API writes them: ``2022-07-22_16:28:25`` (UTC)."""
    return time.strftime("%Y-%m-%d_%H:%M:%S", time.gmtime(at))


def today() -> str:
    """``YYYY-MM-DD`` (UTC), as ``purchased`` dates are written."""
    return time.strftime("%Y-%m-%d", time.gmtime())


class Problem(Exception):
    """An error answer of the Aculab API: an HTTP status and the documented JSON body.

    ``code`` is ``"HTTP <status>"`` or a four-digit code (``"0001"`` mandatory parameter
    missing, ``"0002"`` malformed, ``"0003"`` given twice, ``"0004"`` zero, ``"0005"`` the
    country needs a regulation address, ``"0006"`` the address doesn't fit).
    """

    def __init__(
        self,
        status: int,
        text: str,
        *,
        code: str | None = None,
        details: Sequence[str] | None = None,
        link: str = NUMBERS_LINK,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(text)
        self.status = status
        self.code = code or f"HTTP {status}"
        self.text = text
        self.details = list(details) if details is not None else None
        self.link = link
        self.headers = headers or {}

    def body(self, url: str, requested_at: float) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "text": self.text}
        if self.details is not None:
            error["details"] = self.details
        error["datetime"] = stamp()
        error["link"] = self.link
        return {"error": error, "request": {"url": url, "datetime": stamp(requested_at)}}

    def html_page(self) -> bytes:
        """The error as an HTML page (the ``html-errors`` dialect): status, code and text in
        the page, the validation details as a list, no JSON anywhere."""
        reason = REASONS.get(self.status, "Error")
        title = html.escape(f"{self.status} {reason}")
        code = "" if self.code == f"HTTP {self.status}" else f"{html.escape(self.code)}: "
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.details or ())
        details = f"<ul>{items}</ul>" if items else ""
        return (
            f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n<body>"
            f"<h1>{title}</h1><p>{code}{html.escape(self.text)}</p>{details}"
            f"<hr><address>Aculab Cloud</address></body></html>\n"
        ).encode()


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def missing(name: str) -> Problem:
    return Problem(400, f"Mandatory parameter '{name}' is missing.", code="0001")


def malformed(name: str, why: str) -> Problem:
    return Problem(400, f"Parameter '{name}' is malformed: {why}", code="0002")
