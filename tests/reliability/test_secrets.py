"""Secrets: no secret value appears in any output, log, error, file or journal, whatever fails.

Every secret here is distinctive, so that finding it anywhere is unambiguous: the Aculab API
key (and a wrong one, for the 401), the aql password, service passwords (one longer than the
server allows, so the server's 400 quotes it back), the password of a REST page's basic
authentication, passwords inside URLs (a relay route's callback, a service's first page), and
passwords already on the account (read back by plan, drift and export). Each is also looked for in
every form text can carry it (``support.secret_encodings``: URL-encoded, JSON-escaped,
escaped twice, repr-quoted), and the API key inside the base64 of the HTTP Basic credentials.

Every command (validate, plan, apply, apply --dry-run, apply --plan, drift, export) and every
output (text, json, markdown, a saved plan, an export directory, the journal, the lock, logs
at ``-v`` and ``-vv``) runs against the simulator healthy and under faults that make error
messages: 401 (wrong API key, wrong aql password), 429 until the retries run out, 5xx, garbage
bodies (HTML, JSON cut short in the middle of a service's configuration), and a purchase
whose reply is lost. After each run stdout, stderr and every file under the working directory
are searched. (``simulator serve`` is exempt: it prints its own test credentials.)

The files reconciler writes that could hold account data, the saved plan and the journal,
are never readable by others: a world-readable plan file is replaced by a 0600 one, a
world-readable journal is refused before anything is written to the account.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply.e2e import cli as subprocess_cli
from apply.e2e import env as subprocess_env
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.simulator import Faults, SimCredentials, Simulator
from reconciler.simulator import services as sim_services

from .support import Run, account_yaml, run_cli, secret_encodings

pytestmark = pytest.mark.e2e
SOAK = bool(os.environ.get("RECONCILER_SOAK"))

API_KEY = "APIKEY-5ecr3t-a1b2c3d4"
WRONG_KEY = "WRONGKEY-5ecr3t-e5f6a7"
AQL_PASSWORD = "AQLPW-5ecr3t-0a1b2c"
WRONG_AQL_PASSWORD = "WRONGAQL-5ecr3t-3c4d"
SERVICE_PASSWORD = "SVCPW-5ecr3t-3d4e5f"
LONG_PASSWORD = "LONGPW-5ecr3t-" + "7" * 60  # over the server's 64: its 400 quotes it
AUTH_PASSWORD = "AUTHPW-5ecr3t-6a7b8c"
HOOK_PASSWORD = "HOOKPW-5ecr3t-9d0e1f"
PAGE_PASSWORD = "PAGEPW-5ecr3t-2a3b4c"
LIVE_PASSWORD = "LIVEPW-5ecr3t-5d6e7f"  # on the account already: outbound wakeup
LIVE_LEGACY_PASSWORD = "LEGACYPW-5ecr3t-8a9b"  # an undeclared outbound service
LIVE_AUTH_PASSWORD = "LIVEAUTH-5ecr3t-0c1d"  # an inbound service's page authentication
LIVE_HOOK_PASSWORD = "LIVEHOOK-5ecr3t-2e3f"  # in a relay route's callback URL

SECRETS = (
    API_KEY,
    WRONG_KEY,
    AQL_PASSWORD,
    WRONG_AQL_PASSWORD,
    SERVICE_PASSWORD,
    LONG_PASSWORD,
    AUTH_PASSWORD,
    HOOK_PASSWORD,
    PAGE_PASSWORD,
    LIVE_PASSWORD,
    LIVE_LEGACY_PASSWORD,
    LIVE_AUTH_PASSWORD,
    LIVE_HOOK_PASSWORD,
)


FORBIDDEN = {form for s in SECRETS for form in secret_encodings(s)} | {
    base64.b64encode(f"1-2-0/ops@example.com:{key}".encode()).decode()
    for key in (API_KEY, WRONG_KEY)
}

ENVIRON = {
    "ACULAB_API_KEY": API_KEY,
    "AQL_PASSWORD": AQL_PASSWORD,
    "WAKEUP_PASSWORD": SERVICE_PASSWORD,
    "LONG_PASSWORD": LONG_PASSWORD,
    "AUTH_PASSWORD": AUTH_PASSWORD,
    "HOOK_PASSWORD": HOOK_PASSWORD,
    "PAGE_PASSWORD": PAGE_PASSWORD,
}

DESIRED = """\
templates:
  app:
    application_type: REST
    rest:
      first_page: {address: "https://app:${PAGE_PASSWORD}@app.example.com/first"}
      authentication: {username: app, password: "${AUTH_PASSWORD}"}
numbers:
  pools:
    london: {country: United Kingdom, region: London, count: 3, inbound: {template: app}}
inbound_services:
  sales-sip: {template: app, description: Sales}
outbound_services:
  wakeup:
    service_password: "${WAKEUP_PASSWORD}"
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/wakeup"}}
relay_routes:
  "44113000111":
    action: httppost
    detail:
      - "https://hook:${HOOK_PASSWORD}@sms.example.com/in?id=%i&msg=%m"
      - "https://sms-backup.example.com/in?id=%i"
safety: {max_purchase: 5, max_delete_percent: 100, max_update_percent: 100}
"""

# A body the server's schema refuses, for a secret: plan, validate and apply refuse it before
# anything is written, and none of them quotes the password.
OVERLONG = """\
  overlong:
    service_password: "${LONG_PASSWORD}"
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/overlong"}}
"""

ACCOUNT_ONLY = ""  # export reads only the aculab/aql sections


def _simulator() -> Simulator:
    """The demo account, with the secrets above on it and the credentials above."""
    sim = Simulator(
        seed="demo",
        credentials=SimCredentials(api_key=API_KEY, aql_password=AQL_PASSWORD),
    )
    services = sim.state.services
    services["outbound"]["wakeup"]["service_password"] = LIVE_PASSWORD
    services["outbound"]["legacy"] = sim_services.fill_defaults(
        "outbound",
        {
            "service_password": LIVE_LEGACY_PASSWORD,
            "application_type": "REST",
            "rest": {"first_page": {"address": "https://old.example.com/legacy"}},
        },
    )
    services["inbound"]["sales-sip"]["rest"]["authentication"] = {
        "username": "app",
        "password": LIVE_AUTH_PASSWORD,
    }
    sim.state.relay["44113000111"] = (
        "httpget",
        f"https://hook:{LIVE_HOOK_PASSWORD}@old.example.com/cb?id=%i",
    )
    return sim


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = _simulator()
    with sim.serve() as running:
        yield sim, account_yaml(running.base_url, running.aql_url, DESIRED)


def files_under(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            yield path


def assert_nothing_leaked(run: Run, work: Path) -> None:
    """No secret in what the run printed, nor in any file under its directory."""
    assert run.crash is None, run.explain()
    shown = run.stdout + run.stderr
    for form in FORBIDDEN:
        assert form not in shown, f"a secret ({form[:10]}...) was printed\n{run.explain()}"
    for path in files_under(work):
        text = path.read_bytes().decode("utf-8", "replace")
        for form in FORBIDDEN:
            assert form not in text, f"a secret ({form[:10]}...) is in {path}\n{run.explain()}"


def _run(work: Path, *args: str, environ: dict[str, str] | None = None) -> Run:
    run = run_cli(work, *args, environ=environ or ENVIRON)
    assert_nothing_leaked(run, work)
    return run


# --------------------------------------------------------------------------- healthy


def test_no_secret_in_any_command_or_format_of_a_healthy_run(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    p = str(path)
    saved = str(tmp_path / "plan.json")

    # The overlong password first: refused everywhere, before anything is written.
    path.write_text(text.replace("relay_routes:", OVERLONG + "relay_routes:", 1))
    for fmt in ("text", "json"):
        refused = _run(tmp_path, "validate", p, "--format", fmt, "-vv")
        assert refused.code == 1 and "overlong" in refused.stdout, refused.explain()
    for args in (("plan",), ("apply", "--dry-run"), ("apply", "--yes")):
        refused = _run(tmp_path, args[0], p, *args[1:], "-vv")
        assert refused.code == 1, refused.explain()
        assert "outbound service overlong: service_password" in refused.stderr
    assert sim.state.purchase_log == []
    path.write_text(text)

    for fmt in ("text", "json"):
        assert _run(tmp_path, "validate", p, "--format", fmt, "-vv").code == 0
    for fmt in ("text", "json", "markdown"):
        assert _run(tmp_path, "plan", p, "--format", fmt, "-vv").code == 0
    assert _run(tmp_path, "plan", p, "--out", saved, "-v").code == 0
    for fmt in ("text", "json", "markdown"):
        assert _run(tmp_path, "drift", p, "--format", fmt, "-vv").code == 2
    exported = _run(tmp_path, "export", p, "--relay-number", "44113000111", "-vv")
    assert exported.code == 0 and "${" in exported.stdout
    out_dir = str(tmp_path / "exported")
    assert _run(tmp_path, "export", p, "--out", out_dir, "--relay-number", "44113000111").code == 0

    dry = _run(tmp_path, "apply", p, "--dry-run", "-vv")
    assert dry.code == 0 and "valid against the schema" in dry.stdout, dry.explain()
    applied = _run(tmp_path, "apply", p, "--yes", "-vv")
    assert applied.code == 0, applied.explain()
    assert sim.state.purchase_log and (tmp_path / ".reconciler" / "journal.jsonl").exists()
    assert _run(tmp_path, "apply", p, "--yes", "--format", "json", "-v").code == 0
    stale = _run(tmp_path, "apply", p, "--plan", saved, "--yes", "-vv")
    assert stale.code == 1 and "stale" in stale.stderr
    # What reconciler wrote: a saved plan, an export, a journal: none holds a secret.
    written = {p.name for p in files_under(tmp_path)}
    assert {"plan.json", "journal.jsonl"} <= written
    # ... while every secret did reach the account, where it belongs.
    state = sim.state
    assert state.services["outbound"]["wakeup"]["service_password"] == SERVICE_PASSWORD
    page = state.services["inbound"]["sales-sip"]["rest"]
    assert page["authentication"]["password"] == AUTH_PASSWORD
    assert PAGE_PASSWORD in page["first_page"]["address"]
    assert HOOK_PASSWORD in state.relay["44113000111"][1]


# --------------------------------------------------------------------------- under faults

FAULTS = {
    "401 wrong API key": (Faults(), {"ACULAB_API_KEY": WRONG_KEY}),
    "401 wrong aql password": (Faults(), {"AQL_PASSWORD": WRONG_AQL_PASSWORD}),
    "429 until retries run out": (Faults(rate_limit=1.0, retry_after_s=0), {}),
    "5xx on writes and one read": (
        Faults(
            error_rate={
                "/tel_purchase": 1.0,
                "PUT /service/v1/outbound/*": 1.0,
                "GET /service/v1/inbound/sales-sip": 0.5,
            },
            seed=3,
        ),
        {},
    ),
    "garbage bodies": (Faults(garbage_rate=1.0, seed=5), {}),
    "garbage service reads": (Faults(garbage_rate={"GET /service/v1/*/*": 1.0}, seed=9), {}),
    "lost purchase reply": (Faults(lost_purchase_reply="drop"), {}),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_secret_in_errors_logs_or_files_under_faults(
    fault: str, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    sim, text = served
    faults, overrides = FAULTS[fault]
    sim.faults = faults
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    p = str(path)
    environ = {**ENVIRON, **overrides}

    runs = [
        _run(tmp_path, "plan", p, "--format", "json", "-vv", environ=environ),
        _run(tmp_path, "apply", p, "--yes", "--purchase-wait", "1", "-vv", environ=environ),
        _run(tmp_path, "drift", p, "--format", "markdown", "-v", environ=environ),
        _run(tmp_path, "export", p, "--relay-number", "44113000111", "-vv", environ=environ),
    ]
    # The faults really produced errors to show (and hide secrets from); a lost purchase
    # reply is recovered by re-counting, and the report's note says what happened.
    assert (
        any(r.code == 1 and "Error" in r.stderr + r.stdout for r in runs)
        or any("FAILED" in r.stdout for r in runs)
        or any("the purchase call failed" in r.stdout for r in runs)
    ), "\n\n".join(r.explain() for r in runs)


def test_no_secret_from_the_installed_script_at_the_highest_verbosity(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    """The same through the real ``reconciler`` process: what reaches file descriptors 1 and
    2 (warnings and asyncio's own messages included), healthy and with a 401."""
    sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    sim.faults = Faults(garbage_rate={"GET /service/v1/*/*": 0.5}, seed=1)
    for overrides in ({}, {"ACULAB_API_KEY": WRONG_KEY, "AQL_PASSWORD": WRONG_AQL_PASSWORD}):
        environ = subprocess_env(**{**ENVIRON, **overrides})
        for args in (
            ("apply", str(path), "--yes", "--purchase-wait", "1", "-vv"),
            ("drift", str(path), "-vv"),
        ):
            done = subprocess_cli(tmp_path, *args, environ=environ)
            run = Run(args, done.returncode, done.stdout, done.stderr)
            assert_nothing_leaked(run, tmp_path)
            assert "Traceback" not in done.stderr, run.explain()


# --------------------------------------------------------------------------- file modes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_world_readable_plan_file_is_replaced_by_a_private_one(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    _sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    saved = tmp_path / "plan.json"
    saved.write_text("an old plan anyone could read\n")
    saved.chmod(0o644)

    run = _run(tmp_path, "plan", str(path), "--out", str(saved))

    assert run.code == 0, run.explain()
    assert _mode(saved) == 0o600
    assert "format_version" in saved.read_text()


def test_a_world_readable_journal_is_refused_before_anything_is_written(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    journal = tmp_path / ".reconciler" / "journal.jsonl"
    journal.parent.mkdir()
    journal.write_text("")
    journal.chmod(0o644)

    run = _run(tmp_path, "apply", str(path), "--yes")

    assert run.code == 1, run.explain()
    assert "journal" in run.stderr and "chmod 600" in run.stderr, run.explain()
    writes = [c for c in sim.calls if c.method in ("PUT", "PATCH", "DELETE")]
    assert writes == [] and sim.state.purchase_log == []
    assert not (tmp_path / ".reconciler" / "apply.lock").exists()


def test_files_are_private_whatever_the_umask(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    _sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    saved = tmp_path / "plan.json"
    old = os.umask(0)
    try:
        assert _run(tmp_path, "plan", str(path), "--out", str(saved)).code == 0
        _run(tmp_path, "apply", str(path), "--yes")
    finally:
        os.umask(old)
    workdir = tmp_path / ".reconciler"
    assert _mode(saved) == 0o600
    assert _mode(workdir / "journal.jsonl") == 0o600
    assert _mode(workdir) & 0o077 == 0


# --------------------------------------------------------------------------- any secret

_ANY = st.characters(codec="utf-8", exclude_characters="\x00")
_URL_SAFE = st.characters(
    codec="utf-8", exclude_characters="@,%", exclude_categories=("Z", "C")
)  # a URL password: anything but "@" (ends it), "," (aql joins details with it), spaces


@settings(
    max_examples=60 if SOAK else 6,
    deadline=None,
    derandomize=not SOAK,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(  # the review's cases: a base64 password with "/", JSON-escaped echoes of an overlong one
    service="Sv9" + 'é"\\/' * 20 + "q",
    aql='Aq7 "+%&=z',
    hook="Hk5Zm9v/YmFy+cXV4/w",
    live='Lv3\u00e9"\\k',
)
@given(
    # Distinctive ends, so that finding a form is unambiguous; any characters between them.
    service=st.text(_ANY, min_size=1, max_size=70).map(lambda s: f"Sv9{s}q"),  # > 64: echoed
    aql=st.text(_ANY, min_size=1, max_size=24).map(lambda s: f"Aq7{s}z"),
    hook=st.text(_URL_SAFE, min_size=1, max_size=24).map(lambda s: f"Hk5{s}/w"),
    live=st.text(_ANY, min_size=1, max_size=24).map(lambda s: f"Lv3{s}k"),
)
def test_a_secret_of_any_characters_never_appears_in_any_form(
    service: str, aql: str, hook: str, live: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A generated service password (longer than the server allows at times: it is quoted
    back in a 400), aql password (sent form-encoded), relay callback URL password and a live
    service's password: no form of any of them (raw, URL-encoded, JSON-escaped, escaped twice,
    repr-quoted) in any output, file or log of plan (three formats and a saved plan), drift,
    apply and export."""
    work = tmp_path_factory.mktemp("any")
    sim = Simulator(seed="demo", credentials=SimCredentials(api_key=API_KEY, aql_password=aql))
    sim.state.services["outbound"]["legacy"] = sim_services.fill_defaults(
        "outbound",
        {
            "service_password": live,
            "application_type": "REST",
            "rest": {"first_page": {"address": "https://old.example.com/legacy"}},
        },
    )
    environ = {"ACULAB_API_KEY": API_KEY, "AQL_PASSWORD": aql, "SVC": service, "HOOK": hook}
    body = """\
outbound_services:
  wakeup:
    service_password: "${SVC}"
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/wakeup"}}
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://hook:${HOOK}@sms.example.com/in?id=%i"]
safety: {max_update_percent: 100}
"""
    forbidden = set().union(*(secret_encodings(s) for s in (service, aql, hook, live)))
    with sim.serve() as running:
        path = work / "desired.yaml"
        path.write_text(account_yaml(running.base_url, running.aql_url, body))
        p = str(path)
        commands = [
            ("plan", p, "-vv"),
            ("plan", p, "--format", "json"),
            ("plan", p, "--format", "markdown", "--out", str(work / "plan.json")),
            ("drift", p, "--format", "json", "-v"),
            ("apply", p, "--yes", "-vv"),
            ("drift", p, "--format", "markdown"),
            ("export", p, "--out", str(work / "exported"), "--relay-number", "44113000111"),
        ]
        codes = []
        runs = []
        for args in commands:
            run = run_cli(work, *args, environ=environ)
            assert run.crash is None, run.explain()
            codes.append(run.code)
            runs.append(run.stderr[-600:])
            shown = run.stdout + run.stderr
            for form in forbidden:
                assert form not in shown, f"{form!r} shown by {args}\n{run.explain()}"
        # The commands really ran: plan and drift read the account (and see the changes),
        # apply wrote the secrets where they belong. A password over the server's 64
        # characters is refused before anything is written: plan and apply say so (quoting
        # the server's schema, and the password masked), drift still reports.
        overlong = len(service) > 64
        assert codes[:4] == ([1, 1, 1, 2] if overlong else [0, 0, 0, 2]), (codes, runs)
        if not overlong:
            assert codes[4] == 0, (codes, runs)
            assert sim.state.services["outbound"]["wakeup"]["service_password"] == service
            assert hook in sim.state.relay["44113000111"][1], codes
    for file in files_under(work):
        text = file.read_bytes().decode("utf-8", "replace")
        for form in forbidden:
            assert form not in text, f"{form!r} is in {file}"


@pytest.mark.parametrize("simulate", [False, True])
def test_a_callback_password_holding_an_at_sign_is_never_shown_in_part(
    tmp_path: Path, simulate: bool
) -> None:
    """A password from the environment that holds "@" (and ":" and "/"), filling a relay
    callback URL: the URL's password is taken to end at the first "@", and the rest of the
    variable's value used to be shown as the host (and, under --simulate, sent to the
    simulator). Neither part of it, in any form, may appear."""
    hook = "Hk0:p@ss/w%2Fd-tail9"
    parts = [hook, "Hk0:p", "ss/w%2Fd-tail9", "w%2Fd-tail9"]
    forbidden = set().union(*(secret_encodings(s) for s in parts))
    sim = Simulator(
        seed="demo", credentials=SimCredentials(api_key=API_KEY, aql_password="aqlpw-9")
    )
    environ = {"ACULAB_API_KEY": API_KEY, "AQL_PASSWORD": "aqlpw-9", "HOOK": hook}
    body = """\
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://hook:${HOOK}@sms.example.com/in?id=%i"]
"""
    with sim.serve() as running:
        path = tmp_path / "desired.yaml"
        path.write_text(account_yaml(running.base_url, running.aql_url, body))
        extra = ("--simulate",) if simulate else ()
        commands = [
            ("plan", str(path), "-vv", *extra),
            ("plan", str(path), "--format", "json", *extra),
            ("plan", str(path), "--format", "markdown", *extra),
            ("drift", str(path), "--format", "json", *extra),
        ]
        for args in commands:
            run = run_cli(tmp_path, *args, environ=environ)
            assert run.crash is None, run.explain()
            assert "sms.example.com/in" in run.stdout, run.explain()  # the route is shown
            shown = run.stdout + run.stderr
            for form in forbidden:
                assert form not in shown, f"{form!r} shown by {args}\n{run.explain()}"
    for file in files_under(tmp_path):
        text = file.read_bytes().decode("utf-8", "replace")
        for form in ("ss/w%2Fd-tail9", "w%2Fd-tail9"):
            assert form not in text, f"{form!r} is in {file}"
