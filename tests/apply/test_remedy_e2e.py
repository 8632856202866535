"""End to end: what a failure's hint says to do.

A hint never suggests running again what can only fail again: a purchase refused for its
location, its stock or its regulation address says what to change first; a 5xx says that a
re-run can help. The vendor's advice to set ``allow_partial`` (no key of the YAML) is not
passed on. Pre-flight spells a location as the server lists it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .e2e import cli, explain, pool_yaml, serve

pytestmark = pytest.mark.e2e


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    return path


def test_a_country_that_needs_a_regulation_address_says_to_add_one(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = _write(
            tmp_path,
            pool_yaml(
                served.running.base_url,
                "    paris: {country: France, region: Paris, count: 1}\n",
            ),
        )

        result = cli(tmp_path, "apply", str(path), "--yes")

        assert result.returncode == 1, explain(result)
        line = next(x for x in result.stdout.splitlines() if "FAILED" in x)
        assert "pool:paris" in line
        assert "change first" in line and "regulation_address" in line
        assert "run `reconciler apply" not in result.stderr  # it can only fail again
        assert "change first" in result.stderr
        assert served.purchased() == []


def test_a_purchase_larger_than_the_stock_says_to_lower_the_count(tmp_path: Path) -> None:
    with serve("empty") as served:
        pool = "    oakbank: {country: Canada, state: Manitoba, region: Oakbank, count: 5}\n"
        path = _write(tmp_path, pool_yaml(served.running.base_url, pool))

        result = cli(tmp_path, "apply", str(path), "--yes")

        assert result.returncode == 1, explain(result)
        output = result.stdout + result.stderr
        assert "lower the pool's count" in output
        assert "allow_partial" not in output  # the vendor's advice: no key of the YAML
        assert "run `reconciler apply" not in result.stderr
        assert served.purchased() == []


def test_a_region_spelt_otherwise_than_the_server_lists_it_fails_the_plan(
    tmp_path: Path,
) -> None:
    with serve("empty") as served:
        pool = "    london: {country: United Kingdom, region: LONDON, count: 1}\n"
        path = _write(tmp_path, pool_yaml(served.running.base_url, pool))

        plan = cli(tmp_path, "plan", str(path))
        apply = cli(tmp_path, "apply", str(path), "--yes")

        for result in (plan, apply):
            assert result.returncode == 1, explain(result)
            assert f"{path}:9:5: pool london: region 'LONDON'" in result.stderr
            assert "did you mean 'London'?" in result.stderr
        assert served.purchased() == []
