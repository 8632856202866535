"""One simulator hosts many accounts: each answers only to its own credentials and keeps its
own state (reconciler/simulator/simulator.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.simulator import Simulator, fleet_credentials

pytestmark = pytest.mark.e2e


def test_each_hosted_account_answers_to_its_own_credentials_only(tmp_path: Path) -> None:
    sim = Simulator(seed="empty")
    acme = sim.add_account("acme", seed="demo", state_file=tmp_path / "acme.json")
    globex = sim.add_account("globex", seed="empty")
    assert sim.add_account("acme") is acme
    with sim.serve() as running:
        url = running.base_url + "/service/v1/outbound"

        def names(user: str, key: str) -> int | list[str]:
            reply = httpx.get(url, auth=(user, key))
            if reply.status_code != 200:
                return reply.status_code
            return sorted(s["name"] for s in reply.json()["services"])

        a, g = acme.credentials, globex.credentials
        assert names(a.basic_username, a.api_key) == ["wakeup"]
        assert names(g.basic_username, g.api_key) == []
        assert names(a.basic_username, g.api_key) == 401  # another account's key
        delete = httpx.delete(url + "/wakeup", auth=(a.basic_username, a.api_key))
        assert delete.status_code == 204
        assert "wakeup" not in acme.state.services["outbound"]
        # saved to acme's own file, nobody else's
        assert b"wakeup" not in (tmp_path / "acme.json").read_bytes()
        aql = httpx.post(
            running.aql_url,
            data={"username": g.aql_username, "password": a.aql_password, "command": "query"},
        )
        assert aql.text.startswith("401")


def test_credentials_of_two_accounts_never_collide() -> None:
    sim = Simulator()
    sim.add_account("a")
    with pytest.raises(ValueError):
        sim.add_account("b", fleet_credentials("a"))


def test_each_hosted_account_has_its_own_rate_limit() -> None:
    from reconciler.simulator import Faults

    sim = Simulator(seed="empty", faults=Faults(rate_limit_per_s=0.01, rate_limit_burst=2))
    accounts = [sim.add_account(name) for name in ("acme", "globex")]
    with sim.serve() as running:
        url = running.base_url + "/service/v1/outbound"
        for account in accounts:
            c = account.credentials
            codes = [httpx.get(url, auth=(c.basic_username, c.api_key)).status_code for _ in "abc"]
            # two in the burst, the third past it: one account's calls don't use the other's
            assert codes == [200, 200, 429]
