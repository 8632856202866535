"""Bad input at the command line, as a user meets it: the installed `reconciler` script, run in
a scratch directory, against a real simulator on 127.0.0.1 where the API is involved.

Each case asserts the exit code (1 for any error, never click's 2, which means "changes
pending"), that the message names the place or the API call and what to do, that no secret
leaks, and that there is no traceback. The YAML loader's own errors (syntax, unknown keys,
types, encodings, empty files) are covered by the corpus in ``tests/desired/bad``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import Faults, SimCredentials, Simulator

SCRIPT = Path(sys.executable).parent / "reconciler"
CREDS = SimCredentials()


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    environ.update({"NO_COLOR": "1", **env})
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


def _assert_error(run: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert "internal error" not in run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, (fragment, run.stderr)


def _account(path: Path, base_url: str) -> Path:
    path.write_text(
        "version: 1\n"
        "aculab:\n"
        '  cloud_id: "1-2-0"\n'
        "  username: ops@example.com\n"
        "  api_key: ${ACULAB_API_KEY}\n"
        f"  endpoint: {base_url}\n"
        "aql:\n"
        "  username: example\n"
        "  password: ${AQL_PASSWORD}\n"
        f"  endpoint: {base_url}/sms/sms-relay.api.php\n"
        "inbound_services:\n"
        "  sales-sip: {description: Sales}\n"
        "relay_routes:\n"
        '  "44113000114": {action: null-route}\n',
        encoding="utf-8",
    )
    return path


def _env(api_key: str = CREDS.api_key, aql_password: str = CREDS.aql_password) -> dict[str, str]:
    return {"ACULAB_API_KEY": api_key, "AQL_PASSWORD": aql_password}


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, str]]:
    simulator = Simulator(seed="demo", credentials=CREDS)
    with simulator.serve() as running:
        yield simulator, running.base_url


# ----------------------------------------------------------------------------- the API


def test_wrong_api_key_names_the_settings_and_never_the_key(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    desired = _account(tmp_path / "x.yaml", sim[1])
    for command in (["plan"], ["drift"], ["export"], ["apply", "--yes"]):
        run = _run(tmp_path, *command, str(desired), **_env(api_key="wrong-key-4711"))
        _assert_error(run, "Aculab Cloud answered 401", "aculab.api_key")
        assert "wrong-key-4711" not in run.stdout + run.stderr


def test_wrong_aql_password_names_the_aql_settings(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    desired = _account(tmp_path / "x.yaml", sim[1])
    run = _run(tmp_path, "plan", str(desired), **_env(aql_password="wrong-pw-4711"))
    _assert_error(run, "aql query 44113000114", "401", "aql.password")
    assert "wrong-pw-4711" not in run.stdout + run.stderr


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_name_the_call_and_change_nothing(
    tmp_path: Path, sim: tuple[Simulator, str], status: int
) -> None:
    simulator, base_url = sim
    simulator.faults = Faults(
        error_rate={"GET /service/v1/outbound": 1.0}, error_statuses=(status,)
    )
    desired = _account(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "drift", str(desired), **_env())
    _assert_error(run, "GET /service/v1/outbound", f"answered {status}", "nothing was changed")
    assert "failed on its side, not on your input: try again later" in run.stderr


def test_rate_limiting_that_never_ends_hints_at_concurrency(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    simulator, base_url = sim
    simulator.faults = Faults(rate_limit={"/tel_list_numbers": 1.0}, retry_after_s=0)
    desired = _account(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "plan", str(desired), **_env())
    _assert_error(run, "POST /tel_list_numbers", "answered 429", "lower --concurrency")


def test_an_html_page_instead_of_json_names_the_call(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    simulator, base_url = sim
    simulator.faults = Faults(garbage_rate={"/tel_list_numbers": 1.0})
    desired = _account(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "plan", str(desired), **_env())
    _assert_error(run, "POST /tel_list_numbers", "expected JSON")


def test_an_aql_reply_cut_short_is_not_read_as_drift(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    """A 200 whose body a proxy cut off ("action-type: e") used to be read as the route, so
    drift reported a change nobody made (exit 2). It is an unreadable reply: exit 1."""
    simulator, base_url = sim
    simulator.faults = Faults(garbage_rate={"/sms/*": 1.0})
    desired = _account(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "drift", str(desired), **_env())
    _assert_error(run, "aql query 44113000114")
    assert "Drift:" not in run.stdout


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        ("200: OK\nnumber: 44113000111\n  action-type: e", "unknown action-type 'e'"),
        ("200: OK\nnumber: 44113000111\n  action-type: httpget\n", "no action-detail"),
        ("200: OK\nnumber: 44113000111\n  action-type: email\n  action-detail:", "no action-"),
    ],
)
def test_aql_replies_cut_short_are_refused(reply: str, said: str) -> None:
    from reconciler.clients.parsers import parse_relay_reply
    from reconciler.errors import MalformedResponseError

    with pytest.raises(MalformedResponseError, match=said):
        parse_relay_reply(reply, "aql query 44113000111", "44113000111")
    route = parse_relay_reply(
        "200: OK\nnumber: 44113000111\n  action-type: null-route\n  action-detail:",
        "aql query 44113000111",
        "44113000111",
    )
    assert (route.action, route.detail) == ("null-route", ())


def test_a_refused_connection_names_the_call_and_the_address(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    desired = _account(tmp_path / "x.yaml", f"http://127.0.0.1:{port}")
    run = _run(tmp_path, "plan", str(desired), **_env())
    _assert_error(run, "could not connect to 127.0.0.1", "nothing was changed")
    assert "check the endpoint of" in run.stderr  # Aculab or aql: whichever fails first


# ----------------------------------------------------------------------------- files


def test_plan_out_into_a_missing_directory_fails_before_reading_the_account(
    tmp_path: Path, sim: tuple[Simulator, str]
) -> None:
    simulator, base_url = sim
    desired = _account(tmp_path / "x.yaml", base_url)
    run = _run(tmp_path, "plan", str(desired), "--out", "nowhere/plan.json", **_env())
    _assert_error(run, "nowhere/plan.json", "the directory nowhere does not exist", "hint:")
    assert simulator.calls == []
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    run = _run(tmp_path, "plan", str(desired), "--out", "afile/plan.json", **_env())
    _assert_error(run, "afile is not a directory")
    assert simulator.calls == []


def test_apply_with_a_missing_or_damaged_saved_plan(tmp_path: Path) -> None:
    desired = tmp_path / "x.yaml"
    desired.write_text("version: 1\n", encoding="utf-8")
    run = _run(tmp_path, "apply", "x.yaml", "--simulate", "--yes", "--plan", "missing.json")
    _assert_error(run, "missing.json", "`reconciler plan x.yaml --out missing.json --simulate`")
    (tmp_path / "garbage.json").write_bytes(b"\xff\xfenot json")
    run = _run(tmp_path, "apply", "x.yaml", "--simulate", "--yes", "--plan", "garbage.json")
    typed = "`reconciler plan x.yaml --out garbage.json --simulate`"
    _assert_error(run, "garbage.json is not a saved plan", typed)


def test_export_out_onto_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "taken.yaml").write_text("keep me\n", encoding="utf-8")
    run = _run(tmp_path, "export", "x.yaml", "--simulate", "--out", "taken.yaml")
    _assert_error(run, "taken.yaml")
    assert (tmp_path / "taken.yaml").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize(
    ("endpoint", "said"),
    [
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://[::1", "IPv6"),
        ("http://127.0.0.1:9/a\tb", "a control character, '\\t', at position 20"),
        # passes urlsplit, but no client can send it (the client's own rule says why)
        ("https://a_\u00e4.example", "("),
    ],
)
def test_an_endpoint_that_cannot_be_parsed_is_placed_in_the_file(
    tmp_path: Path, endpoint: str, said: str
) -> None:
    """It passed the schema's pattern and then crashed building the client ("internal
    error: ValueError")."""
    _account(tmp_path / "x.yaml", endpoint)
    for command in ("validate", "plan"):
        run = _run(tmp_path, command, "x.yaml", **_env())
        _assert_error(run)
        said_all = run.stdout + run.stderr  # validate reports on stdout, plan on stderr
        assert "x.yaml:6:13: error: aculab.endpoint is not a usable URL" in said_all
        assert said in said_all


def test_credentials_in_the_aculab_endpoint_are_refused_without_printing_them(
    tmp_path: Path,
) -> None:
    """They conflicted with the Basic auth reconciler sends: "internal error: ValueError"."""
    _account(tmp_path / "x.yaml", "http://user:Sup3rSecretPw@127.0.0.1:9")
    run = _run(tmp_path, "plan", "x.yaml", **_env())
    _assert_error(run, "x.yaml:6:13: error: aculab.endpoint must not hold credentials")
    assert "Sup3rSecretPw" not in run.stdout + run.stderr


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "args",
    [
        ["drift", "x.yaml", "--simulate", "--concurrency", "0"],
        ["--concurrency", "0", "drift", "x.yaml", "--simulate"],
        ["drift", "x.yaml", "--simulate", "--no-such-flag"],
        ["drift"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_1_not_2(tmp_path: Path, args: list[str]) -> None:
    """2 means "drift found" to a scheduled job; a typo must not look like drift."""
    (tmp_path / "x.yaml").write_text("version: 1\n", encoding="utf-8")
    run = _run(tmp_path, *args)
    _assert_error(run, "Error:")


def test_help_names_what_the_options_take() -> None:
    drift = _run(Path.cwd(), "drift", "--help")
    assert "--ignore RULE" in drift.stdout
    export = _run(Path.cwd(), "export", "--help")
    assert "--out DIR" in export.stdout


def test_global_options_before_the_simulator_subcommand(tmp_path: Path) -> None:
    """`reconciler simulator -v serve` is accepted like `reconciler -v simulator serve`; here
    the bad fault is what is reported, not the placement of -v."""
    for args in (["simulator", "-v", "serve"], ["-v", "simulator", "serve"]):
        run = _run(tmp_path, *args, "--port", "0", "--fault", "bogus=1")
        _assert_error(run, "--fault 'bogus=1': unknown fault", "hint: use NAME=VALUE")


def test_a_file_where_the_working_directory_goes(tmp_path: Path) -> None:
    """`.reconciler` as a file was "internal error: FileExistsError" / "NotADirectoryError"."""
    (tmp_path / "x.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / ".reconciler").write_text("not a directory\n", encoding="utf-8")
    for args in (["plan", "x.yaml", "--simulate"], ["apply", "x.yaml", "--simulate", "--yes"]):
        run = _run(tmp_path, *args)
        _assert_error(run, "cannot use .reconciler as reconciler's working directory")
    assert (tmp_path / ".reconciler").read_text(encoding="utf-8") == "not a directory\n"


def test_a_damaged_simulator_account_under_simulate_says_what_to_delete(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / ".reconciler").mkdir()
    (tmp_path / ".reconciler" / "simulator.json").write_text("garbage", encoding="utf-8")
    run = _run(tmp_path, "plan", "x.yaml", "--simulate")
    _assert_error(run, "not a simulator state file", "delete .reconciler/simulator.json")
    assert "--state" not in run.stderr  # plan has no --state option


def test_a_saved_plan_applied_with_another_path_names_the_cause(tmp_path: Path) -> None:
    """The other file doesn't declare what the plan depends on, so it is not read: that was
    reported as "relay:...: is gone since the plan was made", which nobody did."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    for name in ("quickstart.yaml", "sales-sip.yaml"):
        (tmp_path / name).write_text((examples / name).read_text(encoding="utf-8"))
    made = _run(tmp_path, "plan", "quickstart.yaml", "--simulate", "--out", "plan.json")
    assert made.returncode == 0, made.stderr
    run = _run(tmp_path, "apply", "sales-sip.yaml", "--simulate", "--yes", "--plan", "plan.json")
    _assert_error(run, "the plan was made from quickstart.yaml, this apply reads sales-sip.yaml")
    same = _run(
        tmp_path, "apply", "./quickstart.yaml", "--simulate", "--dry-run", "--plan", "plan.json"
    )
    assert same.returncode == 0, same.stderr


def test_a_pool_at_a_place_not_for_sale_is_a_plan_error_at_the_pool(tmp_path: Path) -> None:
    """Aculab answers 400 to the regions of a country (or state) it doesn't sell in; that
    failed the whole read ("could not read the live account: ... 400") instead of reaching
    the preflight, which names the pool and the nearest valid name."""
    (tmp_path / "x.yaml").write_text(
        "version: 1\n"
        "aculab:\n"
        '  cloud_id: "1-2-0"\n'
        "  username: ops@example.com\n"
        "  api_key: ${ACULAB_API_KEY}\n"
        "numbers:\n"
        "  pools:\n"
        "    n: {country: Narnia, region: Cair, count: 2}\n"
        "    c: {country: Canada, state: Albrta, region: Calgary, count: 5}\n",
        encoding="utf-8",
    )
    run = _run(tmp_path, "plan", "x.yaml", "--simulate")
    _assert_error(
        run,
        "x.yaml:8:5: pool n: country 'Narnia' has no geographic numbers for sale",
        "x.yaml:9:5: pool c: state 'Albrta' is not sold in Canada (did you mean 'Alberta'?",
    )
    assert "could not read the live account" not in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "x.yaml", "--format", "json", "--parallel", "0"),
        ("drift", "--format=json", "x.yaml", "--no-such-option"),
        ("apply", "x.yaml", "--format", "json", "--purchase-wait", "nan"),
    ],
)
def test_a_usage_error_under_format_json_is_a_json_document_too(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    import json

    import jsonschema

    from reconciler.schemas import schema_file

    run = _run(tmp_path, *args)
    assert run.returncode == 1, (run.stdout, run.stderr)
    doc = json.loads(run.stdout)
    schema = json.loads(schema_file("error.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    assert doc["error"]["message"] and "Traceback" not in run.stderr
