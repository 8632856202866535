"""Secrets: values that print as ``(sensitive)`` everywhere and are revealed only to HTTP.

A :class:`Secret` wraps an API key, a password, a service password or a URL that carries
credentials. ``str``, ``repr``, ``format``, logging and :func:`to_jsonable` all show a mask;
only :meth:`Secret.reveal` gives the value, and only the HTTP layer calls it. Two secrets
compare equal when their values are equal, so the planner can diff them without showing them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "(sensitive)"

# Keys whose values are secrets wherever they appear in a service configuration.
SECRET_KEYS = frozenset({"api_key", "password", "service_password"})

_URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]*@")


# Every secret value seen in this process, for :func:`redact`: a last line of defence for
# text that did not come through a Secret (an exception's message, a server's error body
# echoing a password). Short values are left out: redacting "1" everywhere helps nobody.
_KNOWN_VALUES: set[str] = set()
_MIN_REDACT_LEN = 4


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``(sensitive)``."""
    if not _KNOWN_VALUES:
        return text
    # Longest first, so a secret containing another is masked whole.
    for value in sorted(_KNOWN_VALUES, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A value that must never be shown.

    ``display`` is what is shown instead: ``(sensitive)`` by default, or for a URL with
    credentials the URL with its password masked (``https://user:(sensitive)@host/path``).
    """

    __slots__ = ("_display", "_value")

    def __init__(self, value: str, *, display: str = MASK) -> None:
        self._value = value
        self._display = display
        if len(value) >= _MIN_REDACT_LEN:
            _KNOWN_VALUES.add(value)

    def reveal(self) -> str:
        """The value itself. Only for the HTTP layer and the files that hold secrets."""
        return self._value

    @property
    def display(self) -> str:
        return self._display

    def __str__(self) -> str:
        return self._display

    def __repr__(self) -> str:
        return f"Secret({self._display!r})"

    def __format__(self, spec: str) -> str:
        return format(self._display, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # pickling would write the value somewhere unplanned
        raise TypeError("a Secret cannot be pickled")


def url_has_password(value: str) -> bool:
    """True for ``scheme://user:pass@host...``."""
    return bool(_URL_WITH_PASSWORD.match(value))


def secret_url(value: str) -> Secret:
    """Wrap a URL carrying a password; its display keeps everything but the password."""
    parts = urlsplit(value)
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    shown = urlunsplit((parts.scheme, f"{user}:{MASK}@{host}", parts.path, parts.query, ""))
    if parts.fragment:
        shown += "#" + parts.fragment
    return Secret(value, display=shown)


def conceal(value: Any, *, key: str | None = None) -> Any:
    """Wrap the secrets of a JSON-like value: values under :data:`SECRET_KEYS` and URLs with
    passwords become :class:`Secret`. Used on service configurations read from the API and
    loaded from YAML, so that both sides of a diff carry the same type."""
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        if key in SECRET_KEYS:
            return Secret(value)
        if url_has_password(value):
            return secret_url(value)
        return value
    if isinstance(value, Mapping):
        return {k: conceal(v, key=k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [conceal(v, key=key) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The JSON-like value with every :class:`Secret` replaced by its value: for HTTP bodies."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(v) for v in value]
    return value


def to_jsonable(value: Any) -> Any:
    """The JSON-like value with every :class:`Secret` replaced by its display: for output."""
    if isinstance(value, Secret):
        return value.display
    if isinstance(value, Mapping):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def json_default(value: Any) -> Any:
    """``default=`` for :func:`json.dumps`: a Secret that slipped through prints masked."""
    if isinstance(value, Secret):
        return value.display
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
