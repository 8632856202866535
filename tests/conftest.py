"""Shared fixtures. Tests talk only to 127.0.0.1; no network beyond loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Every test runs in a directory of its own: reconciler keeps its journal, lock and
    # simulated account in ./.reconciler/, and a journal left in the checkout (by `make demo`,
    # or by another test) would otherwise be read as this test's purchase ledger.
    monkeypatch.chdir(tmp_path)
    yield
