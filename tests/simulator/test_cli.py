"""`reconciler simulator serve`: a real process on 127.0.0.1, answering with what it printed."""

from __future__ import annotations

import re
import signal
import socket
import sys
from pathlib import Path

import httpx

from .support import Served, reconciler_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def printed_curl(served: Served) -> tuple[tuple[str, str], str]:
    """The credentials and URL of the printed `curl -u 'USER:KEY' URL` line."""
    match = re.search(r"curl -u '([^:']+):([^']+)' (\S+)", "\n".join(served.lines))
    assert match, served.lines
    return (match.group(1), match.group(2)), match.group(3)


def test_serve_answers_with_the_credentials_it_printed(tmp_path: Path) -> None:
    port = free_port()
    served = Served([*reconciler_argv(), "simulator", "serve", "--port", str(port)], tmp_path)
    try:
        served.read_until("Press Ctrl-C")
        auth, url = printed_curl(served)
        assert url == f"http://127.0.0.1:{port}/tel_list_numbers"
        assert auth == ("1-2-0/ops@example.com", "sim-api-key")
        r = httpx.get(url, auth=auth)
        assert r.status_code == 200 and "441908538007" in r.json()  # the demo account
        assert (
            served.field("aql relay gateway:") == f"http://127.0.0.1:{port}/sms/sms-relay.api.php"
        )
        text = "\n".join(served.lines)
        assert "aculab:" in text and f"endpoint: http://127.0.0.1:{port}" in text
        assert "password: ${AQL_PASSWORD}" in text and "sim-aql-password" in text
        served.proc.send_signal(signal.SIGINT)
        rest = served.rest()
    finally:
        served.stop()
    assert served.proc.returncode == 0, rest
    assert "Simulator stopped" in rest and "Traceback" not in rest


def test_credentials_and_faults_by_flag(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    argv = [
        *reconciler_argv(),
        "simulator",
        "serve",
        "--port",
        "0",
        "--seed",
        "empty",
        "--state",
        str(state),
        "--cloud-id",
        "9-9-9",
        "--username",
        "me@example.org",
        "--api-key",
        "other-key",
        "--latency-ms",
        "5",
        "--fault",
        "error_rate=/tel_purchase:1",
        "--fault",
        "seed=4",
    ]
    served = Served(argv, tmp_path)
    try:
        served.read_until("Press Ctrl-C")
        auth, url = printed_curl(served)
        assert auth == ("9-9-9/me@example.org", "other-key")
        assert httpx.get(url, auth=auth).json() == {}  # the empty seed
        assert httpx.get(url, auth=("1-2-0/ops@example.com", "sim-api-key")).status_code == 401
        base = url.rsplit("/", 1)[0]
        bought = httpx.get(base + "/tel_purchase?country=Spain&region=Madrid", auth=auth)
        assert bought.status_code in (500, 503)
        assert "error_rate /tel_purchase:1" in served.field("Faults:")
        served.proc.send_signal(signal.SIGTERM)
        rest = served.rest()
    finally:
        served.stop()
    assert served.proc.returncode == 0, rest
    assert state.exists()


def test_python_dash_m_entry(tmp_path: Path) -> None:
    served = Served(
        [sys.executable, "-m", "reconciler.simulator", "serve", "--port", "0"], tmp_path
    )
    try:
        served.read_until("Press Ctrl-C")
        auth, url = printed_curl(served)
        assert httpx.get(url, auth=auth).status_code == 200
    finally:
        served.stop()


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    cases = [
        (["--fault", "sometimes=1"], "unknown fault"),
        (["--fault", "error_rate=7"], "between 0 and 1"),
        (["--state", str(tmp_path / "bad.json")], "not a simulator state file"),
    ]
    (tmp_path / "bad.json").write_text("{torn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cases.append((["--port", str(taken.getsockname()[1])], "cannot listen"))
        for extra, message in cases:
            served = Served(
                [*reconciler_argv(), "simulator", "serve", "--port", "0", *extra], tmp_path
            )
            out = served.rest()
            assert served.proc.returncode == 1, out
            assert message in out and "Traceback" not in out
            assert "hint:" in out


def test_the_dialect_from_the_environment(tmp_path: Path) -> None:
    argv = [*reconciler_argv(), "simulator", "serve", "--port", "0"]
    served = Served(argv, tmp_path, env={"RECONCILER_SIMULATOR_DIALECT": "aql-star,html-errors"})
    try:
        served.read_until("Press Ctrl-C")
        assert served.field("Dialect:") == "aql-star, html-errors"
        _auth, url = printed_curl(served)
        assert httpx.get(url).headers["content-type"].startswith("text/html")  # a 401 page
        aql = served.field("aql relay gateway:")
        query = {"username": "example", "password": "sim-aql-password", "command": "query"}
        reply = httpx.post(aql, data={**query, "number": "44113000114"})
        assert reply.text.startswith("status * 200\n")
        served.proc.send_signal(signal.SIGTERM)
        served.rest()
    finally:
        served.stop()


def test_an_unknown_dialect_is_a_clear_error(tmp_path: Path) -> None:
    argv = [*reconciler_argv(), "simulator", "serve", "--port", "0"]
    served = Served(argv, tmp_path, env={"RECONCILER_SIMULATOR_DIALECT": "aql-dash"})
    try:
        rest = served.rest()
    finally:
        served.stop()
    assert served.proc.returncode == 1
    assert "RECONCILER_SIMULATOR_DIALECT" in rest and "aql-dash" in rest
    assert "Traceback" not in rest


def test_the_dialect_by_flag_wins_over_the_environment(tmp_path: Path) -> None:
    argv = [*reconciler_argv(), "simulator", "serve", "--port", "0", "--dialect", "inbound-keyed"]
    served = Served(argv, tmp_path, env={"RECONCILER_SIMULATOR_DIALECT": "aql-star"})
    try:
        served.read_until("Press Ctrl-C")
        assert served.field("Dialect:") == "inbound-keyed"
        auth, url = printed_curl(served)
        listed = httpx.get(url.replace("/tel_list_numbers", "/service/v1/inbound"), auth=auth)
        assert "services" not in listed.json() and "sales-sip" in listed.json()
        served.proc.send_signal(signal.SIGTERM)
        served.rest()
    finally:
        served.stop()


def test_an_unknown_dialect_flag_is_a_clear_error(tmp_path: Path) -> None:
    argv = [*reconciler_argv(), "simulator", "serve", "--port", "0", "--dialect", "aql-dash"]
    served = Served(argv, tmp_path)
    try:
        rest = served.rest()
    finally:
        served.stop()
    assert served.proc.returncode == 1
    assert "unknown simulator dialect mode 'aql-dash'" in rest and "Traceback" not in rest
