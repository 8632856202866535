"""doctor's parts without a server: what the recorder keeps, the rate-limit verdicts, the
suggested concurrency, and how a report turns findings into an exit code and a document."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from reconciler.doctor import suggest_concurrency
from reconciler.doctor.checks import Doctor
from reconciler.doctor.recorder import Exchange, Latency, Recorder
from reconciler.doctor.report import DoctorReport, Finding, render_text
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK


def _send(recorder: Recorder, api: str, request: httpx.Request, response: httpx.Response) -> None:
    """``request`` through the recorder (over an httpx transport, as doctor has it), answered
    with ``response``."""
    transport = recorder.wrap(httpx.MockTransport(lambda _r: response), api)
    body = request.content or None
    asyncio.run(transport.exchange(request.method, str(request.url), {}, body))


def test_the_recorder_keeps_rate_headers_and_error_heads_never_names_or_credentials() -> None:
    recorder = Recorder()
    _send(
        recorder,
        "aculab",
        httpx.Request("GET", "http://x/service/v1/inbound/alice-desk"),
        httpx.Response(
            429,
            headers={"Retry-After": "2", "X-RateLimit-Limit": "100", "X-Other": "1"},
            text='{"error": {"code": "HTTP 429"}}',
        ),
    )
    _send(
        recorder,
        "aql",
        httpx.Request("POST", "http://x/sms", content=b"username=u&password=SECRET&command=query"),
        httpx.Response(200, text="200: OK\nnumber: 4411"),
    )
    first, second = recorder.log
    assert first.endpoint == "/service/v1/inbound/{name}"
    assert first.status == 429
    assert dict(first.rate_headers) == {"retry-after": "2", "x-ratelimit-limit": "100"}
    assert first.error_head.startswith(b'{"error"')
    assert second.endpoint == "aql query"
    assert second.error_head == b""  # a success body is account data
    assert "SECRET" not in repr(recorder.log)
    assert set(recorder.latency()) == {"/service/v1/inbound/{name}", "aql query"}


def test_a_service_name_with_a_slash_is_kept_out_of_the_endpoint_too() -> None:
    """The path as sent (quoted) is what the recorder shapes: a name with a "/" is one part
    (the unquoted path split it in two, and the endpoint kept the name)."""
    recorder = Recorder()
    _send(
        recorder,
        "aculab",
        httpx.Request("GET", "http://x/service/v1/inbound/alice%2Fdesk"),
        httpx.Response(404, text="{}"),
    )
    (exchange,) = recorder.log
    assert exchange.endpoint == "/service/v1/inbound/{name}"


def _rate_finding(log: list[Exchange]) -> Finding:
    recorder = Recorder(log=log)
    doctor = Doctor(None, None, recorder)
    doctor._rate_limits()
    (finding,) = doctor.findings
    return finding


def _ex(status: int, headers: tuple[tuple[str, str], ...] = ()) -> Exchange:
    return Exchange("aculab", "/tel_list_numbers", status, 10.0, rate_headers=headers)


@pytest.mark.parametrize(
    ("log", "verdict", "said"),
    [
        ([_ex(200)], "holds", "no 429 in 1 call"),
        ([_ex(200, (("x-ratelimit-remaining", "99"),))], "holds", "x-ratelimit-remaining"),
        ([_ex(429, (("retry-after", "3"),)), _ex(200)], "holds", "Retry-After: 3"),
        ([_ex(429), _ex(200)], "adapts", "1 429 in 2 calls"),
        ([_ex(429, (("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT"),))], "adapts", "GMT"),
    ],
)
def test_rate_limit_verdicts(log: list[Exchange], verdict: str, said: str) -> None:
    finding = _rate_finding(log)
    assert finding.verdict == verdict
    assert said in finding.answered


def test_suggested_concurrency() -> None:
    fast = {"a": Latency(3, 20.0, 30.0)}
    slow = {"a": Latency(3, 400.0, 900.0)}
    assert suggest_concurrency(fast, 0, 16) == 16  # never below the default
    assert suggest_concurrency(slow, 0, 16) == 40  # about 100 calls a second
    assert suggest_concurrency({"a": Latency(1, 5000.0, 5000.0)}, 0, 16) == 64
    assert suggest_concurrency(fast, 3, 16) == 4  # the server limits the rate
    assert suggest_concurrency(fast, 3, 2) == 1
    assert suggest_concurrency({}, 0, 16) == 16


def _report(*verdicts: str) -> DoctorReport:
    findings = [
        Finding(f"id{i}", f"title {i}", v, "pages", "answered", "action")  # type: ignore[arg-type]
        for i, v in enumerate(verdicts)
    ]
    return DoctorReport(findings, "ws.example", None, 1, {"aculab": 1}, {}, 16)


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        (("holds", "unchecked"), EXIT_OK),
        (("holds", "adapts", "unchecked"), EXIT_CHANGES),
        (("adapts", "breaks", "holds"), EXIT_ERROR),
    ],
)
def test_the_exit_code_follows_the_worst_verdict(verdicts: tuple[str, ...], code: int) -> None:
    report = _report(*verdicts)
    assert report.exit_code == code
    assert json.loads(json.dumps(report.as_json()))["exit_code"] == code
    text = render_text(report)
    assert text.count("pages:") == len(verdicts)
    if code == EXIT_ERROR:
        assert "BREAKS" in text and "--format json" in text


def _aql_doctor(response: httpx.Response) -> Doctor:
    from clients.support import aql_account, fast_retry

    from reconciler.clients.aql import AqlClient

    recorder = Recorder()
    transport = recorder.wrap(httpx.MockTransport(lambda _r: response), "aql")
    aql = AqlClient(aql_account(), transport=transport, retry=fast_retry())
    doctor = Doctor(None, aql, recorder)

    async def go() -> None:
        async with aql:
            await doctor._aql()

    asyncio.run(go())
    return doctor


def test_an_aql_gateway_that_answers_401_as_a_status_breaks_on_the_credentials() -> None:
    doctor = _aql_doctor(httpx.Response(401, text="401: Authentication error"))
    (finding,) = doctor.findings
    assert (finding.id, finding.verdict) == ("aql.credentials", "breaks")
    assert "aql.password" in finding.action


def test_an_aql_gateway_that_answers_html_breaks_on_the_failure_line() -> None:
    page = "<html><title>Maintenance</title></html>"
    doctor = _aql_doctor(httpx.Response(200, text=page))
    found = {f.id: f for f in doctor.findings}
    assert found["aql.credentials"].verdict == "unchecked"  # no number: a query without one
    assert found["aql.failure"].verdict == "breaks"
    assert "an HTML page" in found["aql.failure"].answered


def test_numbers_list_variants_adapt() -> None:
    from reconciler.clients.http import Reply

    doctor = Doctor(None, None, Recorder())
    body = b'{"441234567890": {"country": "UK", "region": "London", "did_type": "geographic",'
    body += b' "price": 3.5, "purchased": "2024-01-01"}}'
    doctor._numbers(Reply("POST /tel_list_numbers", 200, httpx.Headers(), body, 1))
    doctor._numbers(Reply("POST /tel_list_numbers", 200, httpx.Headers(), b"[]", 1))
    doctor._numbers(Reply("POST /tel_list_numbers", 200, httpx.Headers(), b'"nope"', 1))
    priced, empty, wrong = doctor.findings
    assert priced.verdict == "adapts" and "prices as JSON numbers" in priced.answered
    assert "441234567890" not in priced.answered  # counts, not numbers
    assert empty.verdict == "adapts" and "empty JSON array" in empty.answered
    assert wrong.verdict == "breaks"
