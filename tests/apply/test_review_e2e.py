"""End to end, from a safety review: ways a second apply could buy again or act on a
wrong view, each run through the real CLI against the simulator over 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.simulator import Faults

from .e2e import cli, explain, pool_yaml, serve

pytestmark = pytest.mark.e2e


def test_a_tollfree_pool_that_names_a_state_is_bought_once(tmp_path: Path) -> None:
    # The vendor keeps states for geographic numbers only: a toll-free number bought with
    # `state: California` is listed without a state. The pool must still recognise it,
    # or every apply buys one more number.
    with serve("empty") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(
            pool_yaml(
                served.running.base_url,
                """\
    us-tollfree:
      country: United States
      state: California
      region: "800"
      did_type: tollfree
      allow_landline: true
      count: 1
""",
            )
        )
        first = cli(tmp_path, "apply", str(path), "--yes")
        assert first.returncode == 0, explain(first)

        second = cli(tmp_path, "apply", str(path), "--yes")

        assert second.returncode == 0, explain(second)
        assert len(served.purchased()) == 1, explain(second)
        assert "No changes" in second.stdout


def test_a_number_still_in_list_lag_keeps_its_inbound_service_under_prune(
    tmp_path: Path,
) -> None:
    # A second apply right after the first plans while the list still hides the new
    # number: its (listed) inbound service looks undeclared and prune plans to delete it.
    # Apply finds the number in the pool and must leave its service alone.
    with serve("empty", Faults(list_lag_s=10)) as served:
        path = tmp_path / "desired.yaml"
        path.write_text(
            pool_yaml(
                served.running.base_url,
                """\
    london:
      country: United Kingdom
      region: London
      count: 1
      inbound: {application_type: REST, rest: {first_page: {address: "https://a.example.com/x"}}}
prune:
  inbound_services: true
""",
            )
        )
        first = cli(tmp_path, "apply", str(path), "--yes")
        assert first.returncode == 0, explain(first)

        second = cli(tmp_path, "apply", str(path), "--yes", "--force")

        [number] = served.purchased()
        # The journal's ledger makes the number the pool's in the plan too: nothing to delete.
        assert f"inbound:{number}" not in second.stdout, explain(second)
        assert "1 bought, waiting for the account to list them" in second.stdout + second.stderr
        assert number in served.sim.state.services["inbound"], explain(second)
