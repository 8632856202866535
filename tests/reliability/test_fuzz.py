"""Fuzz: hostile input gives reconciler's own error, never a traceback and never a hang.

Property tests (hypothesis) for the four readers of outside input:

- the **desired-state loader** (YAML a user wrote): arbitrary text and bytes, YAML token soup
  (anchors, aliases, merge keys, tags, flow and block mixed), and real documents with one
  value replaced. Result: a :class:`LoadResult`, or :class:`ValidationFailed` whose every
  diagnostic is placed in the file (line and column within it);
- the **aql reply parser**: arbitrary text, and status and field lines recombined. Result: a
  relay route about the number asked, or a :class:`MalformedResponseError` / :class:`RelayError`;
  the same through :class:`AqlClient` for any HTTP status and body;
- the **Aculab error-body parser**: arbitrary bytes, JSON of any shape, Python literals (the
  vendor's own example uses single quotes), absurd nesting and numbers. Result: an
  :class:`ErrorBody`; through :class:`AculabClient`, for any status and body, an
  :class:`ApiError` (or the parsed answer), with the API key masked even when the server
  echoes it;
- the **saved-plan loader** beyond ``tests/plan`` (which fuzzes bytes, JSON and changed
  values): files truncated or with one byte changed, and odd files given to ``apply --plan``.

Each example runs in a worker thread with a time limit, so a hang fails the test (with the
input) instead of stalling the suite; hypothesis's own ``deadline`` is off because a loaded CI
machine would make it flaky.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import string
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from clients.support import API_KEY, aculab_account, aql_account, fast_retry
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.clients.http import ErrorBody, describe_body, loads, parse_aculab_error
from reconciler.clients.parsers import parse_relay_error_line, parse_relay_reply
from reconciler.desired import load
from reconciler.errors import (
    ApiError,
    MalformedResponseError,
    PlanFileError,
    RelayError,
    ValidationFailed,
)
from reconciler.live.model import LiveRelayRoute
from reconciler.plan.saved import load_plan

T = TypeVar("T")
HANG_LIMIT_S = 20.0
SOAK = bool(os.environ.get("RECONCILER_SOAK"))
FUZZ = settings(
    # `make soak`: many more examples, new ones every run.
    max_examples=3000 if SOAK else 120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not SOAK,  # in `make test`, the same examples every run: failures replay
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz")


def bounded(fn: Callable[[], T], what: object) -> T:
    """``fn()``, or a test failure naming ``what`` if it runs longer than the hang limit."""
    future = _POOL.submit(fn)
    try:
        return future.result(timeout=HANG_LIMIT_S)
    except FutureTimeout:
        pytest.fail(f"no answer after {HANG_LIMIT_S:.0f} s (a hang?) for input {what!r:.300}")


# --------------------------------------------------------------------------- desired state

ENVIRON = {
    "ACULAB_API_KEY": "fuzz-api-key",
    "AQL_PASSWORD": "fuzz-aql-password",
    "WAKEUP_PASSWORD": "fuzz-wakeup-password",
}
_WORKDIR = Path(tempfile.mkdtemp(prefix="reconciler-fuzz-"))

YAML_TOKENS = (
    "version: 1\n", "aculab:\n", "  cloud_id: '1-2-0'\n", "numbers:\n", "  pools:\n",
    "    p:\n", "      count: ", "country: United Kingdom", "region: London", "pinned:",
    "inbound_services:", "outbound_services:", "relay_routes:", "prune:", "safety:",
    "templates:", "template: t", "mode: replace", "action: httpget", "detail:",
    "key: value", ": ", ":", "- ", "-", "  ", "    ", "\n", "\r\n", "\t", " ",
    "&a ", "*a", "&b", "*b", "<<: *a", "<<: [*a, *b]", "!!str ", "!!int ", "!!map ",
    "!!python/object/apply:os.system ['true']", "!custom ", "!!binary aGk=", "? ", "|",
    "|-", ">", ">+", "#", "# comment", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,1:",
    "{", "}", "[", "]", ",", "'", '"', "''", '""', "\\", "\\u00e9", "${ACULAB_API_KEY}",
    "${", "}", "${UNSET_VARIABLE}", "$${X}", "1", "-1", "0x1F", "0o17", "1e999", ".nan",
    ".inf", "~", "null", "true", "no", "2024-01-01", "12:30:00", "+44 1908 538007",
    "441908538007", "\ufeff", "\x00", "\x85", "\u2028", "é", "数字", "@", "`", "%",
)  # fmt: skip

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=16,
)


def _documents() -> list[Any]:
    docs = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        if "ci" in path.parts:
            continue
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "version" in data:
            docs.append(data)
    assert docs, "the examples are the fuzzer's seeds"
    return docs


DOCUMENTS = _documents()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A real example with one value replaced, one key renamed or one entry removed."""
    doc = json.loads(json.dumps(draw(st.sampled_from(DOCUMENTS))))
    path = draw(st.sampled_from([p for p in _paths(doc) if p]))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    how = draw(st.sampled_from(["replace", "rename", "remove"]))
    if how == "replace":
        parent[path[-1]] = draw(json_like)
    elif how == "rename" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(path[-1])
    elif isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


yaml_inputs = (
    st.text(max_size=300)
    | st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join)
    | mutated_documents()
    | json_like.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
)


def _load_or_refuse(data: str | bytes) -> None:
    path = _WORKDIR / "desired.yaml"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    # Lines as YAML counts them (it breaks lines at NEL and the Unicode separators too).
    text = path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    lines = sum(text.count(c) for c in "\n\r\x85\u2028\u2029") + 1

    def attempt() -> None:
        try:
            load(path, environ=ENVIRON)
        except ValidationFailed as err:
            assert err.diagnostics, "refused without saying why"
            for d in err.diagnostics:
                assert d.file == str(path) and d.message.strip(), d
                assert 1 <= d.line <= lines + 1 and d.column >= 1, f"{d} is outside the file"

    bounded(attempt, data)


@FUZZ
@given(yaml_inputs)
@example("a: &a [*a]")  # a recursive alias
@example("a: &a\n  b: *a\n")
@example("&x [" * 50)
@example("[" * 5000)  # nesting past the parser's recursion
@example("a: !!python/object/apply:os.system ['true']\n")
@example("!!int")  # found by the soak: PyYAML's constructor raised IndexError
@example("version: !!bool maybe\n")  # ... and KeyError
@example("a: !!float\n")
@example("version: 1\nnumbers: {pools: {p: {country: X, region: Y, count: 1e999}}}\n")
@example("version: 1\naculab: {cloud_id: '1-2-0', username: u, api_key: ${}}\n")
def test_the_desired_state_loader_never_raises_anything_else(text: str) -> None:
    _load_or_refuse(text)


@FUZZ
@given(st.binary(max_size=200))
@example(b"\xff\xfe\x00v\x00e\x00r")  # UTF-16 with a BOM
@example(b"version: 1\n\x80\x81\n")
def test_the_desired_state_loader_refuses_any_bytes_cleanly(data: bytes) -> None:
    _load_or_refuse(data)


def test_a_billion_laughs_is_refused_quickly() -> None:
    laughs = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 12):
        laughs += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n"
    _load_or_refuse(
        "version: 1\ntemplates:\n" + "".join("  " + line for line in laughs.splitlines(True))
    )


# --------------------------------------------------------------------------- aql replies

NUMBER = "44113000111"
FIELD_NAMES = ("number", "action-type", "action_type", "Action-Type", "action-detail", "status")
VALUES = (
    NUMBER, "+" + NUMBER, "44113000999", "", "httpget", "HTTPPOST", "null-route", "mvno",
    "email", "https://a.example/x?id=%i,https://b.example/y", "a@b.c, ,d@e.f", ",,,",
    "http://user:pw@h/x", "200", "OK", "*", ":", " ", "\t", "69001", "\ufeff",
)  # fmt: skip


@st.composite
def aql_replies(draw: st.DrawFn) -> str:
    status = draw(
        st.sampled_from(
            ["200: OK", "status * 200", "200", "200:", "69001: Number not valid", "401: x",
             "500: Internal system error", "600: Invalid Command", "status * 69004", "OK"]
        )
        | st.from_regex(r"\A[0-9 ]{0,6}[:*]?.{0,20}\Z", fullmatch=True)
    )  # fmt: skip
    lines = [status]
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=8))
        sep = draw(st.sampled_from([":", " : ", "*", " * ", "=", ""]))
        indent = draw(st.sampled_from(["", "  ", "\t"]))
        value = draw(st.sampled_from(VALUES) | st.text(max_size=20))
        lines.append(f"{indent}{name}{sep}{value}")
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return draw(st.sampled_from(["", "\ufeff"])) + eol.join(lines)


@FUZZ
@given(st.text(max_size=200) | aql_replies())
@example("")
@example("\ufeff\n\n")
@example("200: OK\nnumber: 44113000111\naction-type:\n")
def test_the_aql_reply_parser_answers_a_route_or_its_own_error(text: str) -> None:
    def attempt() -> None:
        try:
            route = parse_relay_reply(text, "aql query", NUMBER)
        except (MalformedResponseError, RelayError) as err:
            assert err.message.startswith("aql query: "), err.message
            return
        assert isinstance(route, LiveRelayRoute)
        assert route.number == NUMBER and route.action == route.action.strip().lower()
        assert route.action and all(d and d == d.strip() for d in route.detail)

    bounded(attempt, text)


@FUZZ
@given(st.binary(max_size=120))
def test_the_aql_error_line_parser_never_raises(data: bytes) -> None:
    found = bounded(lambda: parse_relay_error_line(data), data)
    assert found is None or (found[0].isdigit() and isinstance(found[1], str))


# --------------------------------------------------------------------------- Aculab bodies

error_shapes = st.fixed_dictionaries(
    {},
    optional={
        "code": json_like,
        "text": json_like,
        "details": json_like,
        "message": json_like,
    },
)
aculab_bodies = (
    st.binary(max_size=200)
    | json_like.map(lambda v: json.dumps(v).encode())
    | st.builds(lambda e: json.dumps({"error": e}).encode(), error_shapes | json_like)
    | st.builds(lambda e: repr({"error": e}).encode(), error_shapes)  # Python literal
    | st.text(alphabet=string.printable, max_size=120).map(lambda t: ("{" + t).encode())
    | st.sampled_from(
        [
            b"<html><head><title>502 Bad Gateway</title></head></html>",
            b"<?xml version='1.0'?><error/>",
            b"{'error': {'code': '0001', 'text': 'Bad'}}",
            b"[" * 3000 + b"]" * 3000,
            b"{'a': " * 2000,
            b"[" + b"9" * 6000 + b"]",
            b"{" + b'"' + API_KEY.encode() + b'": 1',
            json.dumps(
                {"error": {"text": f"key {API_KEY} refused", "details": [API_KEY]}}
            ).encode(),
        ]
    )
)


@FUZZ
@given(aculab_bodies)
def test_the_aculab_error_body_parser_always_answers(content: bytes) -> None:
    def attempt() -> None:
        body = parse_aculab_error(content)
        assert isinstance(body, ErrorBody)
        assert body.code is None or isinstance(body.code, str)
        assert all(isinstance(d, str) for d in body.details)
        assert isinstance(describe_body(content), str)
        with contextlib.suppress(ValueError):  # the one error loads() may raise
            loads(content)

    bounded(attempt, content)


statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 408, 409, 429, 500, 502, 503])


def _call(status: int, content: bytes, action: Callable[[AculabClient], Any]) -> Any:
    transport = httpx.MockTransport(lambda _r: httpx.Response(status, content=content))

    async def go() -> Any:
        retry = fast_retry(attempts=2)
        async with AculabClient(aculab_account(), transport=transport, retry=retry) as client:
            return await action(client)

    return asyncio.run(go())


ACULAB_CALLS: dict[str, Callable[[AculabClient], Any]] = {
    "list_numbers": lambda c: c.list_numbers(),
    "purchase": lambda c: c.purchase({"country": "United Kingdom", "region": "London"}),
    "delete_numbers": lambda c: c.delete_numbers(["441908538007"]),
    "list_services": lambda c: c.list_services("inbound"),
    "read_service": lambda c: c.read_service("outbound", "wakeup"),
    "write_service": lambda c: c.write_service("inbound", "x", {"application_type": "REST"}),
    "service_schema": lambda c: c.service_schema("inbound"),
}


@FUZZ
@given(st.sampled_from(sorted(ACULAB_CALLS)), statuses, aculab_bodies)
def test_the_aculab_client_answers_or_raises_an_api_error(
    name: str, status: int, content: bytes
) -> None:
    def attempt() -> None:
        try:
            _call(status, content, ACULAB_CALLS[name])
        except ApiError as err:
            assert err.message.strip() and err.call, err
            assert API_KEY not in err.message and API_KEY not in (err.hint or "")

    bounded(attempt, (name, status, content))


@FUZZ
@given(statuses, st.text(max_size=200) | aql_replies())
def test_the_aql_client_answers_a_route_or_raises_an_api_error(status: int, text: str) -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(status, text=text))

    async def go() -> Any:
        async with AqlClient(aql_account(), transport=transport, retry=fast_retry(attempts=2)) as c:
            return await c.query(NUMBER)

    def attempt() -> None:
        try:
            route = asyncio.run(go())
        except ApiError as err:
            assert err.message.strip() and err.call, err
            return
        assert isinstance(route, LiveRelayRoute) and route.number == NUMBER

    bounded(attempt, (status, text))


# --------------------------------------------------------------------------- saved plans


@pytest.fixture(scope="module")
def saved_plan(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real saved plan (of the plan tests' rich account), as bytes."""
    from plan.factory import rich

    from reconciler.plan.planner import make_plan
    from reconciler.plan.saved import save_plan

    path = tmp_path_factory.mktemp("plan") / "plan.json"
    save_plan(make_plan(*rich()), path)
    return path.read_bytes()


def _load_plan_bytes(data: bytes) -> Any:
    path = _WORKDIR / "plan.json"
    path.write_bytes(data)
    return bounded(lambda: _try_load_plan(path), data[:200])


def _try_load_plan(path: Path) -> Any:
    try:
        return load_plan(path)
    except PlanFileError as err:
        assert err.message.strip() and str(path) in err.message, err.message
        return None


@FUZZ
@given(st.data())
def test_a_saved_plan_cut_short_or_with_one_byte_changed_is_refused_or_unchanged(
    saved_plan: bytes, data: st.DataObject
) -> None:
    original = load_plan_from(saved_plan)
    position = data.draw(st.integers(0, len(saved_plan) - 1))
    if data.draw(st.booleans()):
        changed = saved_plan[:position]
    else:
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != saved_plan[position]))
        changed = saved_plan[:position] + bytes([byte]) + saved_plan[position + 1 :]
    plan = _load_plan_bytes(changed)
    # Either refused, or the change did not change the plan (whitespace between tokens).
    assert plan is None or plan.comparable() == original


def load_plan_from(data: bytes) -> Any:
    plan = _load_plan_bytes(data)
    assert plan is not None
    return plan.comparable()


# --------------------------------------------------------------------------- apply --plan


def _odd_plan_files(directory: Path, good: bytes) -> dict[str, Path]:
    files = {
        "missing": directory / "no-such-plan.json",
        "a directory": directory / "plans",
        "empty": directory / "empty.json",
        "binary": directory / "binary.json",
        "cut short": directory / "cut.json",
        "another version": directory / "v99.json",
        "a JSON list": directory / "list.json",
    }
    files["a directory"].mkdir()
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["cut short"].write_bytes(good[: len(good) // 2])
    document = json.loads(good)
    document["format_version"] = 99
    files["another version"].write_text(json.dumps(document))
    files["a JSON list"].write_text("[1, 2, 3]")
    return files


def test_apply_refuses_an_odd_saved_plan_with_a_message_and_writes_nothing(
    tmp_path: Path,
) -> None:
    from reconciler.simulator import Simulator

    from .scenario import ENVIRON as SIM_ENVIRON
    from .support import account_yaml, run_cli

    sim = Simulator(seed="demo")
    with sim.serve() as running:
        path = tmp_path / "desired.yaml"
        body = "numbers:\n  pools:\n    ldn: {country: United Kingdom, region: London, count: 3}\n"
        path.write_text(account_yaml(running.base_url, running.aql_url, body))
        saved = tmp_path / "plan.json"
        made = run_cli(tmp_path, "plan", str(path), "--out", str(saved), environ=SIM_ENVIRON)
        assert made.code == 0, made.explain()
        for what, odd in _odd_plan_files(tmp_path, saved.read_bytes()).items():
            before = len(sim.calls)
            run = run_cli(
                tmp_path, "apply", str(path), "--plan", str(odd), "--yes", environ=SIM_ENVIRON
            )
            assert run.code == 1 and run.crash is None, f"{what}\n{run.explain()}"
            assert "Error:" in run.stderr and str(odd) in run.stderr, f"{what}\n{run.explain()}"
            assert "Traceback" not in run.stderr + run.stdout
            assert len(sim.calls) == before, f"{what}: apply talked to the account"
        assert sim.state.purchase_log == []
