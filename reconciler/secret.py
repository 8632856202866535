"""Secrets: one vocabulary for values that print as ``(sensitive)`` everywhere.

A :class:`Secret` wraps an API key, a password, a service password or a URL that carries
credentials. ``str``, ``repr``, ``format``, logging and :func:`to_jsonable` all show a mask;
only :meth:`Secret.reveal` gives the value, and only the HTTP layer calls it. Two secrets
compare equal when their values are equal, so the planner can diff them without showing them.

The words, each with one meaning:

- :data:`SECRET_KEYS` names the keys whose values are secrets wherever they appear (the
  simulator masks its logs by the same keys); :func:`url_has_password` recognises a URL with
  credentials.
- :func:`conceal` wraps every secret of a JSON-like value; :func:`reveal` unwraps them for an
  HTTP body; :func:`to_jsonable` shows them masked; :func:`masked` is conceal-then-show, for
  anything written out (plan JSON, journal).
- A :class:`Redactor` is the last line of defence for text that did not come through a
  Secret (an exception's message, a server's error body echoing a password): it knows every
  secret value of a session and masks each in every form text may carry it: raw,
  URL-encoded, JSON-escaped, inside HTTP Basic credentials. The command line activates one
  per command (:meth:`Redactor.active`); every Secret made while it is active is known to it,
  and :func:`redact` masks with it.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "(sensitive)"

# Keys whose values are secrets wherever they appear in a service configuration.
SECRET_KEYS = frozenset({"api_key", "password", "service_password"})

# ``scheme://user:password@``: the password runs to the first "@" (RFC 3986 forbids a raw "/"
# in it, but people write base64 passwords such as "Zm9v/YmFy+cXV4" there, and the server that
# calls the URL may accept them). A host name, a port and a path with an "@" further on
# ("app.example.com:8443/in?to=a@b") is not one: that reading needs a host-like name before
# the colon and only digits up to the path.
_URL_WITH_PASSWORD = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s:]*):([^@\s]*)@")
_PORT_AND_PATH = re.compile(r"^\d{1,5}[/?#]")
_HOST_LIKE = re.compile(r"^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")

# Short values are not redacted from text: masking "1" everywhere helps nobody (they are still
# masked wherever they are known to be secrets, as Secret values).
MIN_REDACT_LEN = 4


def password_span(value: str) -> tuple[int, int] | None:
    """Where the password of a URL carrying credentials is in ``value`` (``start, end``), or
    None for any other text: the one rule of what a URL password is."""
    match = _URL_WITH_PASSWORD.match(value) if "@" in value else None
    if match is None:
        return None
    if _PORT_AND_PATH.match(match.group(3)) and _HOST_LIKE.match(match.group(2)):
        return None
    return match.span(3)


def _credentials(value: str) -> tuple[str, str, str, str] | None:
    """``(scheme://, user, password, rest)`` of a URL carrying a password, else None."""
    span = password_span(value)
    if span is None:
        return None
    start, end = span
    scheme_end = value.index("://") + 3
    return value[:scheme_end], value[scheme_end : start - 1], value[start:end], value[end + 1 :]


def forms_of(value: str) -> set[str]:
    """Every form ``value`` may take in text: raw; URL-encoded (``%2F`` or ``/``, ``+`` for a
    space, lower-case hex); JSON-escaped (``\\"``, ``\\\\``, ``\\u00e9``, ``\\/``, and
    escaped twice); quoted by Python's ``repr``; and, for a URL with a password, the password
    alone in each of these forms."""
    found: set[str] = set()
    values = [value]
    parts = _credentials(value)
    if parts is not None and parts[2]:
        values += [parts[2], unquote(parts[2])]
    for v in values:
        encoded = {quote(v, safe=""), quote(v), quote_plus(v)}
        encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), e) for e in encoded}
        escaped = set()
        for ascii_only in (True, False):
            once = json.dumps(v, ensure_ascii=ascii_only)[1:-1]
            escaped |= {once, once.replace("/", "\\/"), json.dumps(once)[1:-1]}
        found |= {v, repr(v)[1:-1], *encoded, *escaped}
    return {f for f in found if len(f) >= MIN_REDACT_LEN}


class Redactor:
    """The secret values one command knows, masked in any text by :meth:`redact`.

    Thread-safe: the journal writes from a worker thread while the event loop reads.
    Always true as an object, empty or not: ``active_redactor() or Redactor()`` must never
    trade the command's redactor, empty when a command starts, for a new one (secrets met
    later would then be known to a redactor that nothing prints through).
    """

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._values: set[str] = set()
        self._ordered: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        """Know ``values`` (and every form of them) from now on."""
        new = [v for v in values if len(v) >= MIN_REDACT_LEN and v not in self._values]
        if not new:
            return
        with self._lock:
            for v in new:
                self._values.add(v)
                self._forms |= forms_of(v)
            # Longest first, so that a secret containing another is masked whole.
            self._ordered = tuple(sorted(self._forms, key=lambda f: (-len(f), f)))

    def known(self) -> tuple[str, ...]:
        """The secret values known (raw, not their other forms)."""
        with self._lock:
            return tuple(self._values)

    def add_basic(self, username: str, password: str) -> None:
        """Know the HTTP Basic credentials of ``username`` and ``password`` (the base64 of
        ``username:password`` does not contain the base64 of the password alone)."""
        self.add(password, basic_token(username, password))

    def redact(self, text: str) -> str:
        """``text`` with every known secret, in every form, replaced by ``(sensitive)``."""
        for form in self._ordered:
            if form in text:
                text = text.replace(form, MASK)
        return text

    __call__ = redact

    @contextlib.contextmanager
    def active(self) -> Iterator[Redactor]:
        """Make this the redactor of :func:`redact` and of every Secret made meanwhile (in this
        context: threads and tasks started from it inherit it)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


_ACTIVE: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "reconciler_redactor", default=None
)


def basic_token(username: str, password: str) -> str:
    """The HTTP Basic credentials of ``username`` and ``password``, as the ``Authorization``
    header carries them (after ``Basic ``): a secret, which does not contain the base64 of the
    password alone."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def active_redactor() -> Redactor | None:
    """The redactor of the command running in this context, if any."""
    return _ACTIVE.get()


def redact(text: str) -> str:
    """``text`` with every secret the active :class:`Redactor` knows masked."""
    redactor = _ACTIVE.get()
    return redactor.redact(text) if redactor is not None else text


def know(values: Iterable[str]) -> None:
    """Make ``values`` known to the active redactor (a value that is not a Secret yet, such as
    the password inside a relay route's callback URL, which the model keeps as text)."""
    redactor = _ACTIVE.get()
    if redactor is not None:
        redactor.add(*values)


class Secret:
    """A value that must never be shown.

    ``display`` is what is shown instead: ``(sensitive)`` by default, or for a URL with
    credentials the URL with its password masked (``https://user:(sensitive)@host/path``).
    """

    __slots__ = ("_display", "_value")

    def __init__(self, value: str, *, display: str = MASK) -> None:
        self._value = value
        self._display = display
        redactor = _ACTIVE.get()
        if redactor is not None:
            redactor.add(value)

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
    """True for ``scheme://user:pass@host...`` (the password may hold a ``/``)."""
    return password_span(value) is not None


def secret_url(value: str) -> Secret:
    """Wrap a URL carrying a password; its display keeps everything but the password
    (``https://user:(sensitive)@host/path``)."""
    parts = _credentials(value)
    if parts is None:
        return Secret(value)
    scheme, user, password, rest = parts
    return Secret(value, display=f"{scheme}{user}:{MASK}@{_past_known(value, rest, password)}")


def _past_known(value: str, rest: str, password: str) -> str:
    """What follows the password of ``value``, past any known secret the password begins.

    The password runs to the first ``@``; a secret that holds an ``@`` itself (a password
    from the environment, substituted into the URL as it is) runs on past it, and its tail
    would be shown as the host. The known secret is masked whole instead."""
    redactor = _ACTIVE.get()
    if redactor is None:
        return rest
    start = len(value) - len(rest) - 1 - len(password)  # where the password begins
    end = start
    for known in redactor.known():
        if "@" in known and value.startswith(known, start):
            end = max(end, start + len(known))
    if end <= start + len(password):
        return rest
    tail = value[end:]
    return tail[1:] if tail.startswith("@") else tail


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


def masked(value: Any, *, key: str | None = None) -> Any:
    """``value`` as it may be shown or written out: every secret, wrapped or not yet (a value
    under a secret key, a URL with a password), replaced by its mask."""
    return to_jsonable(conceal(value, key=key))


def json_default(value: Any) -> Any:
    """``default=`` for :func:`json.dumps`: a Secret that slipped through prints masked."""
    if isinstance(value, Secret):
        return value.display
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
