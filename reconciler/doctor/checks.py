"""The assumptions ``reconciler doctor`` checks, each against one or two read-only calls.

:class:`Doctor` asks the account what ``reconciler`` would otherwise learn in the middle of an
apply: the shape of every list and read answer it parses, whether the service schemas carry
defaults, what an error looks like, which separator aql writes, whether the YAML's pools are
sold as spelled, how fast each endpoint answers and whether the server limits the rate.

Only these calls are made (``docs/doctor.md``): ``tel_list_numbers``,
``tel_get_supported_countries|states|regions``, ``tel_list_regulation_addresses``,
``tel_purchase_development`` (validates a purchase, buys nothing, costs nothing), a
``tel_get_supported_states`` without its mandatory ``country`` (to see an error's code), the
two service lists and schemas, one read of each kind, a read of a service name that can't
exist (to see a 404), and aql ``query`` (of the declared or given numbers, and of an invalid
one to see a failure line). Never a write, a purchase, a delete or an aql ``modify``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.clients.aculab import AculabClient, tel_form
from reconciler.clients.aql import AqlClient
from reconciler.clients.http import Reply, describe_body, expect_json, parse_aculab_error
from reconciler.clients.parsers import (
    parse_html_error,
    parse_name_list,
    parse_number_list,
    parse_purchased,
    parse_regulation_addresses,
    parse_relay_error_line,
    parse_relay_reply,
    parse_service_list,
    relay_status,
    service_list_shape,
)
from reconciler.configuration import schema_defaults
from reconciler.desired.model import NumberPool
from reconciler.doctor.recorder import Exchange, Recorder
from reconciler.doctor.report import Finding, Verdict
from reconciler.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    AuthenticationError,
    RelayError,
)
from reconciler.live.model import Catalogue
from reconciler.plan.changes import Purchase
from reconciler.plan.preflight import check_purchase

AQL_REFUSED = (
    "every command that reads relay routes fails: check aql.username and aql.password; this is "
    "not a reconciler bug"
)
# What the pages say tel_purchase_development answers to valid parameters.
DEVELOPMENT_NUMBERS = ["1234567", "89012345"]
SERVICE_KINDS = ("inbound", "outbound")
_SHAPE_WORDS = {
    "services": 'the documented {"services": [{"name", "target", "description"}]}',
    "array": "a bare JSON array of services",
    "keyed": 'an object keyed by service name ({"<name>": {"target", "description"}})',
}


@dataclass(frozen=True, slots=True)
class RelayTarget:
    """A relay number to query, and how to point at it without printing it (``where``: the
    YAML place that declares it, or which ``--relay-number`` it was)."""

    number: str
    where: str


@dataclass
class _Catalogue:
    """The catalogue lists doctor fetched, as :class:`Catalogue` wants them, and what their
    raw answers looked like."""

    countries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    states: dict[str, tuple[str, ...]] = field(default_factory=dict)
    regions: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    addresses: dict[str, tuple[str, str]] | None = None
    lists: int = 0
    escaped: int = 0  # names the server sent as literal \\uXXXX escapes
    numeric: int = 0  # prefixes sent as JSON numbers
    malformed: list[str] = field(default_factory=list)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)

    def frozen(self) -> Catalogue:
        return Catalogue(
            countries=dict(self.countries),
            states=dict(self.states),
            regions=dict(self.regions),
            regulation_addresses=self.addresses,
        )


@dataclass(frozen=True, slots=True)
class Topic:
    """One assumption: its stable ``id``, its title, and what the pages say of it."""

    id: str
    title: str
    pages: str

    def finding(self, verdict: Verdict, answered: str, action: str, **facts: Any) -> Finding:
        """What this account answered, and what reconciler does about it."""
        return Finding(self.id, self.title, verdict, self.pages, answered, action, facts)


# The assumptions every run checks once (those of each service kind or pool are made where
# they are checked).
ACULAB_CREDENTIALS = Topic(
    "aculab.credentials",
    "Aculab credentials",
    "HTTP Basic: user '<cloudID>/<username>', password the API access key",
)

ACULAB_NUMBERS_LIST = Topic(
    "aculab.numbers.list",
    "Numbers list (tel_list_numbers)",
    "an object {number: {country, state?, region, price, purchased, did_type}}",
)

ACULAB_SCHEMA_DEFAULTS = Topic(
    "aculab.schema.defaults",
    "Default keywords in the service schemas",
    "not shown: the published excerpt elides every property",
)

ACULAB_CATALOGUE_LISTS = Topic(
    "aculab.catalogue.lists",
    "What can be bought (tel_get_supported_*)",
    "tel_get_supported_countries/states/regions answer JSON arrays of names (regions "
    'of national and toll-free numbers are prefixes such as "855")',
)

ACULAB_REGULATION_ADDRESSES = Topic(
    "aculab.regulation-addresses",
    "Regulation addresses (tel_list_regulation_addresses)",
    'an object {"<address name>": {"country", "region"}}',
)

AQL_CREDENTIALS = Topic(
    "aql.credentials",
    "aql credentials",
    "username and password as parameters; 401: Authentication error",
)

AQL_REPLY = Topic(
    "aql.reply",
    "aql query reply",
    "'200: OK', then 'number: N', 'action-type: T', 'action-detail: D' (HTTP 200, the "
    "gateway's code in the body)",
)

AQL_SEPARATOR = Topic(
    "aql.separator",
    "aql reply separator",
    "both ':' ('200: OK') and '*' ('status * 200') appear in the published examples",
)

AQL_FAILURE = Topic(
    "aql.failure",
    "aql failure reply (a query of a number that can't be valid)",
    "one line '<code>: <description>' (or '<code> * <description>'), e.g. 69001",
)

WRITES_READ_BACK = Topic(
    "writes.read-back",
    "What a write answers and stores (PUT/PATCH, aql modify, tel_purchase, tel_delete_numbers)",
    "a write answers the new full configuration (a purchase the numbers bought, a delete its "
    "status); the pages don't say whether the server stores a value exactly as written (a "
    "URL's host, a null)",
)

RATE_LIMITS = Topic(
    "rate-limits",
    "Rate limiting (429, Retry-After, rate-limit headers)",
    "silent: no 429, Retry-After or rate-limit header is documented",
)


def _error_words(err: BaseException) -> str:
    """An API error as a finding quotes it (already scrubbed by the client)."""
    text = err.message if isinstance(err, ApiError) else type(err).__name__
    return text.split("\n", 1)[0]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


class Doctor:
    """One run of every check against one account (``aql`` None: no aql account)."""

    def __init__(
        self,
        aculab: AculabClient | None,
        aql: AqlClient | None,
        recorder: Recorder,
        *,
        pools: Sequence[NumberPool] = (),
        relay: Sequence[RelayTarget] = (),
        concurrency: int = 16,
    ) -> None:
        self.aculab = aculab
        self.aql = aql
        self.recorder = recorder
        self.pools = list(pools)
        self.relay = list(relay)
        self.concurrency = concurrency
        self.findings: list[Finding] = []
        self.catalogue = _Catalogue()
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self._addresses_quirk: str | None = None
        self._addresses_error: ApiError | None = None
        self._first_location: tuple[str, str, str] | None = None

    async def run(self) -> list[Finding]:
        aculab_ok = self.aculab is not None and await self._aculab_credentials_and_numbers()
        if self.aculab is None:
            self.add(
                ACULAB_CREDENTIALS.finding(
                    "unchecked",
                    "no `aculab:` section in ACCOUNT",
                    "add one to check the Aculab account (an aql customer needs none)",
                )
            )
            self._skip_aculab("ACCOUNT names no Aculab account")
        elif aculab_ok:
            await self._services()
            await self._errors()
            await self._catalogue_and_pools()
        else:
            self._skip_aculab("the Aculab account could not be reached (see its credentials)")
        await self._aql()
        self._read_back()
        self._rate_limits()
        return self.findings

    @property
    def _aculab(self) -> AculabClient:
        """The Aculab client, for the checks that run only when there is one."""
        assert self.aculab is not None
        return self.aculab

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    async def _bounded(self, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
        async def one(job: Callable[[], Awaitable[None]]) -> None:
            async with self._gate:
                await job()

        await asyncio.gather(*(one(job) for job in jobs))

    # ------------------------------------------------------------------ Aculab: the account

    async def _aculab_credentials_and_numbers(self) -> bool:
        try:
            reply = await self._tel_raw("tel_list_numbers", {})
        except AuthenticationError as err:
            self.add(
                ACULAB_CREDENTIALS.finding(
                    "breaks",
                    f"refused: {_error_words(err)}",
                    "every command fails at its first call: check aculab.cloud_id, "
                    "aculab.username and aculab.api_key (the key of this cloud region); this "
                    "is not a reconciler bug",
                )
            )
            return False
        except ApiConnectionError as err:
            self.add(
                ACULAB_CREDENTIALS.finding(
                    "breaks",
                    f"no answer: {_error_words(err)}",
                    "every command fails at its first call: check aculab.endpoint (or the "
                    "cloud ID, which names the region host) and that it can be reached from here",
                )
            )
            return False
        except ApiError as err:
            self.add(
                ACULAB_CREDENTIALS.finding(
                    "unchecked",
                    f"tel_list_numbers failed: {_error_words(err)}",
                    "see the numbers list below",
                )
            )
            self._numbers_failed(err)
            return True
        self.add(
            ACULAB_CREDENTIALS.finding(
                "holds", "accepted (tel_list_numbers answered 200)", "nothing to do"
            )
        )
        self._numbers(reply)
        return True

    def _numbers_failed(self, err: ApiError) -> None:
        self.add(
            ACULAB_NUMBERS_LIST.finding(
                "breaks",
                _error_words(err),
                "plan, apply, drift and export read this list first and stop: report this "
                "answer (attach --format json); don't run apply until it is understood",
            )
        )

    def _numbers(self, reply: Reply) -> None:
        try:
            data = expect_json(reply)
            numbers = parse_number_list(data, reply.call)
        except ApiError as err:
            self._numbers_failed(err)
            return
        quirks: list[str] = []
        if isinstance(data, list):
            quirks.append("an empty JSON array for no numbers (PHP's empty object)")
        else:
            entries = [v for v in data.values() if isinstance(v, dict)]
            prices = [v.get("price") for v in entries]
            if any(isinstance(p, int | float) and not isinstance(p, bool) for p in prices):
                quirks.append("prices as JSON numbers, not strings")
            missing = sorted(
                {f for v in entries for f in ("price", "purchased") if v.get(f) in (None, "")}
            )
            if missing:
                quirks.append("some numbers without " + " or ".join(missing))
        by_type: dict[str, int] = {}
        for number in numbers.values():
            by_type[number.did_type] = by_type.get(number.did_type, 0) + 1
        answered = f"an object of {_plural(len(numbers), 'number')}" + (
            f" ({', '.join(f'{n} {t}' for t, n in sorted(by_type.items()))})" if by_type else ""
        )
        if quirks:
            self.add(
                ACULAB_NUMBERS_LIST.finding(
                    "adapts",
                    answered + "; " + "; ".join(quirks),
                    "reads it as documented (these variants are accepted)",
                    numbers=len(numbers),
                    did_types=by_type,
                    quirks=quirks,
                )
            )
            return
        self.add(
            ACULAB_NUMBERS_LIST.finding(
                "holds",
                answered + ", every field as documented",
                "nothing to do",
                numbers=len(numbers),
                did_types=by_type,
            )
        )

    def _skip_aculab(self, why: str) -> None:
        for id, title in (
            ("aculab.numbers.list", "Numbers list (tel_list_numbers)"),
            ("aculab.services", "Service lists, reads and schemas"),
            ("aculab.errors", "Error bodies and codes"),
            ("aculab.catalogue", "What can be bought, and the YAML's pools"),
        ):
            self.add(Topic(id, title, "-").finding("unchecked", "not asked", why))

    # ------------------------------------------------------------------ Aculab: services

    async def _services(self) -> None:
        lists: dict[str, Any] = {}
        schemas: dict[str, Any] = {}
        errors: dict[str, ApiError] = {}

        def list_job(kind: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                try:
                    reply = await self._get_raw(f"/service/v1/{kind}")
                    lists[kind] = expect_json(reply)
                except ApiError as err:
                    errors[f"list {kind}"] = err

            return job

        def schema_job(kind: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                try:
                    schemas[kind] = await self._aculab.service_schema(kind)
                except ApiError as err:
                    errors[f"schema {kind}"] = err

            return job

        await self._bounded(
            [list_job(k) for k in SERVICE_KINDS] + [schema_job(k) for k in SERVICE_KINDS]
        )
        names: dict[str, list[str]] = {}
        for kind in SERVICE_KINDS:
            names[kind] = self._service_list(kind, lists.get(kind), errors.get(f"list {kind}"))
        for kind in SERVICE_KINDS:
            self._schema(kind, schemas.get(kind), errors.get(f"schema {kind}"))
        self._schema_defaults(schemas)
        for kind in SERVICE_KINDS:
            await self._service_read(kind, names[kind], schemas.get(kind))

    def _service_list(self, kind: str, data: Any, err: ApiError | None) -> list[str]:
        id = f"aculab.services.{kind}-list"
        title = f"{kind.capitalize()} service list (GET /service/v1/{kind})"
        pages = (
            _SHAPE_WORDS["services"]
            if kind == "outbound"
            else "not shown; assumed the outbound list's shape, " + _SHAPE_WORDS["services"]
        )
        topic = Topic(id, title, pages)
        if err is not None:
            self.add(
                topic.finding(
                    "breaks",
                    _error_words(err),
                    f"plan, apply, drift and export list {kind} services and stop: report this "
                    "answer (attach --format json); don't run apply until it is understood",
                )
            )
            return []
        shape = service_list_shape(data)
        try:
            services = parse_service_list(data, f"GET /service/v1/{kind}")
        except ApiError as error:
            self.add(
                topic.finding(
                    "breaks",
                    f"a shape reconciler can't read ({_error_words(error)})",
                    f"plan, apply, drift and export can't list {kind} services: report this "
                    "(attach --format json); don't run apply against this account until fixed",
                    shape=shape,
                )
            )
            return []
        answered = f"{_SHAPE_WORDS[shape or 'services']}, {_plural(len(services), 'service')}"
        if shape == "services" or (shape is None and not services):
            self.add(
                topic.finding(
                    "holds", answered, "nothing to do", shape="services", services=len(services)
                )
            )
        else:
            self.add(
                topic.finding(
                    "adapts",
                    answered,
                    "reads this shape as well as the documented one (nothing to do)",
                    shape=shape,
                    services=len(services),
                )
            )
        return [s.name for s in services]

    def _schema(self, kind: str, schema: Any, err: ApiError | None) -> None:
        id = f"aculab.schema.{kind}"
        title = f"{kind.capitalize()} service schema (GET /service/v1/schema/{kind})"
        pages = "a draft-07 JSON Schema of a configuration, additionalProperties false"
        breaks_action = (
            "apply --dry-run can't check bodies against it, and mode: replace can't know the "
            "undeclared options: report this (attach --format json); until then, use "
            "mode: merge and don't rely on --dry-run"
        )
        topic = Topic(id, title, pages)
        if err is not None:
            self.add(topic.finding("breaks", _error_words(err), breaks_action))
            return
        from jsonschema import Draft7Validator
        from jsonschema.exceptions import SchemaError

        properties = schema.get("properties") if isinstance(schema, dict) else None
        try:
            Draft7Validator.check_schema(schema)
        except SchemaError as error:
            self.add(
                topic.finding(
                    "breaks", f"not a valid draft-07 schema ({error.message[:120]})", breaks_action
                )
            )
            return
        if not isinstance(properties, dict) or not properties:
            self.add(topic.finding("breaks", "a schema without properties", breaks_action))
            return
        dialect = str(schema.get("$schema", ""))
        answered = f"a JSON Schema of {_plural(len(properties), 'option')}"
        if "draft-07" in dialect:
            self.add(
                topic.finding(
                    "holds", answered + " (draft-07)", "nothing to do", options=len(properties)
                )
            )
        else:
            self.add(
                topic.finding(
                    "adapts",
                    answered + (f" declaring {dialect[:80]!r}" if dialect else ", no $schema"),
                    "validates with draft-07 rules, which this schema passes",
                    options=len(properties),
                )
            )

    def _schema_defaults(self, schemas: Mapping[str, Any]) -> None:
        counts = {
            kind: _leaf_count(schema_defaults(schema))
            for kind, schema in schemas.items()
            if isinstance(schema, dict)
        }
        if not counts:
            self.add(
                ACULAB_SCHEMA_DEFAULTS.finding(
                    "unchecked", "no schema could be read", "see the schema lines above"
                )
            )
            return
        answered = ", ".join(f"{kind}: {_plural(n, 'default')}" for kind, n in counts.items())
        if all(counts.values()):
            self.add(
                ACULAB_SCHEMA_DEFAULTS.finding(
                    "holds",
                    answered,
                    "export leaves out options at their default; mode: replace expects the "
                    "undeclared options at their defaults",
                    defaults=counts,
                )
            )
            return
        without = [kind for kind, n in counts.items() if not n]
        self.add(
            ACULAB_SCHEMA_DEFAULTS.finding(
                "adapts",
                answered,
                f"for {' and '.join(without)} services: export writes every option (it can't "
                "tell a default from a choice); mode: replace expects the undeclared options at "
                "the defaults of reconciler's copy of the schema (schemas/service-*.schema.json, "
                "the documented read-back) and says so in the plan; after each write apply "
                "names any option the server stored otherwise",
                defaults=counts,
            )
        )

    async def _service_read(self, kind: str, names: Sequence[str], schema: Any) -> None:
        id = f"aculab.services.{kind}-read"
        title = f"{kind.capitalize()} service read (GET /service/v1/{kind}/<name>)"
        pages = "the full configuration, every option present"
        topic = Topic(id, title, pages)
        if not names:
            self.add(
                topic.finding(
                    "unchecked",
                    f"the account has no {kind} services to read",
                    "nothing to do until it has one; run doctor again then",
                )
            )
            return
        try:
            config = await self._aculab.read_service(kind, names[0])
        except ApiError as err:
            self.add(
                topic.finding(
                    "breaks",
                    f"the first listed service: {_error_words(err)}",
                    "plan, apply and drift read each declared service and stop: report this "
                    "(attach --format json)",
                )
            )
            return
        props = set(schema.get("properties") or {}) if isinstance(schema, dict) else set()
        missing = sorted(props - set(config))
        unknown = sorted(set(config) - props) if props else []
        answered = f"an object of {_plural(len(config), 'option')}"
        facts: dict[str, Any] = {"options": len(config), "missing": missing, "unknown": unknown}
        if kind == "outbound":
            facts["service_password_returned"] = "service_password" in config
        if not missing and not unknown:
            self.add(
                topic.finding(
                    "holds", answered + ", every option of the schema", "nothing to do", **facts
                )
            )
            return
        said = []
        if missing:
            said.append("without " + ", ".join(missing[:8]))
        if unknown:
            said.append("with options the schema doesn't declare: " + ", ".join(unknown[:8]))
        self.add(
            topic.finding(
                "adapts",
                answered + ", " + "; ".join(said),
                "compares what is there: an option missing from a read counts as unset, an "
                "undeclared one is kept as read",
                **facts,
            )
        )

    # ------------------------------------------------------------------ Aculab: errors

    async def _errors(self) -> None:
        # A name no one gives a service: reading it must answer the documented 404.
        probe = f"reconciler-doctor-{secrets.token_hex(6)}-does-not-exist"
        await self._error_probe(
            "aculab.errors.services",
            "Error body of a service call (a read of a name that can't exist)",
            'JSON {"error": {"code", "text", "details"?}, "request": {...}}; 404 "The service '
            'name does not exist"',
            lambda: self._aculab.read_service("outbound", probe),
            endpoint="/service/v1/outbound/{name}",
            expected=404,
            answered=(
                "breaks",
                "a configuration for a name no one made (200, not 404)",
                "reconciler can't tell a missing service from one that exists: report this "
                "(attach --format json); don't run apply with prune settings until then",
            ),
        )
        await self._error_probe(
            "aculab.errors.numbers",
            "Error body and code of a number call (tel_get_supported_states, no country)",
            "400 with a four-digit code in the JSON error (0001: a mandatory parameter is missing)",
            lambda: self._tel_raw("tel_get_supported_states", {}),
            endpoint="/tel_get_supported_states",
            expected=400,
            answered=(
                "adapts",
                "200: the missing parameter was not refused",
                "reconciler always sends the country; nothing to do",
            ),
        )

    async def _error_probe(
        self,
        id: str,
        title: str,
        pages: str,
        call: Callable[[], Awaitable[Any]],
        *,
        endpoint: str,
        expected: int,
        answered: tuple[Verdict, str, str],
    ) -> None:
        """Make a call that should fail with ``expected``, and judge the error's body; an
        answer instead is judged ``answered`` (verdict, what was answered, what to do)."""
        topic = Topic(id, title, pages)
        try:
            await call()
        except ApiStatusError as err:
            exchange = self.recorder.last(endpoint)
            self._error_body(id, title, pages, err, exchange, expected=expected)
        except ApiError as err:
            self.add(topic.finding("unchecked", _error_words(err), "run doctor again"))
        else:
            verdict, said, action = answered
            self.add(topic.finding(verdict, said, action))

    def _error_body(
        self,
        id: str,
        title: str,
        pages: str,
        err: ApiStatusError,
        exchange: Exchange | None,
        *,
        expected: int,
    ) -> None:
        head = exchange.error_head if exchange is not None else b""
        facts: dict[str, Any] = {"status": err.status, "code": err.code}
        topic = Topic(id, title, pages)
        if err.status >= 500 or err.status == 429:
            self.add(
                topic.finding(
                    "unchecked",
                    _error_words(err),
                    "the server failed or limited the rate: run doctor again later",
                    **facts,
                )
            )
            return
        body = parse_aculab_error(head) if head else None
        page = parse_html_error(head) if head else None
        if page is not None:
            shape = "an HTML page"
        elif body is not None and body.shape is None and (body.code or body.text):
            shape = "the documented JSON error"
        else:
            shape = describe_body(head) if head else "an empty body"
        facts["body"] = shape
        code = err.code or (page.code if page else None)
        said = f"{err.status} with {shape}" + (f", code {code}" if code else "")
        if err.text:
            said += f": {err.text[:100]}"
        if err.status != expected:
            self.add(
                topic.finding(
                    "breaks",
                    said,
                    f"reconciler reads a {expected} as "
                    + ("a service that is gone" if expected == 404 else "a refused parameter")
                    + ": report this answer (attach --format json); don't run apply until then",
                    **facts,
                )
            )
            return
        documented_code = code is not None and (
            (len(code) == 4 and code.isdigit()) or code == f"HTTP {expected}"
        )
        if shape == "the documented JSON error" and documented_code:
            self.add(
                topic.finding(
                    "holds",
                    said,
                    "shows the server's code, text and details with the call that failed",
                    **facts,
                )
            )
            return
        self.add(
            topic.finding(
                "adapts",
                said,
                "judges by the HTTP status and shows what the body says (the page's title, text "
                "and listed details, or its shape), never the raw body",
                **facts,
            )
        )

    # ------------------------------------------------------------------ Aculab: catalogue

    async def _catalogue_and_pools(self) -> None:
        did_types = sorted({p.location.did_type for p in self.pools} | {"geographic"})
        jobs: list[Callable[[], Awaitable[None]]] = [self._countries_job(t) for t in did_types] + [
            self._addresses_job
        ]
        await self._bounded(jobs)
        # States only where a pool names one, as the live read does (a toll-free pool in a
        # country with states names none).
        countries = {p.location.country for p in self.pools if p.location.state}
        await self._bounded([self._states_job(c) for c in sorted(countries)])
        keys = {
            (p.location.country, p.location.state or "", p.location.did_type) for p in self.pools
        }
        await self._bounded([self._regions_job(k) for k in sorted(keys)])
        self._catalogue_lists()
        self._addresses()
        if self._sample_location() is None:
            await self.find_first_location()
        await self._development_purchase()
        results: dict[str, Finding] = {}

        def pool_job(pool: NumberPool) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                results[pool.name] = await self._pool(pool)

            return job

        await self._bounded([pool_job(p) for p in self.pools])
        for pool in self.pools:
            self.add(results[pool.name])

    def _names(self, reply: Reply) -> tuple[str, ...]:
        data = expect_json(reply)
        names = parse_name_list(data, reply.call)
        cat = self.catalogue
        cat.lists += 1
        if isinstance(data, list):
            cat.escaped += sum(1 for d in data if isinstance(d, str) and "\\u" in d)
            cat.numeric += sum(1 for d in data if isinstance(d, int) and not isinstance(d, bool))
        return tuple(names)

    def _countries_job(self, did_type: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            try:
                reply = await self._tel_raw("tel_get_supported_countries", {"did_type": did_type})
                self.catalogue.countries[did_type] = self._names(reply)
            except ApiError as err:
                self.catalogue.malformed.append(_error_words(err))

        return job

    def _states_job(self, country: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            try:
                reply = await self._tel_raw("tel_get_supported_states", {"country": country})
                self.catalogue.states[country] = self._names(reply)
            except ApiStatusError as err:
                if err.status != 400:
                    self.catalogue.malformed.append(_error_words(err))
                else:  # a country not on sale: the pool's line says so
                    self.catalogue.refused[(country, "")] = _error_words(err)
            except ApiError as err:
                self.catalogue.malformed.append(_error_words(err))

        return job

    def _regions_job(self, key: tuple[str, str, str]) -> Callable[[], Awaitable[None]]:
        country, state, did_type = key

        async def job() -> None:
            params = {"country": country, "state": state or None, "did_type": did_type}
            try:
                reply = await self._tel_raw("tel_get_supported_regions", params)
                self.catalogue.regions[key] = self._names(reply)
            except ApiStatusError as err:
                if err.status != 400:
                    self.catalogue.malformed.append(_error_words(err))
                else:
                    self.catalogue.refused[(country, state)] = _error_words(err)
            except ApiError as err:
                self.catalogue.malformed.append(_error_words(err))

        return job

    async def _addresses_job(self) -> None:
        try:
            reply = await self._tel_raw("tel_list_regulation_addresses", {})
            data = expect_json(reply)
            self.catalogue.addresses = parse_regulation_addresses(data, reply.call)
            if isinstance(data, list):
                self._addresses_quirk = "an empty JSON array for no addresses (PHP's empty object)"
        except ApiError as err:
            self._addresses_error = err

    def _catalogue_lists(self) -> None:
        cat = self.catalogue
        if cat.malformed:
            self.add(
                ACULAB_CATALOGUE_LISTS.finding(
                    "breaks",
                    f"{_plural(len(cat.malformed), 'list')} unreadable: {cat.malformed[0]}",
                    "plan can't check a purchase before buying and stops: report this "
                    "(attach --format json); don't add pools until then",
                    lists=cat.lists,
                    unreadable=len(cat.malformed),
                )
            )
            return
        answered = f"{_plural(cat.lists, 'list')} of names"
        quirks = []
        if cat.escaped:
            quirks.append(
                f"{_plural(cat.escaped, 'name')} written as \\uXXXX escapes (as they are sent)"
            )
        if cat.numeric:
            quirks.append(f"{_plural(cat.numeric, 'prefix', 'prefixes')} as JSON numbers")
        facts = {"lists": cat.lists, "escaped_names": cat.escaped, "numeric_prefixes": cat.numeric}
        if quirks:
            self.add(
                ACULAB_CATALOGUE_LISTS.finding(
                    "adapts",
                    answered + "; " + "; ".join(quirks),
                    "reads escapes back into letters and numbers as prefixes; nothing to do",
                    **facts,
                )
            )
        else:
            self.add(ACULAB_CATALOGUE_LISTS.finding("holds", answered, "nothing to do", **facts))

    def _addresses(self) -> None:
        if self._addresses_error is not None:
            needed = [p.name for p in self.pools if p.regulation_address]
            self.add(
                ACULAB_REGULATION_ADDRESSES.finding(
                    "breaks" if needed else "adapts",
                    _error_words(self._addresses_error),
                    "plan can't check the regulation address of a pool before buying"
                    + (
                        ": report this (attach --format json)"
                        if needed
                        else "; no pool names one, so nothing depends on it yet"
                    ),
                )
            )
            return
        addresses = self.catalogue.addresses or {}
        countries = len({c for c, _r in addresses.values()})
        answered = (
            f"{_plural(len(addresses), 'address', 'addresses')} in "
            f"{_plural(countries, 'country', 'countries')}"
        )
        facts = {"addresses": len(addresses), "countries": countries}
        if self._addresses_quirk:
            self.add(
                ACULAB_REGULATION_ADDRESSES.finding(
                    "adapts",
                    f"{answered}: {self._addresses_quirk}",
                    "reads it as none; nothing to do",
                    **facts,
                )
            )
        else:
            self.add(
                ACULAB_REGULATION_ADDRESSES.finding("holds", answered, "nothing to do", **facts)
            )

    async def _development_purchase(self) -> None:
        pages = (
            "tel_purchase_development takes tel_purchase's parameters and validation, buys "
            f"nothing, and answers {DEVELOPMENT_NUMBERS} to valid ones"
        )
        title = "Development purchase (tel_purchase_development)"
        location = self._sample_location()
        topic = Topic("aculab.purchase-development", title, pages)
        if location is None:
            self.add(
                topic.finding(
                    "unchecked",
                    "no location to try (the catalogue lists are empty or unreadable)",
                    "see the catalogue line",
                )
            )
            return
        country, state, region = location
        params = {"country": country, "region": region, "did_type": "geographic", "quantity": "1"}
        if state:
            params["state"] = state
        where = "/".join(x for x in (country, state, region) if x)
        try:
            reply = await self._tel_raw("tel_purchase_development", params)
            numbers = parse_purchased(expect_json(reply), reply.call)
        except ApiStatusError as err:
            self.add(
                topic.finding(
                    "unchecked",
                    f"{where}: {_error_words(err)}",
                    "a valid location is needed to see the answer's shape; the pool lines show "
                    "what each pool's parameters got",
                )
            )
            return
        except ApiError as err:
            self.add(
                topic.finding(
                    "breaks",
                    f"{where}: {_error_words(err)}",
                    "apply --dry-run rehearses each purchase with this call and would fail: "
                    "report this (attach --format json); apply itself doesn't use it",
                )
            )
            return
        facts = {"numbers": len(numbers), "documented": numbers == DEVELOPMENT_NUMBERS}
        if numbers == DEVELOPMENT_NUMBERS:
            self.add(
                topic.finding(
                    "holds", f"{where}: the documented two numbers", "nothing to do", **facts
                )
            )
        else:
            self.add(
                topic.finding(
                    "adapts",
                    f"{where}: a list of {_plural(len(numbers), 'number')}, not the documented two",
                    "apply --dry-run only needs a list of numbers: nothing to do",
                    **facts,
                )
            )

    def _sample_location(self) -> tuple[str, str, str] | None:
        """A location to try a development purchase at: the first geographic pool's, else
        none known yet (the first sold country's first region is fetched)."""
        for pool in self.pools:
            if pool.location.did_type == "geographic" and not pool.regulation_address:
                loc = pool.location
                regions = self.catalogue.regions.get((loc.country, loc.state or "", "geographic"))
                if regions and any(r.casefold() == loc.region.casefold() for r in regions):
                    return loc.country, loc.state or "", loc.region
        return self._first_location

    async def find_first_location(self) -> None:
        """The first geographic country the server sells, its first state and region."""
        countries = self.catalogue.countries.get("geographic") or ()
        for country in countries[:3]:
            try:
                states = self._names(
                    await self._tel_raw("tel_get_supported_states", {"country": country})
                )
                state = states[0] if states else ""
                regions = self._names(
                    await self._tel_raw(
                        "tel_get_supported_regions",
                        {"country": country, "state": state or None, "did_type": "geographic"},
                    )
                )
            except ApiError:
                continue
            if regions:
                self._first_location = (country, state, regions[0])
                return

    async def _pool(self, pool: NumberPool) -> Finding:
        loc = pool.location
        where = " / ".join(x for x in (loc.country, loc.state, loc.region) if x)
        title = f"pool {pool.name}: {where} ({loc.did_type})"
        id = f"pool.{pool.name}"
        pages = (
            "sold where tel_get_supported_* list it, spelled as the server spells it; "
            "tel_purchase_development validates the purchase (0005: the country needs a "
            "regulation address, 0006: the address doesn't fit)"
        )
        cat = self.catalogue
        refused = cat.refused.get((loc.country, loc.state or "")) or cat.refused.get(
            (loc.country, "")
        )
        problems = check_purchase(pool, cat.frozen())
        topic = Topic(id, title, pages)
        if problems or refused:
            said = problems[0].split(f"pool {pool.name}: ", 1)[-1] if problems else refused
            return topic.finding(
                "breaks",
                str(said),
                f"plan refuses this pool before buying anything: fix it at {pool.origin}",
            )
        respelled = self._respelled(pool)
        purchase = Purchase(
            pool=pool.name,
            location=loc,
            quantity=1,
            allow_landline=pool.allow_landline,
            allow_cellular=pool.allow_cellular,
            allow_payphone=pool.allow_payphone,
            regulation_address=pool.regulation_address,
        )
        try:
            reply = await self._tel_raw("tel_purchase_development", purchase.purchase_params())
            parse_purchased(expect_json(reply), reply.call)
        except ApiStatusError as err:
            if err.status >= 500 or err.status == 429:
                return topic.finding(
                    "unchecked",
                    _error_words(err),
                    "the server failed or limited the rate: run doctor again later",
                )
            hint = {
                "0005": "this country needs a regulation address: add `regulation_address` "
                "(one of the account's addresses in this country)",
                "0006": "the regulation address doesn't fit this country or region",
            }.get(err.code or "", "the server refused these purchase parameters")
            return topic.finding(
                "breaks",
                f"a development purchase was refused: {_error_words(err)}",
                f"apply would fail to buy for this pool: {hint}; fix it at {pool.origin}",
                code=err.code,
            )
        except ApiError as err:
            return topic.finding(
                "unchecked", _error_words(err), "see the development purchase line"
            )
        answered = "sold, and a development purchase of 1 was accepted"
        if respelled:
            return topic.finding(
                "adapts",
                f"{answered}; the server spells " + ", ".join(respelled),
                "matches names case-insensitively, as the server does; nothing to do (write "
                "the server's spelling to be sure)",
            )
        return topic.finding("holds", answered + ", spelled as in the YAML", "nothing to do")

    def _respelled(self, pool: NumberPool) -> list[str]:
        """``'Kent' as 'KENT'`` for each name the server spells otherwise than the YAML."""
        loc = pool.location
        cat = self.catalogue
        out: list[str] = []
        for given, values in (
            (loc.country, cat.countries.get(loc.did_type)),
            (loc.state, cat.states.get(loc.country)),
            (loc.region, cat.regions.get((loc.country, loc.state or "", loc.did_type))),
        ):
            if not given or not values or given in values:
                continue
            for value in values:
                if value.casefold() == given.casefold():
                    out.append(f"{given!r} as {value!r}")
        return out

    # ------------------------------------------------------------------ aql

    async def _aql(self) -> None:
        if self.aql is None:
            self.add(
                AQL_CREDENTIALS.finding(
                    "unchecked",
                    "no aql account in ACCOUNT",
                    "add an `aql:` section to check the gateway",
                )
            )
            return
        aql = self.aql
        target = self.relay[0] if self.relay else None
        try:
            reply = await aql.query_reply(target.number if target else "")
        except AuthenticationError as err:  # a gateway that answers 401 as an HTTP status
            self.add(
                AQL_CREDENTIALS.finding("breaks", f"refused: {_error_words(err)}", AQL_REFUSED)
            )
            return
        except ApiError as err:
            self.add(
                AQL_CREDENTIALS.finding(
                    "breaks",
                    f"no usable answer: {_error_words(err)}",
                    "every command that reads relay routes fails: check aql.endpoint and that "
                    "it can be reached",
                )
            )
            return
        first = next((ln for ln in reply.text.splitlines() if ln.strip()), "")
        status = relay_status(first)
        if status is not None and status[0] == "401":
            self.add(
                AQL_CREDENTIALS.finding("breaks", f"refused ({first.strip()[:60]})", AQL_REFUSED)
            )
            return
        if target is None:
            accepted = status is not None and status[0] in ("400", "69001")
            self.add(
                AQL_CREDENTIALS.finding(
                    "holds" if accepted else "unchecked",
                    f"a query without a number answered {first.strip()[:60]!r}",
                    "nothing to do"
                    if accepted
                    else "give --relay-number N (an aql number of this account) to check for sure",
                )
            )
        else:
            self.add(
                AQL_CREDENTIALS.finding(
                    "holds",
                    f"accepted (the query of the number at {target.where} answered)",
                    "nothing to do",
                )
            )
        await self._aql_replies(reply if target else None)
        await self._aql_failure()

    async def _aql_replies(self, first: Reply | None) -> None:
        if first is None or self.aql is None:
            self.add(
                AQL_REPLY.finding(
                    "unchecked",
                    "no relay number to query",
                    "declare relay_routes in ACCOUNT or give --relay-number N to check",
                )
            )
            self._separator([])
            return
        replies: list[tuple[RelayTarget, Reply | ApiError]] = [(self.relay[0], first)]

        def job(target: RelayTarget) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                assert self.aql is not None
                try:
                    replies.append((target, await self.aql.query_reply(target.number)))
                except ApiError as err:
                    replies.append((target, err))

            return run

        await self._bounded([job(t) for t in self.relay[1:]])
        actions: dict[str, int] = {}
        invalid: list[str] = []
        unreadable: list[str] = []
        texts: list[str] = []
        for target, got in replies:
            if isinstance(got, ApiError):
                unreadable.append(f"{target.where}: {_error_words(got)}")
                continue
            texts.append(got.text)
            try:
                route = parse_relay_reply(got.text, got.call, target.number)
            except RelayError as err:
                if err.code == "69001":
                    invalid.append(target.where)
                else:
                    unreadable.append(f"{target.where}: {_error_words(err)}")
                continue
            except ApiError as err:
                unreadable.append(f"{target.where}: {_error_words(err)}")
                continue
            actions[route.action] = actions.get(route.action, 0) + 1
            if got.status != 200:
                unreadable.append(f"{target.where}: HTTP {got.status} for a 200 reply")
        facts = {"queried": len(replies), "actions": actions, "not_valid": len(invalid)}
        read = sum(actions.values())
        answered = f"{read} of {_plural(len(replies), 'number')} read" + (
            " (" + ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) + ")"
            if actions
            else ""
        )
        if unreadable:
            self.add(
                AQL_REPLY.finding(
                    "breaks",
                    f"{answered}; unreadable: {unreadable[0]}",
                    "plan, apply and drift stop on an unreadable relay reply: report this "
                    "(attach --format json); don't apply relay routes until then",
                    **facts,
                )
            )
        elif invalid:
            self.add(
                AQL_REPLY.finding(
                    "breaks",
                    f"{answered}; 69001 (number not valid) for the number at "
                    + ", ".join(invalid[:5]),
                    "plan and drift stop reading a relay number that isn't this account's: "
                    "fix relay_routes there (or the --relay-number)",
                    **facts,
                )
            )
        else:
            self.add(
                AQL_REPLY.finding(
                    "holds", answered + ", in the documented format", "nothing to do", **facts
                )
            )
        self._separator(texts)

    def _separator(self, texts: Sequence[str]) -> None:
        seps: set[str] = set()
        for text in texts:
            for line in text.splitlines():
                head = line.strip().split("http", 1)[0]  # a URL's own ':' is not a separator
                for sep in (":", "*"):
                    if sep in head:
                        seps.add(sep)
                        break
        if not seps:
            self.add(
                AQL_SEPARATOR.finding("unchecked", "no reply to look at", "reads both either way")
            )
            return
        said = " and ".join(repr(s) for s in sorted(seps))
        verdict: Verdict = "holds" if seps == {":"} else "adapts"
        self.add(
            AQL_SEPARATOR.finding(
                verdict,
                f"{said} in the replies",
                "reads both separators, even mixed in one reply; nothing to do",
                separators=sorted(seps),
            )
        )

    async def _aql_failure(self) -> None:
        assert self.aql is not None
        try:
            reply = await self.aql.query_reply("0")
        except ApiError as err:
            self.add(AQL_FAILURE.finding("unchecked", _error_words(err), "-"))
            return
        status = parse_relay_error_line(reply.content)
        if status is None:
            self.add(
                AQL_FAILURE.finding(
                    "breaks",
                    f"HTTP {reply.status} with {describe_body(reply.content)}",
                    "a refused modify would be reported as an unreadable reply, not by its "
                    "code: report this (attach --format json)",
                    status=reply.status,
                )
            )
            return
        code, text = status
        answered = f"{code}: {text[:60]}" + (
            f" (HTTP {reply.status})" if reply.status != 200 else ""
        )
        facts = {"code": code, "http_status": reply.status}
        if reply.status == 200 and code in ("69001", "400"):
            self.add(
                AQL_FAILURE.finding(
                    "holds", answered, "reports the gateway's code and what it means", **facts
                )
            )
        else:
            self.add(
                AQL_FAILURE.finding(
                    "adapts",
                    answered,
                    "reads the code from the body whatever the HTTP status; nothing to do",
                    **facts,
                )
            )

    # ------------------------------------------------------------------ what only a write shows

    def _read_back(self) -> None:
        self.add(
            WRITES_READ_BACK.finding(
                "unchecked",
                "not asked: only a write shows it, and doctor never writes",
                "after each service write and relay change, apply compares what the server "
                "answered with what it sent, and names any value stored otherwise",
            )
        )

    # ------------------------------------------------------------------ rate limits

    def _rate_limits(self) -> None:
        log = self.recorder.log
        limited = [ex for ex in log if ex.status == 429]
        retry_after = [
            v for ex in limited for k, v in ex.rate_headers if k.lower() == "retry-after"
        ]
        headers = sorted(
            {k.lower() for ex in log for k, _v in ex.rate_headers if k.lower() != "retry-after"}
        )
        facts: dict[str, Any] = {
            "calls": len(log),
            "429": len(limited),
            "retry_after": sorted(set(retry_after))[:10],
            "headers": headers,
        }
        said = f"{len(limited) or 'no'} 429 in {_plural(len(log), 'call')}"
        if retry_after:
            said += f"; Retry-After: {', '.join(sorted(set(retry_after))[:5])}"
        if headers:
            said += f"; headers: {', '.join(headers)}"
        if not limited:
            self.add(
                RATE_LIMITS.finding(
                    "holds",
                    said,
                    "retries a 429 on every call that is safe to repeat, waiting what "
                    "Retry-After says (at most 60 s)",
                    **facts,
                )
            )
            return
        seconds = all(v.strip().isdigit() for v in retry_after)
        if len(retry_after) == len(limited) and seconds:
            self.add(
                RATE_LIMITS.finding(
                    "holds",
                    said,
                    "as assumed: waits what Retry-After says before retrying; lower "
                    "--concurrency if commands spend long waiting",
                    **facts,
                )
            )
            return
        self.add(
            RATE_LIMITS.finding(
                "adapts",
                said,
                "retries with exponential backoff where Retry-After is missing, and reads an "
                "HTTP date as well as seconds; lower --concurrency if commands spend long waiting",
                **facts,
            )
        )

    # ------------------------------------------------------------------ raw calls

    async def _tel_raw(self, name: str, params: Mapping[str, str | None]) -> Reply:
        """A ``tel_*`` call as the client makes it (a form POST), its reply unparsed."""
        return await self._aculab.http.request(
            "POST", f"/{name}", call=f"POST /{name}", form=tel_form(params), parse=_reply
        )

    async def _get_raw(self, path: str) -> Reply:
        return await self._aculab.http.request("GET", path, call=f"GET {path}", parse=_reply)


def _reply(reply: Reply) -> Reply:
    return reply


def _leaf_count(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_leaf_count(v) for v in value.values()) if value else 0
    return 1
