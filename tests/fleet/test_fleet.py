"""Accounts, shards and the most severe exit code (reconciler/fleet.py, reconciler/errors.py)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from reconciler.errors import ConfigError, LiveReadError, most_severe
from reconciler.fleet import Account, Shard, account_name, accounts_of, run_accounts, shard_of


def _fleet(n: int, seed: int = 7) -> list[Account]:
    """A realistic fleet: resellers' customer accounts by region, numbered with gaps."""
    rng = random.Random(seed)
    regions = ["eu", "us", "uk", "apac", "ca"]
    names: set[str] = set()
    while len(names) < n:
        names.add(f"cust-{rng.randrange(1, 5000):04d}-{rng.choice(regions)}")
    return [Account(name, Path(f"accounts/{name}.yaml")) for name in sorted(names)]


def test_account_names_are_file_or_directory_names(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    assert account_name(tmp_path / "acme.yaml") == "acme"
    assert account_name(tmp_path / "globex.yml") == "globex"
    assert account_name(tmp_path / "acme") == "acme"


def test_two_paths_of_one_name_are_an_error_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        accounts_of([Path("eu/acme.yaml"), Path("us/acme.yaml")])
    assert "eu/acme.yaml" in info.value.message and "us/acme.yaml" in info.value.message
    assert info.value.hint


def test_a_name_that_cannot_name_a_file_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        accounts_of([Path("acme corp.yaml")])
    assert "acme corp" in info.value.message


@pytest.mark.parametrize("text", ["", "1", "0/4", "5/4", "a/b", "1/0", "-1/4"])
def test_a_bad_shard_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Shard.parse(text)
    assert "K/N" in (info.value.hint or "")


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 16, 64, 256])
def test_shards_cover_the_fleet_exactly_once_and_are_balanced(total: int) -> None:
    fleet = _fleet(511)
    seen: Counter[str] = Counter()
    sizes = []
    for k in range(1, total + 1):
        shard = shard_of(fleet, Shard(k, total))
        seen.update(a.name for a in shard)
        sizes.append(len(shard))
    assert set(seen) == {a.name for a in fleet} and set(seen.values()) == {1}
    mean = len(fleet) / total
    assert max(sizes) <= 1.2 * mean or max(sizes) - min(sizes) <= 1


def test_a_shard_depends_on_the_names_only_not_on_their_order() -> None:
    fleet = _fleet(100)
    shuffled = list(reversed(fleet))
    for k in range(1, 5):
        mine = {a.name for a in shard_of(fleet, Shard(k, 4))}
        assert mine == {a.name for a in shard_of(shuffled, Shard(k, 4))}


def test_the_shards_are_the_same_on_every_machine() -> None:
    """A fixed answer: the hash is SHA-256 of the name, not Python's salted hash()."""
    fleet = [Account(n, Path(n)) for n in ("acme", "globex", "initech", "umbrella")]
    assert [a.name for a in shard_of(fleet, Shard(1, 2))] == ["globex", "umbrella"]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 0], 0),
        ([0, 2], 2),
        ([2, 3, 0], 3),
        ([3, 1, 2], 1),
        ([1, 0], 1),
        ([], 0),
    ],
)
def test_the_most_severe_code_wins(codes: list[int], expected: int) -> None:
    assert most_severe(codes) == expected


def test_one_account_s_failure_never_stops_another_s() -> None:
    fleet = _fleet(6)
    running = 0
    most = 0

    async def work(account: Account) -> str:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        if account is fleet[1]:
            raise LiveReadError("could not read the live account: HTTP 500")
        if account is fleet[2]:
            raise RuntimeError("a bug")
        return account.name

    done: list[str] = []
    runs = asyncio.run(
        run_accounts(
            fleet, work, lambda _r: 2, parallel=2, on_done=lambda r: done.append(r.account.name)
        )
    )
    assert [r.account for r in runs] == fleet
    assert [r.code for r in runs] == [2, 1, 1, 2, 2, 2]
    assert isinstance(runs[1].error, LiveReadError) and isinstance(runs[2].error, RuntimeError)
    assert sorted(done) == sorted(a.name for a in fleet)
    assert most == 2
