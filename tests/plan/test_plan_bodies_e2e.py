"""End to end: every body a plan would write is checked against the server's schema.

The real CLI against the simulator over HTTP: a body the server would refuse fails ``plan``
(exit 1) at the file:line:column of the offending key, ``apply`` refuses it before buying
anything, and ``validate`` finds the same problems offline against the shipped copies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apply.e2e import Served, cli, desired_yaml, explain, serve

pytestmark = pytest.mark.e2e

LONG = "x" * 300
AS_TEXT = 'rest: "https://app.example.com/as-text"'

# Each mistake of the issue, on its own line, so the tests can name the place.
TEMPLATE = """\
  typo-app:
    application_type: REST
    rest:
      first_page: {adress: "https://app.example.com/typo"}
"""
MISTAKES = """\
inbound_services:
  typo-sip:
    template: typo-app
  long-sip:
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/long"}}
    description: "LONG"
outbound_services:
  duration:
    service_password: ${WAKEUP_PASSWORD}
    application_type: REST
    rest:
      first_page: {address: "https://app.example.com/duration"}
      max_call_duration: "sixty"
  as-text:
    service_password: ${WAKEUP_PASSWORD}
    application_type: REST
    rest: "https://app.example.com/as-text"
""".replace("LONG", LONG)


def _bad(tmp_path: Path, served: Served) -> Path:
    base = desired_yaml(served)
    # The mistakes replace the base's services: one inbound_services/outbound_services each.
    head = base[: base.index("inbound_services:")]
    path = tmp_path / "desired.yaml"
    path.write_text(head.replace("templates:\n", "templates:\n" + TEMPLATE) + MISTAKES)
    return path


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(text)


def _expected_places(path: Path) -> dict[str, str]:
    return {
        "adress": f"{path}:{_line_of(path, 'adress')}:20",
        "description": f"{path}:{_line_of(path, LONG)}:5",
        "max_call_duration": f"{path}:{_line_of(path, 'max_call_duration')}:7",
        "as-text": f"{path}:{_line_of(path, AS_TEXT)}:5",
    }


def test_plan_fails_on_every_body_the_server_would_refuse_at_its_key(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = _bad(tmp_path, served)

        result = cli(tmp_path, "plan", str(path))

        assert result.returncode == 1, explain(result)
        places = _expected_places(path)
        err = result.stderr
        assert f"{places['adress']}: inbound service typo-sip: rest.first_page.adress" in err
        assert "did you mean 'address'?" in err
        assert f"{places['description']}: inbound service long-sip: description" in err
        assert f"{places['max_call_duration']}: outbound service duration: " in err
        assert f"{places['as-text']}: outbound service as-text: rest:" in err
        assert "server's" in err
        assert LONG not in err  # the value isn't quoted back whole
        # The schema of each kind is read once.
        reads = [c.path for c in served.sim.calls if c.path.startswith("/service/v1/schema/")]
        assert sorted(reads) == ["/service/v1/schema/inbound", "/service/v1/schema/outbound"]


def test_apply_refuses_before_it_buys_anything(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = _bad(tmp_path, served)

        result = cli(tmp_path, "apply", str(path), "--yes")

        assert result.returncode == 1, explain(result)
        assert "rest.first_page.adress" in result.stderr
        assert served.purchased() == []
        assert served.writes() == []


def test_a_pool_inbound_body_is_checked_before_its_numbers_are_bought(tmp_path: Path) -> None:
    with serve("empty") as served:
        text = desired_yaml(served).replace(
            'first_page: {address: "https://app.example.com/support/first"}',
            'first_page: {address: "https://app.example.com/support/first", method: PUT}',
        )
        path = tmp_path / "desired.yaml"
        path.write_text(text)

        plan = cli(tmp_path, "plan", str(path))
        apply = cli(tmp_path, "apply", str(path), "--yes")

        line = _line_of(path, "method: PUT")
        column = path.read_text().splitlines()[line - 1].index("method") + 1
        for result in (plan, apply):
            assert result.returncode == 1, explain(result)
            assert (
                f"{path}:{line}:{column}: inbound service <new numbers of pool london-support>: "
                "rest.first_page.method" in result.stderr
            )
        assert served.purchased() == []
        assert served.writes() == []


def test_a_plan_with_nothing_to_write_reads_no_schema(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served))
        first = cli(tmp_path, "apply", str(path), "--yes")
        assert first.returncode == 0, explain(first)
        served.sim.calls.clear()

        again = cli(tmp_path, "plan", str(path), "--detailed-exitcode")

        assert again.returncode == 0, explain(again)
        assert not [c for c in served.sim.calls if c.path.startswith("/service/v1/schema/")]


def test_validate_finds_the_same_bodies_offline_and_says_the_server_decides(
    tmp_path: Path,
) -> None:
    with serve("empty") as served:
        path = _bad(tmp_path, served)
        served.sim.calls.clear()

        result = cli(tmp_path, "validate", str(path))

        assert result.returncode == 1, explain(result)
        assert served.sim.calls == []  # offline
        places = _expected_places(path)
        for key, place in places.items():
            assert f"{place}: error: " in result.stdout, (key, result.stdout)
        assert "the server's own schema decides" in result.stdout


def test_validate_leaves_a_merge_services_missing_options_to_the_live_one(
    tmp_path: Path,
) -> None:
    # mode: merge only changes what it declares: a REST service that declares only its
    # description is valid offline (its first page is on the account).
    path = tmp_path / "desired.yaml"
    path.write_text(
        """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
inbound_services:
  sales-sip:
    application_type: REST
    description: Sales
"""
    )

    result = cli(tmp_path, "validate", str(path), "--simulate")

    assert result.returncode == 0, explain(result)
