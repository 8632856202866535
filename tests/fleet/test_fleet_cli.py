"""Several PATHs are several accounts: the real CLI against one simulator hosting them all,
over HTTP on 127.0.0.1 (docs/fleet.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from drift.support import Run, reconciler

from fleet.support import VOICE, Fleet, serve_fleet
from reconciler.schemas import schema_file

pytestmark = pytest.mark.e2e

NAMES = ("acme", "globex", "initech")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    monkeypatch.chdir(tmp_path)  # .reconciler/ goes here
    with serve_fleet(NAMES) as served:
        yield served


def _paths(fleet: Fleet, tmp_path: Path) -> list[str]:
    return [str(fleet.write(tmp_path, name)) for name in NAMES]


def _run(fleet: Fleet, *args: str) -> Run:
    return reconciler(*args, env=fleet.env())


def _groups(stdout: str) -> dict[str, str]:
    """Each account's group of output, by name (``==> NAME (PATH)`` heads a group)."""
    out: dict[str, str] = {}
    name = None
    for line in stdout.splitlines():
        if line.startswith("==> "):
            name = line.split()[1]
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


def test_plan_of_several_accounts_groups_each_account_s_plan(fleet: Fleet, tmp_path: Path) -> None:
    run = _run(fleet, "plan", *_paths(fleet, tmp_path), "--detailed-exitcode")
    assert run.code == 2, run.output
    groups = _groups(run.stdout)
    assert sorted(groups) == sorted(NAMES)
    for text in groups.values():
        assert "outbound:wakeup" in text and VOICE in text
    assert (
        "plan: 3 accounts: 0 in order, 3 with changes, 0 refused, 0 failed; exit 2." in run.stderr
    )
    for secret in fleet.secrets():
        assert secret not in run.output


def test_one_account_s_failure_never_stops_the_others_and_exit_1_wins(
    fleet: Fleet, tmp_path: Path
) -> None:
    paths = _paths(fleet, tmp_path)
    # globex's key is acme's: the simulator refuses it (401)
    fleet.write(tmp_path, "globex", key="KEY_ACME")
    run = _run(fleet, "drift", *paths)
    assert run.code == 1, run.output
    groups = _groups(run.stdout)
    assert "Error:" in groups["globex"] and "401" in groups["globex"]
    assert "outbound:wakeup" in groups["acme"] and "outbound:wakeup" in groups["initech"]


def test_most_severe_code_refused_over_changes(fleet: Fleet, tmp_path: Path) -> None:
    pool = (
        "numbers:\n  pools:\n    london:\n      country: United Kingdom\n      region: London\n"
        "      did_type: geographic\n      count: 9\n"
    )
    paths = _paths(fleet, tmp_path)
    fleet.write(tmp_path, "initech", extra=pool, max_purchase=1)
    run = _run(fleet, "plan", *paths, "--detailed-exitcode")
    assert run.code == 3, run.output
    assert "max_purchase" in _groups(run.stdout)["initech"]


def test_apply_several_accounts_each_with_its_own_journal_lock_and_state(
    fleet: Fleet, tmp_path: Path
) -> None:
    paths = _paths(fleet, tmp_path)
    run = _run(fleet, "apply", *paths, "--yes", "--parallel", "2")
    assert run.code == 0, run.output
    for name in NAMES:
        assert fleet.voice(name) == VOICE
        journal = tmp_path / ".reconciler" / "accounts" / name / "journal.jsonl"
        assert journal.is_file()
        assert "wakeup" in journal.read_text()
    # the primary account was not touched; no top-level journal
    assert fleet.sim.state.services["outbound"] == {}
    assert not (tmp_path / ".reconciler" / "journal.jsonl").exists()
    again = _run(fleet, "plan", *paths, "--detailed-exitcode")
    assert again.code == 0, again.output


def test_apply_without_yes_and_without_a_terminal_changes_nothing(
    fleet: Fleet, tmp_path: Path
) -> None:
    run = _run(fleet, "apply", *_paths(fleet, tmp_path))
    assert run.code == 1
    assert "--yes" in run.stderr
    for name in NAMES:
        assert fleet.voice(name) != VOICE


def test_plan_out_dir_then_apply_plan_dir(fleet: Fleet, tmp_path: Path) -> None:
    paths = _paths(fleet, tmp_path)
    plans = tmp_path / "plans"
    run = _run(fleet, "plan", *paths, "--out", str(plans))
    assert run.code == 0, run.output
    assert sorted(p.name for p in plans.iterdir()) == [f"{n}.plan.json" for n in NAMES]
    assert f"Saved 3 plans in {plans}" in run.stderr
    applied = _run(fleet, "apply", *paths, "--plan", str(plans), "--yes")
    assert applied.code == 0, applied.output
    assert all(fleet.voice(n) == VOICE for n in NAMES)


def test_apply_plan_dir_with_a_stale_account_refuses_only_that_one(
    fleet: Fleet, tmp_path: Path
) -> None:
    paths = _paths(fleet, tmp_path)
    plans = tmp_path / "plans"
    assert _run(fleet, "plan", *paths, "--out", str(plans)).code == 0
    # someone changes acme's service by hand after the plan
    fleet.accounts["acme"].state.services["outbound"]["wakeup"]["rest"]["tts_voice"] = "x"
    run = _run(fleet, "apply", *paths, "--plan", str(plans), "--yes")
    assert run.code == 1, run.output
    groups = _groups(run.stdout)
    assert "Error:" in groups["acme"]
    assert fleet.voice("acme") == "x"
    assert fleet.voice("globex") == VOICE and fleet.voice("initech") == VOICE


def test_apply_plan_dir_is_a_directory(fleet: Fleet, tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}")
    run = _run(fleet, "apply", *_paths(fleet, tmp_path), "--plan", "plan.json", "--yes")
    assert run.code == 1
    assert "directory" in run.stderr


def test_two_paths_of_one_account_name_fail_before_any_read(fleet: Fleet, tmp_path: Path) -> None:
    first = fleet.write(tmp_path, "acme")
    (tmp_path / "eu").mkdir()
    second = fleet.write(tmp_path / "eu", "acme")
    calls = len(fleet.sim.calls)
    run = _run(fleet, "drift", str(first), str(second))
    assert run.code == 1
    assert "both the account 'acme'" in run.stderr
    assert len(fleet.sim.calls) == calls


def test_shards_with_reports_cover_the_fleet_and_merge(fleet: Fleet, tmp_path: Path) -> None:
    paths = _paths(fleet, tmp_path)
    fleet.settle("globex")
    dirs = []
    for k in (1, 2):
        out = tmp_path / f"reports-{k}"
        run = _run(fleet, "drift", *paths, "--shard", f"{k}/2", "--report-dir", str(out))
        assert run.code in (0, 2), run.output
        dirs.append(out)
    names = sorted(p.stem for d in dirs for p in d.glob("*.json"))
    assert names == sorted(NAMES)
    schema = json.loads(schema_file("report.schema.json").read_text())
    for d in dirs:
        for p in d.glob("*.json"):
            report = json.loads(p.read_text())
            jsonschema.validate(report, schema)
            assert report["command"] == "drift" and report["shard"] in ("1/2", "2/2")
    by_name = {p.stem: json.loads(p.read_text()) for d in dirs for p in d.glob("*.json")}
    assert by_name["globex"]["outcome"] == "ok" and by_name["acme"]["outcome"] == "changes"
    assert by_name["acme"]["drift"] and by_name["acme"]["exit_code"] == 2

    metrics, junit = tmp_path / "m.prom", tmp_path / "j.xml"
    merged = _run(
        fleet,
        "report",
        *map(str, dirs),
        "--format",
        "markdown",
        "--metrics",
        str(metrics),
        "--junit",
        str(junit),
    )
    assert merged.code == 2, merged.output
    assert "3 accounts, 2 drifted" in merged.stdout
    assert "`acme`" in merged.stdout and "`globex`" not in merged.stdout

    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    parsed = text_string_to_metric_families(metrics.read_text())  # type: ignore[no-untyped-call]
    families = {f.name: f for f in parsed}
    drifted = {
        s.labels["account"]: s.value for s in families["reconciler_drifted_resources"].samples
    }
    assert drifted["globex"] == 0 and drifted["acme"] >= 1
    success = families["reconciler_last_run_success"].samples
    assert {s.labels["account"] for s in success} == set(NAMES)

    suite = ElementTree.parse(junit).getroot()
    cases = {c.get("name", ""): c for c in suite.iter("testcase")}
    assert sorted(cases) == sorted(NAMES)
    assert cases["acme"].find("failure") is not None
    assert cases["globex"].find("failure") is None

    as_json = _run(fleet, "report", *map(str, dirs), "--format", "json")
    doc = json.loads(as_json.stdout)
    assert doc["exit_code"] == 2 and doc["accounts"] == 3
    assert sorted(doc["outcomes"]["changes"]) == ["acme", "initech"]


def test_report_of_an_error_keeps_message_and_hint_without_secrets(
    fleet: Fleet, tmp_path: Path
) -> None:
    paths = _paths(fleet, tmp_path)
    fleet.write(tmp_path, "initech", key="KEY_ACME")
    out = tmp_path / "reports"
    run = _run(fleet, "plan", *paths, "--report-dir", str(out))
    assert run.code == 1
    report = json.loads((out / "initech.json").read_text())
    assert report["outcome"] == "error" and report["exit_code"] == 1
    assert report["error"]["message"] and report["error"]["hint"]
    text = "".join(p.read_text() for p in out.iterdir())
    for secret in fleet.secrets():
        assert secret not in text


def test_report_of_a_damaged_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "acme.json").write_text('{"format": "reconciler-account-report"}')
    run = reconciler("report", str(tmp_path / "r"))
    assert run.code == 1
    assert "acme.json" in run.stderr and "hint:" in run.stderr


def test_json_output_of_a_fleet_is_one_document(fleet: Fleet, tmp_path: Path) -> None:
    paths = _paths(fleet, tmp_path)
    fleet.write(tmp_path, "globex", key="KEY_ACME")
    run = _run(fleet, "drift", *paths, "--format", "json")
    doc = json.loads(run.stdout)
    assert doc["exit_code"] == 1 == run.code
    by_name = {a["account"]: a for a in doc["accounts"]}
    assert by_name["globex"]["error"]["message"]
    assert by_name["acme"]["exit_code"] == 2 and "result" in by_name["acme"]


def test_validate_several_paths_offline(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nnumbers: {pools: {x: {count: -1}}}\n")
    run = reconciler("validate", str(good), str(bad))
    assert run.code == 1
    groups = _groups(run.stdout)
    assert "bad.yaml:" in groups["bad"] and "error" in groups["bad"]


def test_simulate_hosts_each_account_with_its_own_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    quickstart = Path(__file__).parents[2] / "examples" / "quickstart.yaml"
    paths = []
    for name in ("north", "south"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(quickstart.read_text())
        paths.append(str(path))
    applied = reconciler("apply", paths[0], "--simulate", "--yes", "--report-dir", "r")
    assert applied.code == 0, applied.output
    run = reconciler("plan", *paths, "--simulate", "--detailed-exitcode")
    assert run.code == 2, run.output
    # a report-dir run of one PATH keeps the one-account layout
    assert (tmp_path / ".reconciler" / "simulator.json").is_file()
    for name in ("north", "south"):
        assert (tmp_path / ".reconciler" / "accounts" / name / "simulator.json").is_file()
    assert reconciler("apply", *paths, "--simulate", "--yes").code == 0
    assert reconciler("plan", *paths, "--simulate", "--detailed-exitcode").code == 0


def test_drift_out_dir_keeps_each_account_s_full_report(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "drift"
    run = _run(fleet, "drift", *_paths(fleet, tmp_path), "--out", str(out))
    assert run.code == 2, run.output
    assert sorted(p.name for p in out.iterdir()) == [f"{n}.drift.json" for n in NAMES]
    assert "wakeup" in (out / "acme.drift.json").read_text()


def test_two_paths_naming_one_account_are_both_refused_before_any_write(
    fleet: Fleet, tmp_path: Path
) -> None:
    # Applied as two accounts, each would buy for the same account with its own journal and
    # lock, blind to the other's purchases.
    acme = fleet.write(tmp_path, "acme")
    copy = tmp_path / "acme-again.yaml"
    copy.write_text(acme.read_text(encoding="utf-8"), encoding="utf-8")
    other = fleet.write(tmp_path, "globex")
    before = fleet.voice("acme")
    run = _run(fleet, "apply", str(acme), str(copy), str(other), "--yes")
    assert run.code == 1, run.output
    assert "acme-again" in run.output and "same Aculab Cloud account" in run.output
    assert fleet.voice("acme") == before  # nothing applied to either
    assert fleet.voice("globex") == VOICE  # the other account went ahead


def test_plan_out_dir_says_only_what_it_saved(fleet: Fleet, tmp_path: Path) -> None:
    good = fleet.write(tmp_path, "acme")
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nnot_a_key: 1\n", encoding="utf-8")
    plans = tmp_path / "plans"
    run = _run(fleet, "plan", str(good), str(bad), "--out", str(plans))
    assert run.code == 1, run.output
    assert "Saved 1 plan in" in run.stderr and "1 account failed" in run.stderr
    both_bad = _run(fleet, "plan", str(bad), str(tmp_path / "missing.yaml"), "--out", str(plans))
    assert both_bad.code == 1 and "Saved" not in both_bad.stderr, both_bad.output
