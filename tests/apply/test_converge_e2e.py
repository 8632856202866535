"""End to end: apply converges on a server that isn't ours.

``mode: replace`` converges whether or not the server's schema carries ``default`` keywords
(the vendor's pages show none), and still finds a hand edit of an option the YAML doesn't
declare. After each write, the server's answer is compared with what the plan expected: a
server that stores something else (here: one that lower-cases a URL's host) is named in the
apply report, text and JSON, and in the journal, with what to declare.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator import Simulator
from reconciler.simulator.dialect import Dialect

from .e2e import Served, cli, desired_yaml, explain

pytestmark = pytest.mark.e2e

REPLACE = """\
  alarm:
    mode: replace
    service_password: ${WAKEUP_PASSWORD}
    application_type: REST
    description: Alarm calls
    rest:
      first_page: {address: "https://app.example.com/alarm"}
      tts_voice: English US Female Polly Joanna
"""


@contextlib.contextmanager
def serve(*modes: str) -> Iterator[Served]:
    sim = Simulator(seed="empty", dialect=Dialect.from_modes(modes))
    with sim.serve() as running:
        yield Served(sim, running)


def _with_replace(served: Served) -> str:
    return desired_yaml(served) + REPLACE


@pytest.mark.parametrize("modes", [(), ("no-schema-defaults",)], ids=["defaults", "no-defaults"])
def test_replace_mode_converges_with_or_without_schema_defaults(
    tmp_path: Path, modes: tuple[str, ...]
) -> None:
    with serve(*modes) as served:
        path = tmp_path / "desired.yaml"
        path.write_text(_with_replace(served))

        first = cli(tmp_path, "apply", str(path), "--yes")
        assert first.returncode == 0, explain(first)
        writes = len(served.writes())

        again = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        assert again.returncode == 0, explain(again)
        second = cli(tmp_path, "apply", str(path), "--yes")
        assert second.returncode == 0, explain(second)
        assert len(served.writes()) == writes  # nothing written again
        drift = cli(tmp_path, "drift", str(path))
        assert drift.returncode == 0, explain(drift)
        if modes:
            assert "outbound schema has no default values" in again.stdout

        # A hand edit of an option the YAML doesn't declare is still found, and undone.
        served.sim.state.services["outbound"]["alarm"]["g729"] = True
        found = cli(tmp_path, "drift", str(path))
        assert found.returncode == 2, explain(found)
        assert "g729" in found.stdout
        fixed = cli(tmp_path, "apply", str(path), "--yes")
        assert fixed.returncode == 0, explain(fixed)
        assert served.sim.state.services["outbound"]["alarm"]["g729"] is False


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_value_the_server_stores_otherwise_is_named_at_once(tmp_path: Path, fmt: str) -> None:
    with serve("normalise") as served:
        written = "https://App.Example.com/sales"
        text = desired_yaml(served).replace("https://app.example.com/sales", written)
        path = tmp_path / "desired.yaml"
        path.write_text(text)

        applied = cli(tmp_path, "apply", str(path), "--yes", "--format", fmt)

        assert applied.returncode == 0, explain(applied)
        stored = served.sim.state.services["inbound"]["sales-sip"]["rest"]["first_page"]
        assert stored["address"] == "https://app.example.com/sales"
        if fmt == "json":
            report = json.loads(applied.stdout)
            [result] = [r for r in report["results"] if r["address"] == "inbound:sales-sip"]
            [difference] = result["differences"]
        else:
            lines = applied.stdout.split("\nApplied:\n", 1)[1].splitlines()
            at = next(i for i, x in enumerate(lines) if "inbound:sales-sip" in x)
            difference = lines[at + 1]
            assert "the server stored otherwise" in difference
        assert "rest.first_page.address" in difference
        assert '"https://app.example.com/sales"' in difference and written in difference
        assert "ignore_changes" in difference
        # Every other write stored what was written.
        differing = [x for x in applied.stdout.splitlines() if "stored otherwise" in x]
        assert len(differing) <= 1

        journal = tmp_path / ".reconciler" / "journal.jsonl"
        outcomes = [json.loads(line) for line in journal.read_text().splitlines()]
        noted = [e for e in outcomes if e.get("differences")]
        assert len(noted) == 1 and "rest.first_page.address" in noted[0]["differences"][0]
