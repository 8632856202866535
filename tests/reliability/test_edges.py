"""Safety at the edges: the regressions of the adversarial review, end to end.

Each test runs the real CLI against the simulator over HTTP on 127.0.0.1 (the demo account:
441908538007 in Milton Keynes, 12045550142 in Winnipeg, ...) and fails without its fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator import SimCredentials, Simulator

from .support import Run, account_yaml, assert_clean, run_cli

pytestmark = pytest.mark.e2e

API_KEY = "EDGE-api-key-7c1e"
AQL_PASSWORD = "EDGE-aql-password-2b9f"
ENVIRON = {"ACULAB_API_KEY": API_KEY, "AQL_PASSWORD": AQL_PASSWORD}


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, str, str]]:
    simulator = Simulator(
        seed="demo", credentials=SimCredentials(api_key=API_KEY, aql_password=AQL_PASSWORD)
    )
    with simulator.serve() as running:
        yield simulator, running.base_url, running.aql_url


def _write(tmp_path: Path, sim: tuple[Simulator, str, str], body: str) -> str:
    _, base, aql = sim
    path = tmp_path / "desired.yaml"
    path.write_text(account_yaml(base, aql, body))
    return str(path)


def _run(tmp_path: Path, *args: str) -> Run:
    run = run_cli(tmp_path, *args, environ=ENVIRON)
    assert_clean(run, " ".join(args))
    return run


# --------------------------------------------------------------------------- numbers


def test_a_number_written_as_people_write_it_in_prune_ignore_protects_it(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    path = _write(
        tmp_path,
        sim,
        'prune: {numbers: true, ignore: ["+44 1908 538007", "+1 (204) 555-*", "1587 315 5555"]}\n'
        "safety: {max_delete_percent: 100}\n",
    )
    run = _run(tmp_path, "apply", path, "--yes", "--allow-release")
    assert run.code == 0, run.explain()
    owned = set(simulator.state.numbers)
    assert {"441908538007", "12045550142", "15873155555"} <= owned, run.explain()
    # What no glob protects is released: the prune itself works.
    assert "442079460123" not in owned and "442079460456" not in owned


def test_prune_ignore_takes_the_addresses_the_plan_shows(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    path = _write(
        tmp_path,
        sim,
        'prune: {numbers: true, ignore: ["number:441908538007", "number:+1 204 555 0142", '
        '"inbound:*", "number:1587*"]}\n'
        "safety: {max_delete_percent: 100}\n",
    )
    run = _run(tmp_path, "apply", path, "--yes", "--allow-release")
    assert run.code == 0, run.explain()
    owned = set(simulator.state.numbers)
    assert {"441908538007", "12045550142", "15873155555"} <= owned, run.explain()
    assert "442079460123" not in owned and "442079460456" not in owned


def test_a_prune_ignore_number_that_could_protect_nothing_is_refused_at_its_place(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    before = set(simulator.state.numbers)
    path = _write(
        tmp_path,
        sim,
        'prune: {numbers: true, ignore: ["+44 01908 538007", "00441908538007"]}\n',
    )
    run = run_cli(tmp_path, "apply", path, "--yes", "--allow-release", environ=ENVIRON)
    assert run.code == 1, run.explain()
    assert "trunk 0" in run.stderr and "international prefix 00" in run.stderr
    assert run.stderr.count("write 441908538007") == 1 and "(441908538007)" in run.stderr
    assert set(simulator.state.numbers) == before  # nothing released


def test_a_number_with_an_area_code_in_parentheses_is_a_number(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    path = _write(tmp_path, sim, 'numbers:\n  pinned:\n    "+1 (204) 555-0142": {}\n')
    run = _run(tmp_path, "plan", path, "--detailed-exitcode")
    assert run.code == 0, run.explain()


def test_a_pin_with_a_trunk_zero_says_which_account_number_it_probably_means(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    path = _write(tmp_path, sim, 'numbers:\n  pinned:\n    "+44 01908 538007": {}\n')
    run = _run(tmp_path, "plan", path)
    assert run.code == 1, run.explain()
    assert "4401908538007" in run.stderr and "did you mean 441908538007" in run.stderr
    assert "bought back" not in run.stderr, run.explain()


# --------------------------------------------------------------------------- safety limits


def test_new_services_never_dilute_a_prune_of_every_live_service(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    before = set(simulator.state.services["inbound"])
    assert len(before) == 3
    declared = "".join(
        f"  new-{i}: {{application_type: REST, rest: {{first_page: {{address: "
        f'"https://app.example.com/{i}"}}}}}}\n'
        for i in range(30)
    )
    path = _write(
        tmp_path, sim, f"inbound_services:\n{declared}prune: {{inbound_services: true}}\n"
    )
    run = _run(tmp_path, "apply", path, "--yes")
    assert run.code == 3, run.explain()
    assert "deletes every inbound service on the account (3 services)" in run.stderr
    assert set(simulator.state.services["inbound"]) == before  # nothing was done
    assert _run(tmp_path, "apply", path, "--yes", "--force").code == 0


def test_one_update_of_a_small_account_needs_no_force(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    path = _write(tmp_path, sim, "inbound_services:\n  sales-sip: {description: Sales desk}\n")
    run = _run(tmp_path, "apply", path, "--yes")  # 1 update of the 1 service managed: 100%
    assert run.code == 0, run.explain()
    assert simulator.state.services["inbound"]["sales-sip"]["description"] == "Sales desk"


# --------------------------------------------------------------------------- partial views


class _ListedWithout(dict[str, Any]):
    """A kind's services, as a service list that lags (or is cut short) shows them: one name
    is left out of ``items()`` (the list), while a read of it still finds it."""

    hidden: str = ""

    def items(self) -> Any:
        return [(k, v) for k, v in super().items() if k != self.hidden]


def _hide_from_the_list(simulator: Simulator, name: str) -> _ListedWithout:
    """The simulator's inbound services, with ``name`` left out of the list."""
    inbound = _ListedWithout(simulator.state.services["inbound"])
    inbound.hidden = name
    simulator.state.services["inbound"] = inbound
    return inbound


def test_a_create_never_writes_over_a_service_the_list_did_not_show(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    inbound = _hide_from_the_list(simulator, "sales-sip")
    before = dict(inbound["sales-sip"])
    path = _write(tmp_path, sim, "inbound_services:\n  sales-sip: {description: Sales desk}\n")

    planned = _run(tmp_path, "plan", path)
    assert "+ inbound:sales-sip" in planned.stdout, planned.explain()  # the list misled it
    run = _run(tmp_path, "apply", path, "--yes")

    assert run.code == 0, run.explain()
    assert "it exists although the service list did not show it" in run.stdout, run.explain()
    # mode: merge: the declared option is set, every other setting is as it was (a PUT
    # would have reset them to the server's defaults).
    after = dict(inbound["sales-sip"])
    assert after == {**before, "description": "Sales desk"}
    assert not [c for c in simulator.calls if c.method == "PUT"], run.explain()


def test_a_replace_create_of_a_service_the_list_did_not_show_replaces_it_in_one_call(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    inbound = _hide_from_the_list(simulator, "sales-sip")
    path = _write(
        tmp_path,
        sim,
        "inbound_services:\n  sales-sip: {mode: replace, description: Sales desk}\n",
    )
    planned = _run(tmp_path, "plan", path)
    assert "+ inbound:sales-sip" in planned.stdout, planned.explain()  # the list misled it
    simulator.calls.clear()

    run = _run(tmp_path, "apply", path, "--yes")

    assert run.code == 0, run.explain()
    # mode: replace: the declaration is the whole configuration, so the PUT is the same call
    # whether the service exists or not; its 200 says it existed.
    assert "replaced (PUT): it exists although the service list did not show it" in run.stdout
    service_calls = [(c.method, c.path) for c in simulator.calls if "sales-sip" in c.path]
    assert service_calls == [("PUT", "/service/v1/inbound/sales-sip")], service_calls
    assert inbound["sales-sip"]["description"] == "Sales desk"
    assert _run(tmp_path, "plan", path).code == 0


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_create_reads_the_name_first_only_in_merge_mode(
    sim: tuple[Simulator, str, str], tmp_path: Path, mode: str
) -> None:
    simulator = sim[0]
    path = _write(
        tmp_path, sim, f"inbound_services:\n  new-desk: {{mode: {mode}, description: New}}\n"
    )
    simulator.calls.clear()

    run = _run(tmp_path, "apply", path, "--yes")

    assert run.code == 0, run.explain()
    assert "+ inbound:new-desk: created" in run.stdout, run.explain()
    service_calls = [c.method for c in simulator.calls if c.path.endswith("/new-desk")]
    assert service_calls == (["GET", "PUT"] if mode == "merge" else ["PUT"]), service_calls
    assert simulator.state.services["inbound"]["new-desk"]["description"] == "New"


# --------------------------------------------------------------------------- names


def test_an_empty_or_null_service_name_is_an_error(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        sim,
        'inbound_services:\n  "": {description: x}\n  ~: {description: y}\n'
        '  "desk\\u200b": {description: z}\n',
    )
    run = run_cli(tmp_path, "validate", path, environ=ENVIRON)
    assert run.code == 1, run.explain()
    assert "inbound service name '' is empty" in run.stdout
    assert "inbound service name '~' is YAML's null" in run.stdout
    assert "inbound service name 'desk\\u200b' holds a character a terminal would hide" in (
        run.stdout
    )


@pytest.mark.parametrize("name", ["a/b", "../outbound/wakeup", "..", ".", "a?b=1", "a#b"])
def test_a_service_name_that_is_no_url_path_segment_is_an_error(
    sim: tuple[Simulator, str, str], tmp_path: Path, name: str
) -> None:
    # Each planned as a create, then apply's PUT reached another URL or a 404 ("it does not
    # exist on the account"): the wrong remedy for a create.
    simulator = sim[0]
    path = _write(tmp_path, sim, f'outbound_services:\n  "{name}": {{description: x}}\n')
    run = run_cli(tmp_path, "plan", path, environ=ENVIRON)
    assert run.code == 1, run.explain()
    assert f"outbound service name {name!r}" in run.stderr + run.stdout, run.explain()
    assert "URL" in run.stderr + run.stdout
    assert not [c for c in simulator.calls if c.method != "GET" and "/service/" in c.path]


def test_a_service_name_with_a_leading_space_is_an_error(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    path = _write(tmp_path, sim, 'inbound_services:\n  " sales-sip": {description: x}\n')
    run = run_cli(tmp_path, "validate", path, environ=ENVIRON)
    assert run.code == 1, run.explain()
    assert "starts or ends with a space" in run.stdout


def test_a_live_name_with_control_characters_is_shown_escaped(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    inbound = simulator.state.services["inbound"]
    inbound["sales\x1b[8m"] = dict(inbound["sales-sip"])  # hides what follows it
    inbound["sales\rsip"] = dict(inbound["sales-sip"])  # rewrites its own line
    path = _write(
        tmp_path, sim, "prune: {inbound_services: true}\nsafety: {max_delete_percent: 100}\n"
    )
    run = _run(tmp_path, "plan", path, "--allow-release")
    for fmt in ("text", "markdown", "json"):
        shown = _run(tmp_path, "plan", path, "--format", fmt)
        assert "\x1b" not in shown.stdout and "\r" not in shown.stdout, fmt
        # Escaped (markdown doubles the backslash, which renders as one).
        assert "\\x1b[8m" in shown.stdout and "\\rsip" in shown.stdout, shown.explain()
    assert run.code in (0, 3), run.explain()


def test_a_number_written_as_people_write_it_in_a_drift_rule_silences_it(
    sim: tuple[Simulator, str, str], tmp_path: Path
) -> None:
    simulator = sim[0]
    simulator.state.services["inbound"]["441908538007"]["description"] = "changed by hand"
    body = 'inbound_services:\n  "441908538007": {description: Main line}\n'
    drifted = _run(tmp_path, "drift", _write(tmp_path, sim, body))
    assert drifted.code == 2 and "441908538007" in drifted.stdout, drifted.explain()
    path = _write(
        tmp_path, sim, body + 'drift: {ignore: ["inbound:+44 1908 538007/description"]}\n'
    )
    silenced = _run(tmp_path, "drift", path)
    assert silenced.code == 0, silenced.explain()
