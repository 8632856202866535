"""The Aculab Cloud web services client: one method per call of docs/vendor-api.md.

Auth is HTTP Basic ``<cloudID>/<username>`` with the API Access Key; every call sends
``Accept: application/json`` (legacy endpoints otherwise answer errors in HTML/XML). ``tel_*``
calls are POSTs with form bodies, so no parameter (and no key) is ever in a URL; non-ASCII
location names are sent as literal ``\\uXXXX`` escapes, as the number API requires. Service
calls send JSON bodies (``Content-Type: application/json``); a body may hold
:class:`~reconciler.secret.Secret` values, revealed only when serialised.

What is retried (see :class:`~reconciler.clients.http.RetryPolicy`) on 429, 5xx and lost
connections: every read, ``PUT``, ``PATCH``, ``DELETE``, ``tel_purchase_development`` and
``tel_delete_numbers``. Never ``tel_purchase``: it is not idempotent and costs money, so a
failed or timed-out purchase raises at once, saying its outcome is unknown.

Two retry subtleties, decided here:

- ``DELETE /service/v1/...`` answered 404 on a *retry* means an earlier attempt deleted it: done.
- ``tel_delete_numbers`` answered ``0300`` ("does not belong to you") on a *retry* for a
  requested number: an earlier attempt may have deleted it, and either way it is no longer on
  the account, which is what a release wants. It is reported in
  :attr:`DeleteResult.assumed_deleted`, not as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from reconciler.clients.http import DEFAULT_RETRY, HttpClient, Reply, RetryPolicy, expect_json
from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, RetryBudget
from reconciler.clients.parsers import (
    DeleteResult,
    ServiceSummary,
    escape_non_ascii,
    parse_delete_result,
    parse_name_list,
    parse_number_list,
    parse_object,
    parse_purchased,
    parse_regulation_addresses,
    parse_service_list,
)
from reconciler.desired.model import AculabAccount, ServiceKind
from reconciler.desired.numbers import digits_of
from reconciler.errors import MalformedResponseError
from reconciler.live.model import LiveNumber
from reconciler.secret import SECRET_KEYS, basic_token, conceal

__all__ = ["AculabClient", "DeleteResult", "ServiceSummary"]

T = TypeVar("T")

# Parameters holding location names: sent with non-ASCII letters as \uXXXX escapes.
_ESCAPED_PARAMS = frozenset({"country", "state", "region"})

_KINDS = ("inbound", "outbound")

PURCHASE_OUTCOME_UNKNOWN = (
    "the purchase may or may not have been made (outcome unknown); it was not retried. "
    "Re-list the numbers at this location before buying again"
)

if TYPE_CHECKING:  # the transports import httptools
    from reconciler.clients.transport import Transport


def tel_form(params: Mapping[str, Any]) -> dict[str, str]:
    """The form of a ``tel_*`` call: None left out, booleans as "True"/"False", location
    names with non-ASCII letters escaped."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        # Booleans in the API's spelling: "True"/"False".
        text = ("True" if value else "False") if isinstance(value, bool) else str(value)
        out[key] = escape_non_ascii(text) if key in _ESCAPED_PARAMS else text
    return out


def _kind(kind: str) -> ServiceKind:
    if kind not in _KINDS:
        raise ValueError(f"service kind must be 'inbound' or 'outbound', not {kind!r}")
    return kind  # type: ignore[return-value]


class AculabClient:
    """An Aculab Cloud account's web services. Use as ``async with AculabClient(...) as c``.

    ``transport`` replaces the default (:mod:`reconciler.clients.transport`), e.g. any
    :class:`~reconciler.clients.transport.Transport`, ``httpx.MockTransport`` or
    ``httpx.ASGITransport(app=sim.app)`` in tests. ``concurrency`` bounds the calls in flight;
    ``timeout`` applies to every call but purchases, which get ``purchase_timeout`` ("may take
    several seconds to complete").
    """

    def __init__(
        self,
        account: AculabAccount,
        *,
        transport: Transport | httpx.AsyncBaseTransport | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
        purchase_timeout: float = 120.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        deadline: float = DEFAULT_CALL_DEADLINE,
        budget: RetryBudget | None = None,
    ) -> None:
        self.account = account
        self.purchase_timeout = purchase_timeout
        key = account.api_key.reveal()
        token = basic_token(account.basic_username, key)
        self.http = HttpClient(
            service="Aculab Cloud",
            base_url=account.base_url,
            auth_hint=(
                "check `aculab.cloud_id` and `aculab.username` (sent as "
                f"{account.basic_username!r}) and the API key (`aculab.api_key`)"
            ),
            secrets=[key, token],
            headers={"Accept": "application/json", "Authorization": f"Basic {token}"},
            transport=transport,
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            deadline=deadline,
            budget=budget,
        )

    async def __aenter__(self) -> AculabClient:
        await self.http.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def __repr__(self) -> str:
        return f"<AculabClient {self.account.basic_username} at {self.http.host}>"

    # ----------------------------------------------------------------- numbers

    async def _tel(
        self,
        name: str,
        params: Mapping[str, Any],
        parse: Callable[[Any, Reply], T],
        *,
        retry: bool = True,
        timeout: float | None = None,
        outcome_unknown: str | None = None,
    ) -> T:
        def run(reply: Reply) -> T:
            return parse(expect_json(reply), reply)

        return await self.http.request(
            "POST",
            f"/{name}",
            form=tel_form(params),
            parse=run,
            retry=retry,
            timeout=timeout,
            outcome_unknown=outcome_unknown,
        )

    async def list_numbers(
        self,
        country: str | None = None,
        state: str | None = None,
        region: str | None = None,
        did_type: str | None = None,
    ) -> dict[str, LiveNumber]:
        """``tel_list_numbers``, optionally filtered by location."""
        params = {"country": country, "state": state, "region": region, "did_type": did_type}
        result = await self._tel(
            "tel_list_numbers", params, lambda d, r: parse_number_list(d, r.call)
        )
        return result

    async def purchase(self, params: Mapping[str, Any], *, development: bool = False) -> list[str]:
        """``tel_purchase`` (or ``tel_purchase_development``): the numbers bought.

        A real purchase is NEVER retried. When it fails after the request may have reached the
        server (a lost connection, a timeout, a 5xx, an unreadable success), the error says the
        outcome is unknown: re-list the numbers at the location before deciding anything.
        ``development`` purchases buy nothing and are retried like reads.
        """
        if development:
            dev = await self._tel(
                "tel_purchase_development", params, lambda d, r: parse_purchased(d, r.call)
            )
            return dev
        bought = await self._tel(
            "tel_purchase",
            params,
            lambda d, r: parse_purchased(d, r.call),
            retry=False,
            timeout=self.purchase_timeout,
            outcome_unknown=PURCHASE_OUTCOME_UNKNOWN,
        )
        return bought

    async def delete_numbers(self, numbers: Sequence[str]) -> DeleteResult:
        """``tel_delete_numbers`` for ``numbers`` (one call, a comma-separated list)."""
        wanted = [digits_of(n) for n in numbers]
        if not wanted:
            return DeleteResult(requested=(), status="OK")
        result = await self._tel(
            "tel_delete_numbers",
            {"numbers": ",".join(wanted)},
            lambda d, r: parse_delete_result(d, r.call, wanted, retried=r.attempts > 1),
        )
        return result

    async def supported_countries(self, did_type: str = "geographic") -> list[str]:
        """``tel_get_supported_countries``: the countries numbers of ``did_type`` are sold in."""
        result = await self._tel(
            "tel_get_supported_countries",
            {"did_type": did_type},
            lambda d, r: parse_name_list(d, r.call),
        )
        return result

    async def supported_states(self, country: str) -> list[str]:
        """``tel_get_supported_states``: the states of ``country`` (empty if it has none)."""
        result = await self._tel(
            "tel_get_supported_states",
            {"country": country},
            lambda d, r: parse_name_list(d, r.call),
        )
        return result

    async def supported_regions(
        self, country: str, state: str | None = None, did_type: str = "geographic"
    ) -> list[str]:
        """``tel_get_supported_regions``: region names (geographic) or number prefixes."""
        result = await self._tel(
            "tel_get_supported_regions",
            {"country": country, "state": state, "did_type": did_type},
            lambda d, r: parse_name_list(d, r.call),
        )
        return result

    async def regulation_addresses(self) -> dict[str, tuple[str, str]]:
        """``tel_list_regulation_addresses``: address name -> (country, region)."""
        result = await self._tel(
            "tel_list_regulation_addresses", {}, lambda d, r: parse_regulation_addresses(d, r.call)
        )
        return result

    # ----------------------------------------------------------------- services

    @staticmethod
    def _path(kind: str, name: str | None = None) -> tuple[str, str]:
        """(URL path, call name): the name quoted in the path, plain in messages."""
        base = f"/service/v1/{_kind(kind)}"
        if name is None:
            return base, base
        if not name:
            raise ValueError("a service name cannot be empty")
        return f"{base}/{quote(name, safe='')}", f"{base}/{name}"

    async def list_services(self, kind: str) -> list[ServiceSummary]:
        """``GET /service/v1/{kind}``: every service of that kind on the account."""
        path, name = self._path(kind)
        return await self.http.request(
            "GET",
            path,
            call=f"GET {name}",
            parse=lambda r: parse_service_list(expect_json(r), r.call),
        )

    async def service_schema(self, kind: str) -> dict[str, Any]:
        """``GET /service/v1/schema/{kind}``: the server's draft-07 schema of a configuration."""
        path = f"/service/v1/schema/{_kind(kind)}"
        return await self.http.request(
            "GET",
            path,
            parse=lambda r: parse_object(expect_json(r), r.call, "a JSON Schema"),
        )

    async def read_service(self, kind: str, name: str) -> dict[str, Any]:
        """``GET /service/v1/{kind}/<name>``: the full configuration, secrets concealed."""
        path, shown = self._path(kind, name)
        return await self.http.request(
            "GET", path, call=f"GET {shown}", parse=lambda r: self._config(r)
        )

    async def write_service(
        self, kind: str, name: str, body: Mapping[str, Any] | None
    ) -> tuple[bool, dict[str, Any]]:
        """``PUT``: create (201) or replace (200) a service; ``(created, config)``.

        A PUT is retried; if a first attempt created the service but its reply was lost, the
        retry answers 200 and ``created`` is False (the configuration is the same).
        """
        path, shown = self._path(kind, name)

        def parse(reply: Reply) -> tuple[bool, dict[str, Any]]:
            return reply.status == 201, self._config(reply)

        return await self.http.request(
            "PUT",
            path,
            call=f"PUT {shown}",
            json_body=dict(body or {}),
            parse=parse,
        )

    async def modify_service(self, kind: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH``: merge ``body`` into a service (``None`` clears); the merged config."""
        path, shown = self._path(kind, name)
        return await self.http.request(
            "PATCH", path, call=f"PATCH {shown}", json_body=dict(body), parse=self._config
        )

    async def delete_service(self, kind: str, name: str) -> None:
        """``DELETE``: remove a service. A 404 on a retry counts as done (an earlier attempt
        deleted it); a 404 on the first attempt raises :class:`NotFoundError`."""
        path, shown = self._path(kind, name)
        await self.http.request(
            "DELETE",
            path,
            call=f"DELETE {shown}",
            parse=lambda r: None,
            gone_ok_after_retry=True,
        )

    @staticmethod
    def _config(reply: Reply) -> dict[str, Any]:
        return parse_config(reply)


def _conceal_hook(obj: dict[str, Any]) -> dict[str, Any]:
    """``object_hook`` wrapping the values of secret keys as the JSON is decoded (inner
    objects first), which is what :func:`conceal` does in a second walk of the whole tree."""
    for key in SECRET_KEYS.intersection(obj):
        obj[key] = conceal(obj[key], key=key)
    return obj


# One decoder for every configuration: json.loads with a hook builds a new one per call.
_CONFIG_DECODER = json.JSONDecoder(object_hook=_conceal_hook)


def parse_config(reply: Reply) -> dict[str, Any]:
    """A service configuration with its secrets concealed (as :func:`conceal` would)."""
    data: Any
    try:
        # What json.loads does with bytes, with the one decoder.
        content = reply.content
        data = _CONFIG_DECODER.decode(
            content.decode(json.detect_encoding(content), "surrogatepass")
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = conceal(expect_json(reply))  # the defensive path, with its clear errors
    else:
        # A URL carrying a password needs an "@"; only then is the whole walk needed.
        if b"@" in reply.content:
            data = conceal(data)
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"unexpected reply: expected a service configuration (an object), got "
            f"{type(data).__name__}",
            call=reply.call,
        )
    return data
