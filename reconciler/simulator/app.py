"""The ASGI app: routes, auth, fault injection and call recording around the account's logic.

One Starlette app serves both APIs: Aculab Cloud's paths at the root and the aql gateway at
``/sms/sms-relay.api.php``. Every request goes through one pipeline (:meth:`Pipeline.run`):
record the call, add latency, maybe answer 429 (past the vendor's rate limit, or by chance) or
5xx, check credentials, do the work, save the account if it changed, maybe garble the reply or
lose a purchase's reply.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from reconciler.secret import masked
from reconciler.simulator import numbers, relay, services
from reconciler.simulator.account import SimState
from reconciler.simulator.faults import Dice, RateLimiter, rate_for
from reconciler.simulator.wire import AUTH_LINK, Problem, services_link

if TYPE_CHECKING:
    from reconciler.simulator.simulator import SimAccount, Simulator

AQL_PATH = "/sms/sms-relay.api.php"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
GARBAGE_HTML = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>"
    b"<h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream "
    b"server.</p><hr><address>Apache Server</address></body></html>\n"
)
_AQL_CREDENTIALS = frozenset({"username", "password"})


@dataclass(slots=True)
class SimCall:
    """One request the simulator received. Credentials are never recorded: aql's
    ``username``/``password`` parameters are left out and secrets in bodies are masked."""

    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    status: int | None = None
    fault: str | None = None  # "rate_limit", "error", "garbage", "lost_reply_drop", ...
    delay_ms: float = 0.0  # latency injected before the request was handled
    at: float = field(default_factory=time.time)
    # The client's end of the connection it came on ("127.0.0.1:50412"; None in-process):
    # which calls shared a connection.
    peer: str | None = None
    # The hosted account the credentials named (None: they named none).
    account: str | None = None


class DroppedConnection(ConnectionResetError):
    """Raised by the app to drop a connection mid-reply (``lost_purchase_reply="drop"``).

    Over real HTTP the client sees the connection close before the body is complete. Through
    an in-process ASGI transport this exception reaches the caller instead."""


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging a deliberate drop as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


class _DropReply(Response):
    """Start the reply, send half of it, then drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise DroppedConnection(
            "the simulator dropped the connection after the purchase committed "
            "(fault lost_purchase_reply='drop')"
        )


class _NoReply(Response):
    """The client hung up (or the simulator is stopping): nothing to send."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


@dataclass(slots=True)
class Outcome:
    """What a request's work produced."""

    status: int
    body: bytes
    media_type: str = JSON
    headers: dict[str, str] | None = None
    mutated: bool = False
    purchase: bool = False  # a committed tel_purchase: its reply may be lost


def _json(status: int, payload: Any, **kw: Any) -> Outcome:
    return Outcome(status, json.dumps(payload).encode(), JSON, **kw)


async def _client_gone(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


TelOp = Callable[[SimState, Mapping[str, str]], Any]
_TEL_READS: dict[str, TelOp] = {
    "/tel_list_numbers": numbers.list_numbers,
    "/tel_purchase_development": numbers.purchase_development,
    "/tel_get_supported_countries": lambda _s, p: numbers.supported_countries(p),
    "/tel_get_supported_states": lambda _s, p: numbers.supported_states(p),
    "/tel_get_supported_regions": lambda _s, p: numbers.supported_regions(p),
    "/tel_list_regulation_addresses": lambda s, _p: numbers.regulation_addresses(s),
}
TEL_PATHS: tuple[str, ...] = (*_TEL_READS, "/tel_purchase", "/tel_delete_numbers")


class Pipeline:
    """Everything every request goes through, bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        # One rate limit per hosted account, as each real account has its own.
        self.limiters: dict[str, RateLimiter] = {}

    # ------------------------------------------------------------------ the pipeline

    async def run(
        self,
        request: Request,
        *,
        api: str,
        work: Callable[
            [SimAccount, Mapping[str, str], list[tuple[str, str]], bytes], Awaitable[Outcome]
        ],
    ) -> Response:
        sim = self.sim
        requested_at = time.time()
        method = request.method
        path = request.scope["path"]
        if method == "HEAD":  # Starlette adds HEAD to GET routes; a HEAD must not buy anything
            problem = Problem(405, "Method Not Allowed", link=AUTH_LINK)
            return self._problem(SimCall(method, path, {}), problem, requested_at)
        raw = await request.body()
        pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        is_form = api != "services"
        if is_form and method == "POST" and raw:
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if api == "aql":
            pairs = [(k.lower(), v) for k, v in pairs]
        params = dict(pairs)
        public = {k: v for k, v in params.items() if api != "aql" or k not in _AQL_CREDENTIALS}
        body: Any = None
        if not is_form and raw:
            try:
                body = masked(json.loads(raw))  # the product's own secret keys
            except ValueError:
                body = raw.decode("utf-8", "replace")
        client = request.scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else None
        call = SimCall(method, path, public, body, at=requested_at, peer=peer)
        sim.record(call)

        faults = sim.faults
        dice: Dice | None = None
        if sim.faults_active():
            identity = f"{method} {path}?{sorted(public.items())}".encode()
            if not is_form:
                identity += b"|" + raw
            dice = sim.dice(identity)
            if faults.latency_ms or faults.latency_jitter_ms:
                delay = faults.latency_ms
                if faults.latency_jitter_ms:  # a roll is a hash: none when nothing varies
                    delay += faults.latency_jitter_ms * dice.roll("latency")
                call.delay_ms = delay
                if delay > 0:
                    await asyncio.sleep(delay / 1000.0)
            if faults.rate_limit_per_s > 0:  # whose bucket: the credentials, decoded again
                named = self._named(request, api, params)
                limiter = self.limiters.setdefault(named.name, RateLimiter())
                wait = limiter.admit(faults, "aql" if api == "aql" else "aculab")
                if wait is not None:
                    call.fault = "rate_limit_per_s"
                    headers = {"Retry-After": str(wait)}
                    return self._failure(call, api, 429, "Too many requests", requested_at, headers)
            rate = rate_for(faults.rate_limit, method, path)
            if rate and dice.roll("rate_limit") < rate:
                call.fault = "rate_limit"
                headers = {"Retry-After": str(faults.retry_after_s)}
                return self._failure(call, api, 429, "Too many requests", requested_at, headers)
            rate = rate_for(faults.error_rate, method, path)
            if rate and dice.roll("error") < rate:
                call.fault = "error"
                status = int(dice.choice("error_status", faults.error_statuses))
                text = "Service unavailable" if status == 503 else "Internal server error"
                return self._failure(call, api, status, text, requested_at, None)

        # The account the credentials name; aql checks its password itself (a 401 reply line).
        account = (
            sim.account_for_aql(params.get("username", ""))
            if api == "aql"
            else self._authorised(request)
        )
        if account is None:
            problem = Problem(
                401,
                "Authentication failed: check the cloud ID, username and API access key.",
                link=AUTH_LINK,
                headers={"WWW-Authenticate": 'Basic realm="Aculab Cloud"'},
            )
            return self._problem(call, problem, requested_at)
        call.account = account.name

        try:
            outcome = await work(account, params, pairs, raw)
        except Problem as problem:
            return self._problem(call, problem, requested_at)
        if outcome.mutated:
            await account.persist()

        if dice is not None:
            rate = rate_for(faults.garbage_rate, method, path)
            if rate and dice.roll("garbage") < rate:
                call.fault = "garbage"
                kind = dice.choice("garbage_kind", ("html", "truncated"))
                if kind == "html" or len(outcome.body) < 2:
                    outcome = Outcome(200, GARBAGE_HTML, HTML)
                else:
                    outcome = Outcome(
                        200, outcome.body[: len(outcome.body) // 2], outcome.media_type
                    )
            elif (
                outcome.purchase
                and faults.lost_purchase_reply is not None
                and sim.may_lose_reply()
                and dice.roll("lost_purchase") < faults.lost_purchase_rate
            ):
                sim.count_lost_reply()
                call.status = outcome.status
                if faults.lost_purchase_reply == "drop":
                    call.fault = "lost_reply_drop"
                    return _DropReply(outcome.body, outcome.status, media_type=outcome.media_type)
                call.fault = "lost_reply_stall"
                if not await self._stall(request, faults.stall_s):
                    return _NoReply()

        call.status = outcome.status
        return Response(
            outcome.body, outcome.status, headers=outcome.headers, media_type=outcome.media_type
        )

    async def _stall(self, request: Request, seconds: float) -> bool:
        """Hold the reply ``seconds``; False if the client hung up or the simulator stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        gone = asyncio.ensure_future(_client_gone(request.receive))
        try:
            while not gone.done():
                if self.sim.stopping():
                    return False
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return True
                await asyncio.wait({gone}, timeout=min(remaining, 0.05))
            return False
        finally:
            gone.cancel()

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _basic(request: Request) -> tuple[bytes, bytes] | None:
        """The HTTP Basic user and key of a request, or None."""
        header = request.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        user, sep, key = decoded.partition(b":")
        return (user, key) if sep else None

    def _named(self, request: Request, api: str, params: Mapping[str, str]) -> SimAccount:
        """The account a request names (its credentials not checked yet): whose rate limit
        it counts against. The primary when it names none."""
        if api == "aql":
            return self.sim.account_for_aql(params.get("username", ""))
        basic = self._basic(request)
        account = self.sim.account_for_basic(basic[0]) if basic else None
        return account or self.sim.primary

    def _authorised(self, request: Request) -> SimAccount | None:
        """The account whose Basic credentials the request carries, or None."""
        basic = self._basic(request)
        if basic is None:
            return None
        user, key = basic
        account = self.sim.account_for_basic(user)
        expected = (account or self.sim.primary).credentials.api_key.encode()
        return account if hmac.compare_digest(key, expected) else None

    def _problem(self, call: SimCall, problem: Problem, requested_at: float) -> Response:
        call.status = problem.status
        return problem_response(self.sim, problem, call.path, requested_at)

    def _failure(
        self,
        call: SimCall,
        api: str,
        status: int,
        text: str,
        requested_at: float,
        headers: dict[str, str] | None,
    ) -> Response:
        if api == "aql":
            call.status = status
            line = f"{status}{relay.separator(self.sim.dialect.aql_separator)}{text}\n"
            return Response(line, status, headers=headers, media_type=TEXT)
        return self._problem(call, Problem(status, text, headers=headers), requested_at)

    # ------------------------------------------------------------------ the endpoints

    async def tel(self, request: Request) -> Response:
        path = request.scope["path"]

        async def work(
            account: SimAccount, params: Mapping[str, str], pairs: list[tuple[str, str]], _: bytes
        ) -> Outcome:
            seen: set[str] = set()
            for name, _value in pairs:
                if name in seen:
                    raise Problem(400, f"Parameter '{name}' is given more than once.", code="0003")
                seen.add(name)
            state = account.state
            if path == "/tel_purchase":
                lag = self.sim.faults.list_lag_s
                bought = numbers.purchase(state, params, list_lag_s=lag)
                return _json(200, bought, mutated=True, purchase=True)
            if path == "/tel_delete_numbers":
                result = numbers.delete_numbers(state, params)
                return _json(200, result, mutated=result["status"] != "FAIL")
            return _json(200, _TEL_READS[path](state, params))

        return await self.run(request, api="tel", work=work)

    async def aql(self, request: Request) -> Response:
        sim = self.sim

        async def work(
            account: SimAccount, params: Mapping[str, str], _p: list[tuple[str, str]], _r: bytes
        ) -> Outcome:
            creds = account.credentials
            reply = relay.handle(
                account.state,
                params,
                username=creds.aql_username,
                password=creds.aql_password,
                normalise=sim.dialect.normalise,
            )
            text = reply.render(params.get("return-mode"), sim.dialect.aql_separator)
            return Outcome(200, text.encode(), TEXT, mutated=reply.changed)

        return await self.run(request, api="aql", work=work)

    def _kind(self, request: Request, tab: str) -> services.Kind:
        kind = request.path_params["kind"]
        if kind not in services.KINDS:
            raise Problem(404, "Not Found", link=services_link("outbound", tab))
        return kind  # type: ignore[no-any-return]

    async def service_list(self, request: Request) -> Response:
        async def work(
            account: SimAccount, _p: Mapping[str, str], _l: list[tuple[str, str]], _r: bytes
        ) -> Outcome:
            kind = self._kind(request, "list")
            configs = account.state.services[kind]
            shape = self.sim.dialect.inbound_list if kind == "inbound" else "services"
            return _json(200, services.listing(configs, shape))

        return await self.run(request, api="services", work=work)

    async def service_schema(self, request: Request) -> Response:
        async def work(
            _a: SimAccount, _p: Mapping[str, str], _l: list[tuple[str, str]], _r: bytes
        ) -> Outcome:
            kind = self._kind(request, "schema")
            return Outcome(200, services.schema_text(kind, self.sim.dialect.schema_defaults), JSON)

        return await self.run(request, api="services", work=work)

    async def service(self, request: Request) -> Response:
        method = request.method
        tab = {"GET": "read", "PUT": "write", "PATCH": "modify", "DELETE": "delete"}[method]

        async def work(
            account: SimAccount, _p: Mapping[str, str], _l: list[tuple[str, str]], raw: bytes
        ) -> Outcome:
            kind = self._kind(request, tab)
            name = request.path_params["name"]
            link = services_link(kind, tab)
            configs = account.state.services[kind]
            current = configs.get(name)
            if method in ("GET", "PATCH", "DELETE") and current is None:
                raise Problem(404, "The service name does not exist", link=link)
            if method == "GET":
                return _json(200, current)
            if method == "DELETE":
                del configs[name]
                return Outcome(204, b"", JSON, mutated=True)
            body = _config_body(raw, link)
            normalise = self.sim.dialect.normalise
            if method == "PUT":
                config = services.fill_defaults(kind, body)
            else:
                assert current is not None
                config = services.merge(current, body, kind=kind if normalise else None)
            if normalise:
                config = services.normalise(config)
            details = services.validate(kind, config)
            if details:
                raise Problem(
                    400,
                    "Failed to validate configuration, see details for more information.",
                    details=details,
                    link=link,
                )
            configs[name] = config
            status = 201 if method == "PUT" and current is None else 200
            return _json(status, config, mutated=True)

        return await self.run(request, api="services", work=work)


def _config_body(raw: bytes, link: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise Problem(
            400, "The configuration is not valid JSON.", details=[str(err)], link=link
        ) from None
    if not isinstance(body, dict):
        raise Problem(400, "The configuration must be a JSON object.", link=link)
    return body


def problem_response(sim: Simulator, problem: Problem, path: str, requested_at: float) -> Response:
    """An Aculab error answer: the documented JSON body, or an HTML page in the
    ``html-errors`` dialect."""
    if sim.dialect.errors == "html":
        page = problem.html_page()
        return Response(page, problem.status, headers=problem.headers, media_type=HTML)
    body = json.dumps(problem.body(path, requested_at)).encode()
    return Response(body, problem.status, headers=problem.headers, media_type=JSON)


def build_app(sim: Simulator) -> Starlette:
    """The simulator's ASGI app."""
    pipeline = Pipeline(sim)

    async def _not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        if request.scope["path"] == AQL_PATH:
            text = relay.status_line(400, sim.dialect.aql_separator)
            return Response(text, status, headers, TEXT)
        reason = "Not Found" if status == 404 else "Method Not Allowed"
        problem = Problem(status, reason, link=AUTH_LINK, headers=headers)
        return problem_response(sim, problem, request.scope["path"], time.time())

    # The most called first (Starlette tries the routes in turn, a regular expression each):
    # a read of an account is mostly service reads and aql queries. The schema's route
    # must come before the service's, which its path would match too.
    routes = [
        Route("/service/v1/schema/{kind}", pipeline.service_schema, methods=["GET"]),
        Route(
            "/service/v1/{kind}/{name}",
            pipeline.service,
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route(AQL_PATH, pipeline.aql, methods=["GET", "POST"]),
        # PHP runs the script for ".php/" too (PATH_INFO "/"); httpx's base_url adds that slash
        Route(AQL_PATH + "/", pipeline.aql, methods=["GET", "POST"]),
        Route("/service/v1/{kind}", pipeline.service_list, methods=["GET"]),
    ]
    routes += [Route(path, pipeline.tel, methods=["GET", "POST"]) for path in TEL_PATHS]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})


def digest(identity: bytes) -> bytes:
    """A short key for counting identical requests."""
    return hashlib.blake2b(identity, digest_size=16).digest()
