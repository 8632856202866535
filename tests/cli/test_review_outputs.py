"""Outputs a reviewer reads, through the real CLI against the simulator over HTTP: the same
edit to every number of a large pool folded into one entry, markdown that fits one GitHub
comment and names the full plan, unmanaged services in plan and drift, drift
--fail-on-unmanaged, `reconciler schema`, export's schema and --relay-numbers-from, progress
in a CI log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from drift.support import ENV, account_yaml, reconciler

from reconciler.simulator import RunningSimulator, Simulator

pytestmark = pytest.mark.e2e

GITHUB_COMMENT_LIMIT = 65_536
ROOT = Path(__file__).parents[2]


def _pool_account(size: int, extra_services: tuple[str, ...] = ()) -> Simulator:
    """An account whose London numbers each have an inbound service described "Support"."""
    sim = Simulator(seed="empty")
    for i in range(size):
        number = f"4420{i:08d}"
        sim.state.numbers[number] = {
            "country": "United Kingdom",
            "did_type": "geographic",
            "price": "1.00",
            "region": "London",
            "purchased": "2024-01-01",
        }
        sim.state.services["inbound"][number] = {"description": "Support"}
    for name in extra_services:
        sim.state.services["inbound"][name] = {"description": "made by hand"}
    return sim


def _pool_yaml(running: RunningSimulator, size: int, description: str) -> str:
    return account_yaml(running) + (
        "safety: {max_update_percent: 100}\n"
        "numbers:\n"
        "  pools:\n"
        "    support:\n"
        "      country: United Kingdom\n"
        "      region: London\n"
        f"      count: {size}\n"
        f'      inbound: {{description: "{description}"}}\n'
    )


@pytest.fixture
def pool_of_5000(tmp_path: Path) -> Iterator[tuple[Path, Simulator]]:
    sim = _pool_account(5000, extra_services=("by-hand",))
    with sim.serve() as running:
        path = tmp_path / "telephony.yaml"
        path.write_text(_pool_yaml(running, 5000, "Support line"), encoding="utf-8")
        yield path, sim


def test_a_description_edit_to_a_5000_number_pool(
    pool_of_5000: tuple[Path, Simulator], tmp_path: Path
) -> None:
    path, _ = pool_of_5000
    saved = tmp_path / "plan.json"
    md = reconciler("plan", str(path), "--format", "markdown", "--out", str(saved), env=ENV)
    assert md.code == 0, md.output
    assert len(md.stdout) < GITHUB_COMMENT_LIMIT
    assert "5,000 to update" in md.stdout and "5,000 inbound services" in md.stdout
    assert md.stdout.count('+ description: "Support line"') == 1

    text = reconciler("plan", str(path), env=ENV)
    assert text.code == 0, text.output
    lines = text.stdout.splitlines()
    assert "  ~ 5,000 inbound services: update (PATCH)" in lines
    assert len(lines) < 40  # one entry, not 5,000
    assert "Unmanaged: 1 inbound service on the account is declared nowhere" in text.stdout
    assert "inbound:by-hand" in text.stdout

    data = json.loads(saved.read_text(encoding="utf-8"))
    assert len(data["changes"]) == 5000
    assert [(g["kind"], g["count"]) for g in data["groups"]] == [("update_service", 5000)]
    assert data["unmanaged_services"] == ["inbound:by-hand"]


def test_markdown_too_long_for_one_comment_names_the_saved_plan(tmp_path: Path) -> None:
    """300 services, each edited differently: nothing folds, and the comment is cut."""
    sim = Simulator(seed="empty")
    names = [f"desk-{i:03d}" for i in range(300)]
    for i, name in enumerate(names):
        sim.state.services["inbound"][name] = {"description": "x" * 150 + str(i)}
    with sim.serve() as running:
        declared = "".join(f'  {n}: {{description: "{n} at the front desk"}}\n' for n in names)
        path = tmp_path / "desks.yaml"
        limits = "safety: {max_update_percent: 100}\n"
        path.write_text(account_yaml(running) + limits + "inbound_services:\n" + declared, "utf-8")
        saved = tmp_path / "plan.json"
        run = reconciler("plan", str(path), "--format", "markdown", "--out", str(saved), env=ENV)
    assert run.code == 0, run.output
    assert len(run.stdout) < GITHUB_COMMENT_LIMIT
    assert run.stdout.startswith("### reconciler plan\n\n**Plan: 0 to purchase")  # summary first
    assert run.stdout.count("| 🔄 |") == 300  # every row fits; some details don't
    assert "This plan is too long for one comment: the details of" in run.stdout
    assert f"The full plan is in `{saved}`" in run.stdout
    assert json.loads(saved.read_text(encoding="utf-8"))["summary"]["update"] == 300


# --------------------------------------------------------------------------- drift


DEMO_AS_IT_IS = """
numbers:
  pools:
    london: {country: United Kingdom, region: London, count: 2}
  pinned:
    "441908538007": {}
    "12045550142": {}
    "15873155555": {}
inbound_services:
  "442079460123": {}
  "441908538007":
    description: Main line
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/support/first"}}
  sales-sip: {}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    description: Wake-up calls
    rest: {tts_voice: English US Female Polly Joanna}
"""


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Path, RunningSimulator]]:
    sim = Simulator(seed="demo")
    with sim.serve() as running:
        path = tmp_path / "telephony.yaml"
        path.write_text(account_yaml(running) + DEMO_AS_IT_IS, encoding="utf-8")
        yield path, running


def _create_by_hand(running: RunningSimulator, name: str) -> None:
    reply = httpx.put(
        f"{running.base_url}/service/v1/inbound/{name}",
        json={"description": "made in the web portal"},
        auth=("1-2-0/ops@example.com", ENV["ACULAB_API_KEY"]),
    )
    assert reply.status_code in (200, 201), reply.text


def test_drift_lists_a_service_made_by_hand_and_fails_on_it_when_asked(
    demo: tuple[Path, RunningSimulator], tmp_path: Path
) -> None:
    path, running = demo
    env = {**ENV, "WAKEUP_PASSWORD": "wakeup-demo-password"}
    clean = reconciler("drift", str(path), "--fail-on-unmanaged", env=env)
    assert clean.code == 0, clean.output  # everything on the account is declared
    _create_by_hand(running, "night-desk")

    plain = reconciler("drift", str(path), env=env)
    assert plain.code == 0, plain.output  # not drift: nothing declares it
    assert (
        "Unmanaged: 1 inbound service on the account is declared nowhere and left alone "
        "(see prune.inbound_services):"
    ) in plain.stdout
    assert "    inbound:night-desk" in plain.stdout.splitlines()

    strict = reconciler("drift", str(path), "--fail-on-unmanaged", env=env)
    assert strict.code == 2, strict.output

    out = tmp_path / "drift.json"
    report = reconciler("drift", str(path), "--format", "json", "--out", str(out), env=env)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == json.loads(report.stdout)
    assert data["unmanaged_services"] == ["inbound:night-desk"]
    schema = json.loads((ROOT / "schemas" / "drift.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)

    accepted = reconciler(
        "drift", str(path), "--fail-on-unmanaged", "--ignore", "inbound:night-*", env=env
    )
    assert accepted.code == 0, accepted.output
    assert "inbound:night-desk  (rule 'inbound:night-*')" in accepted.stdout
    assert "declared nowhere" not in accepted.stdout


def test_drift_out_in_a_missing_directory_fails_before_reading(
    demo: tuple[Path, RunningSimulator], tmp_path: Path
) -> None:
    path, _ = demo
    run = reconciler("drift", str(path), "--out", str(tmp_path / "nope" / "drift.json"), env=ENV)
    assert run.code == 1
    assert "does not exist" in run.stderr and "Traceback" not in run.output


def test_plan_shows_the_old_service_after_a_rename(demo: tuple[Path, RunningSimulator]) -> None:
    path, _ = demo
    text = path.read_text(encoding="utf-8").replace("  sales-sip: {}\n", "  sales-desk: {}\n")
    path.write_text(text, encoding="utf-8")
    run = reconciler("plan", str(path), env={**ENV, "WAKEUP_PASSWORD": "x"})
    assert "+ inbound:sales-desk: create (PUT)" in run.stdout, run.output
    assert "inbound:sales-sip" in run.stdout.split("Unmanaged:", 1)[1]


# --------------------------------------------------------------------------- schema, export


def test_schema_command_prints_and_writes_the_desired_state_schema(tmp_path: Path) -> None:
    printed = reconciler("schema")
    assert printed.code == 0
    schema = json.loads(printed.stdout)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    out = tmp_path / "desired-state.schema.json"
    assert reconciler("schema", "--out", str(out)).code == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema
    bad = reconciler("schema", "--out", str(tmp_path / "missing" / "s.json"))
    assert bad.code == 1 and "cannot write" in bad.stderr


def test_export_points_at_a_schema_beside_the_yaml_and_reads_relay_numbers_from_a_file(
    demo: tuple[Path, RunningSimulator], tmp_path: Path
) -> None:
    _, running = demo
    account = tmp_path / "account.yaml"
    account.write_text(account_yaml(running), encoding="utf-8")
    listed = tmp_path / "relay-numbers.txt"
    listed.write_text("# the aql numbers\n44113000111\n\n+44 113 000 112  # backup\n", "utf-8")
    out = tmp_path / "exported"
    run = reconciler(
        "export", str(account), "--out", str(out), "--relay-numbers-from", str(listed), env=ENV
    )
    assert run.code == 0, run.output
    assert "2 relay routes" in run.stdout
    assert (out / "desired-state.schema.json").is_file()
    for path in out.glob("*.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=desired-state.schema.json"
    routes = yaml.safe_load((out / "relay-routes.yaml").read_text(encoding="utf-8"))
    assert set(routes["relay_routes"]) == {"44113000111", "44113000112"}

    stdin = reconciler(
        "export", str(account), "--relay-numbers-from", "-", env=ENV, input="44113000111\n"
    )
    assert stdin.code == 0, stdin.output
    assert "1 relay route." in stdin.stderr
    assert "reconciler schema --out desired-state.schema.json" in stdin.stderr

    listed.write_text("44113000111\n4411300011x\n", encoding="utf-8")
    bad = reconciler("export", str(account), "--relay-numbers-from", str(listed), env=ENV)
    assert bad.code == 1
    assert f"{listed}:2:1:" in bad.stderr and "Traceback" not in bad.output
    missing = reconciler("export", str(account), "--relay-numbers-from", "nope.txt", env=ENV)
    assert missing.code == 1 and "nope.txt" in missing.stderr


def test_simulator_serve_help_offers_no_account_options() -> None:
    shown = reconciler("simulator", "serve", "--help").stdout
    assert "--simulate" not in shown and "--concurrency" not in shown
    assert "--verbose" in shown


@pytest.mark.parametrize("args", [(), ("plan",), ("drift",), ("simulator", "serve")])
def test_help_ends_with_where_the_docs_are(args: tuple[str, ...]) -> None:
    shown = " ".join(reconciler(*args, "--help").stdout.split())
    assert shown.endswith("in the reconciler repository (docs/ has every topic).") or (
        shown.endswith("docs/commands.md has every command.")
    )
