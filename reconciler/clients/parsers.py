"""Parsers of the APIs' answers: plain functions from a decoded body to typed values.

Each checks the shape it was documented to have and raises
:class:`~reconciler.errors.MalformedResponseError` naming the call and what was wrong, so a
surprising answer is a clear error, never a ``KeyError`` (and never a silently empty view of
the account, which the planner could turn into purchases).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.desired.numbers import digits_of
from reconciler.errors import MalformedResponseError, RelayAuthenticationError, RelayError
from reconciler.live.model import LiveNumber, LiveRelayRoute

# --------------------------------------------------------------------------- text on the wire

_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")


def escape_non_ascii(text: str) -> str:
    """Each non-ASCII character as a literal ``\\uXXXX`` escape, as the number API wants
    region names: ``Mönchengladbach`` -> ``M\\u00f6nchengladbach``. Characters beyond the
    Basic Multilingual Plane become a surrogate pair, as in JSON."""
    if text.isascii():
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


def unescape_literal(text: str) -> str:
    """Undo :func:`escape_non_ascii` when a server echoes a name still escaped (a name never
    legitimately contains a backslash-u sequence)."""
    if "\\u" not in text:
        return text
    try:
        raw = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)
        return raw.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        return text


_NUMBER = re.compile(r"^[0-9]{3,20}$")


def _bad(call: str, what: str) -> MalformedResponseError:
    return MalformedResponseError(f"unexpected reply: {what}", call=call)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------- HTML error pages

_TAG = re.compile(r"<[^>]*>")
_HTML_BLOCK = re.compile(
    r"<(title|h[1-6]|p|li|pre)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL
)
_HTML_NOISE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_CODE_TEXT = re.compile(r"^([0-9]{4}|HTTP [0-9]{3})\s*[:*-]\s*(.+)$")
_STATUS_TITLE = re.compile(r"^[0-9]{3}\b")


@dataclass(frozen=True, slots=True)
class HtmlError:
    """What an HTML error page says, as far as its text goes: a four-digit ``code`` when a
    paragraph starts with one, the first line that is not just the status (``text``), and
    list items (``details``)."""

    title: str | None
    code: str | None
    text: str | None
    details: tuple[str, ...]


def _html_text(fragment: str) -> str:
    return html.unescape(" ".join(_TAG.sub(" ", fragment).split()))


def parse_html_error(content: bytes) -> HtmlError | None:
    """The text of an HTML error page (some endpoints answer errors in HTML: the pages leave
    open which), or None when ``content`` is not HTML. Each piece is at most 200 characters;
    callers still scrub it for secrets before showing it."""
    page = content.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not page[:200].lower().lstrip().startswith(("<!doctype html", "<html")) and (
        "<html" not in page[:200].lower()
    ):
        return None
    title: str | None = None
    code: str | None = None
    text: str | None = None
    details: list[str] = []
    body = _HTML_NOISE.sub("", page)
    for tag, inner in _HTML_BLOCK.findall(body):
        piece = _html_text(inner)[:200]
        if not piece:
            continue
        tag = tag.lower()
        if tag == "title":
            title = title or piece
        elif tag == "li":
            details.append(piece)
        elif text is None and not (_STATUS_TITLE.match(piece) and len(piece) < 40):
            m = _CODE_TEXT.match(piece)
            code, text = (m.group(1), m.group(2)) if m else (None, piece)
    return HtmlError(title=title, code=code, text=text or title, details=tuple(details[:20]))


# --------------------------------------------------------------------------- numbers


def parse_number_list(data: Any, call: str) -> dict[str, LiveNumber]:
    """``tel_list_numbers``: ``{"<number>": {country, state?, region, price, purchased,
    did_type}}``. An empty list is accepted as "no numbers" (a PHP-style empty object)."""
    if isinstance(data, list) and not data:
        return {}
    if not isinstance(data, dict):
        raise _bad(call, f"expected an object of numbers, got {_type_name(data)}")
    numbers: dict[str, LiveNumber] = {}
    for key, info in data.items():
        number = digits_of(str(key))
        if not _NUMBER.match(number):
            raise _bad(call, f"{str(key)[:40]!r} is not a telephone number")
        if not isinstance(info, dict):
            raise _bad(call, f"number {number}: expected an object, got {_type_name(info)}")
        fields: dict[str, str | None] = {}
        for name in ("country", "region", "did_type"):
            value = info.get(name)
            if not isinstance(value, str) or not value.strip():
                raise _bad(call, f"number {number}: {name!r} is missing or not a string")
            fields[name] = unescape_literal(value)
        for name in ("state", "price", "purchased"):
            value = info.get(name)
            if value is None or value == "":
                fields[name] = None
            elif isinstance(value, str):
                fields[name] = unescape_literal(value)
            elif isinstance(value, int | float) and name == "price":
                fields[name] = str(value)
            else:
                raise _bad(call, f"number {number}: {name!r} is {_type_name(value)}")
        numbers[number] = LiveNumber(
            number=number,
            country=fields["country"] or "",
            region=fields["region"] or "",
            did_type=(fields["did_type"] or "").lower(),
            state=fields["state"],
            price=fields["price"],
            purchased=fields["purchased"],
        )
    return numbers


def parse_purchased(data: Any, call: str) -> list[str]:
    """``tel_purchase``: a JSON array of the numbers bought."""
    if not isinstance(data, list):
        raise _bad(call, f"expected a list of numbers, got {_type_name(data)}")
    out: list[str] = []
    for item in data:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise _bad(call, f"expected a list of numbers, found {_type_name(item)}")
        number = digits_of(str(item))
        if not _NUMBER.match(number):
            raise _bad(call, f"{str(item)[:40]!r} is not a telephone number")
        out.append(number)
    return out


DeleteStatus = Literal["OK", "PARTIAL", "FAIL"]


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What ``tel_delete_numbers`` did.

    ``status`` is ``OK`` (all deleted), ``PARTIAL`` or ``FAIL`` (none deleted); ``failed``
    maps each number not deleted to ``(code, description)`` (code ``0300``: "does not belong to
    you"). ``assumed_deleted`` lists numbers a *retried* call reported as ``0300``: the first
    attempt's outcome was unknown and the number is no longer on the account, which is what a
    release wants; they count as deleted and are not in ``failed``.
    """

    requested: tuple[str, ...]
    status: DeleteStatus
    failed: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    assumed_deleted: frozenset[str] = frozenset()

    @property
    def deleted(self) -> tuple[str, ...]:
        """The requested numbers that are gone from the account."""
        return tuple(n for n in self.requested if n not in self.failed)


NOT_YOURS = "0300"


def parse_delete_result(
    data: Any, call: str, requested: Sequence[str], *, retried: bool = False
) -> DeleteResult:
    """``tel_delete_numbers``: ``{"status": "OK"}`` or ``{"status": "PARTIAL"|"FAIL",
    "numbers": {"<number>": {"description", "code"}}}``.

    ``retried``: the reply is to a retry, so ``0300`` (not yours) for a requested number means
    an earlier attempt may have deleted it; it moves to ``assumed_deleted``.
    """
    requested = tuple(requested)
    if not isinstance(data, dict):
        raise _bad(call, f"expected an object with a status, got {_type_name(data)}")
    status = data.get("status")
    if not isinstance(status, str) or status.upper() not in ("OK", "PARTIAL", "FAIL"):
        raise _bad(call, f"status {str(status)[:40]!r} is not OK, PARTIAL or FAIL")
    status = status.upper()
    raw = data.get("numbers")
    failed: dict[str, tuple[str, str]] = {}
    if status != "OK":
        if isinstance(raw, dict) and raw:
            for key, info in raw.items():
                number = digits_of(str(key))
                if isinstance(info, dict):
                    code = info.get("code")
                    desc = info.get("description")
                    failed[number] = (
                        "" if code is None else str(code),
                        "" if desc is None else str(desc),
                    )
                elif isinstance(info, str):
                    failed[number] = ("", info)
                else:
                    raise _bad(call, f"number {number}: expected an object")
        elif status == "FAIL":
            # None deleted and no reasons given: every requested number failed.
            failed = {n: ("", "not deleted (no reason given)") for n in requested}
        else:
            raise _bad(call, "status PARTIAL without the numbers that were not deleted")
    assumed: set[str] = set()
    if retried:
        for number in list(failed):
            if failed[number][0] == NOT_YOURS and number in requested:
                assumed.add(number)
                del failed[number]
    deleted = [n for n in requested if n not in failed]
    final: DeleteStatus
    if not failed:
        final = "OK"
    elif deleted:
        final = "PARTIAL"
    else:
        final = "FAIL"
    return DeleteResult(
        requested=requested, status=final, failed=failed, assumed_deleted=frozenset(assumed)
    )


def parse_name_list(data: Any, call: str) -> list[str]:
    """``tel_get_supported_*``: a JSON array of names (or prefixes)."""
    if not isinstance(data, list):
        raise _bad(call, f"expected a list of names, got {_type_name(data)}")
    out: list[str] = []
    for item in data:
        if isinstance(item, str):
            out.append(unescape_literal(item))
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))  # a prefix sent as a number
        else:
            raise _bad(call, f"expected a list of names, found {_type_name(item)}")
    return out


def parse_regulation_addresses(data: Any, call: str) -> dict[str, tuple[str, str]]:
    """``tel_list_regulation_addresses``: ``{"<name>": {"country", "region"}}``."""
    if isinstance(data, list) and not data:
        return {}
    if not isinstance(data, dict):
        raise _bad(call, f"expected an object of addresses, got {_type_name(data)}")
    out: dict[str, tuple[str, str]] = {}
    for name, info in data.items():
        if not isinstance(info, dict):
            raise _bad(call, f"address {str(name)[:40]!r}: expected an object")
        country, region = info.get("country"), info.get("region")
        if not isinstance(country, str) or not isinstance(region, str | type(None)):
            raise _bad(call, f"address {str(name)[:40]!r}: country/region are not strings")
        out[str(name)] = (unescape_literal(country), unescape_literal(region or ""))
    return out


# --------------------------------------------------------------------------- services


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """One entry of a service list: ``GET /service/v1/{inbound,outbound}``."""

    name: str
    target: str | None = None
    description: str | None = None


ServiceListShape = Literal["services", "array", "keyed"]


def service_list_shape(data: Any) -> ServiceListShape | None:
    """Which shape a service list answer has, or None when it is none of them:

    - ``services``: ``{"services": [{"name", "target", "description"}]}`` (documented for the
      outbound list; ``"services": null`` is an empty list);
    - ``array``: a bare array of those entries (or of names);
    - ``keyed``: ``{"<name>": {"target", "description"}}``, the shape of
      ``tel_list_numbers`` (``{}`` is an empty list).

    The pages show only the outbound list; the inbound one may have any of these shapes.
    """
    if isinstance(data, list):
        return "array"
    if not isinstance(data, dict):
        return None
    if "services" in data and (data["services"] is None or isinstance(data["services"], list)):
        return "services"
    if all(_keyed_entry(v) for v in data.values()):
        return "keyed"
    return None


def _keyed_entry(value: Any) -> bool:
    """A value of the keyed shape: an object of strings (target, description), or null."""
    if value is None:
        return True
    return isinstance(value, dict) and all(isinstance(v, str | None) for v in value.values())


def parse_service_list(data: Any, call: str) -> list[ServiceSummary]:
    """A service list in any shape :func:`service_list_shape` knows; an entry may also be
    just the service's name."""
    shape = service_list_shape(data)
    if shape is None:
        raise _bad(
            call, f"expected an object with 'services' (a list of services), got {_type_name(data)}"
        )
    items: list[Any]
    if shape == "services":
        items = data["services"] or []
    elif shape == "array":
        items = data
    else:
        items = [{**(info or {}), "name": name} for name, info in data.items()]
    out: list[ServiceSummary] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _bad(call, "a service entry has no name")
        name = item["name"]
        if name in seen:
            raise _bad(call, f"service {name!r} is listed twice")
        seen.add(name)
        target, desc = item.get("target"), item.get("description")
        out.append(
            ServiceSummary(
                name=name,
                target=target if isinstance(target, str) else None,
                description=desc if isinstance(desc, str) else None,
            )
        )
    return out


def parse_object(data: Any, call: str, what: str) -> dict[str, Any]:
    """A JSON object (a service configuration, a schema)."""
    if not isinstance(data, dict):
        raise _bad(call, f"expected {what} (an object), got {_type_name(data)}")
    return data


# --------------------------------------------------------------------------- aql replies

# "200: OK", "status * 200", "69001 * number is invalid", "  action-type: httpget"
_STATUS_LINE = re.compile(r"^\s*([^:*]*?)\s*[:*]\s*(.*?)\s*$")
_FIELD_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z_-]*)\s*[:*]\s?(.*?)\s*$")

# Every action-type a query can report (mvno can be read, never set).
RELAY_READABLE_ACTIONS: tuple[str, ...] = ("null-route", "email", "httpget", "httppost", "mvno")

RELAY_CODES: Mapping[str, str] = {
    "200": "OK",
    "400": "Bad request",
    "401": "Authentication error",
    "500": "Internal system error",
    "600": "Invalid command",
    "69001": "Number not valid",
    "69003": "action-type is invalid",
    "69004": "action-detail is invalid for the provided action-type",
}

_RELAY_HINTS: Mapping[str, str] = {
    "400": "the gateway rejected the request; check the relay route's number, action and detail",
    "401": "check `aql.username` and `aql.password` (the aql account's credentials)",
    "500": "aql failed internally; try again later",
    "600": "the gateway did not recognise the command; this is a bug, please report it",
    "69001": "check the number in `relay_routes`: it must be an aql number of this account, "
    "digits only",
    "69003": "use one of null-route, email, httpget, httppost (mvno can be read, never set)",
    "69004": "httpget/httppost need http(s) callback URLs, email needs e-mail addresses",
}


def relay_status(line: str) -> tuple[str, str] | None:
    """``(code, description)`` of an aql status line in either published form, or None."""
    m = _STATUS_LINE.match(line)
    if not m:
        return None
    left, right = m.group(1), m.group(2)
    if left.isdigit():
        return left, right
    if left.lower() == "status":
        head = right.split(None, 1)
        if head and head[0].isdigit():
            return head[0], head[1] if len(head) > 1 else ""
    return None


def relay_error(code: str, description: str, call: str) -> RelayError:
    """The error for an aql failure code."""
    known = RELAY_CODES.get(code)
    said = description or known or "no description"
    message = f"aql answered {code}: {said}"
    hint = _RELAY_HINTS.get(code)
    if code == "401":
        return RelayAuthenticationError(message, call=call, code=code, hint=hint)
    return RelayError(message, call=call, code=code, hint=hint)


def parse_relay_reply(text: str, call: str, number: str) -> LiveRelayRoute:
    """The aql plain reply to ``query``/``modify``:

    ``200: OK`` / ``number: N`` / ``action-type: T`` / ``action-detail: D`` (``:`` or ``*``,
    any indentation, ``status * 200`` as the first line too). A failure is one line
    ``<code>: <description>`` and raises :class:`RelayError` with that code. The detail is
    split on commas (the gateway's own separator for several URLs or addresses).
    """
    lines = [ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()]
    if not lines:
        raise _bad(call, "an empty body from the aql gateway")
    status = relay_status(lines[0])
    if status is None:
        from reconciler.clients.http import describe_body

        raise _bad(call, f"expected an aql status line, got {describe_body(text.encode())}")
    code, description = status
    if code != "200":
        raise relay_error(code, description, call)
    fields: dict[str, str] = {}
    for line in lines[1:]:
        m = _FIELD_LINE.match(line)
        if m:
            fields.setdefault(m.group(1).lower().replace("_", "-"), m.group(2))
    action = fields.get("action-type", "").strip().lower()
    if not action:
        raise _bad(call, "the aql reply has no action-type")
    got = digits_of(fields.get("number", ""))
    if got and got != digits_of(number):
        raise _bad(call, f"asked about {number}, the aql reply is about {got[:20]}")
    # A reply cut short still parses line by line ("action-type: e", or no detail where the
    # action needs one): taking it as the route would show drift that isn't there.
    if action not in RELAY_READABLE_ACTIONS:
        raise _bad(call, f"the aql reply has an unknown action-type {action[:20]!r} (cut short?)")
    if action in ("email", "httpget", "httppost") and not fields.get("action-detail", "").strip():
        raise _bad(
            call, f"the aql reply for action-type {action} has no action-detail (cut short?)"
        )
    raw_detail = fields.get("action-detail", "").strip()
    # Plain strings, as the desired state holds them (a callback URL's password is masked where
    # it is shown or fingerprinted, see reconciler.live.model).
    detail = tuple(d.strip() for d in raw_detail.split(",") if d.strip())
    return LiveRelayRoute(number=digits_of(number), action=action, detail=detail)


def parse_relay_error_line(content: bytes) -> tuple[str, str] | None:
    """The ``<code>: <description>`` of an aql error body, if it has one."""
    text = content.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    first = text.splitlines()[0] if text else ""
    return relay_status(first) if first else None
