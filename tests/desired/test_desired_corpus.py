"""The bad-input corpus: every file (or directory) under ``bad/`` with the exact diagnostics,
place and message, that ``load`` must report for it (``<case>.expected``, one
``file:line:column: severity: message`` per line, paths relative to ``bad/``).

To add a case: write ``bad/<name>.yaml`` (or a directory), run the loader on it, check every
line by hand, and write them to ``bad/<name>.yaml.expected``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import load
from reconciler.errors import Diagnostic, ValidationFailed

BAD = Path(__file__).parent / "bad"
ENVIRON = {
    "ACULAB_API_KEY": "corpus-api-key-5f3a",
    "AQL_PASSWORD": "corpus-aql-pw-91b2",
    "WAKEUP_PASSWORD": "corpus-wakeup-pw-77c1",
}
CASES = sorted(p for p in BAD.iterdir() if p.suffix != ".expected")


def _diagnostics(case: Path) -> list[Diagnostic]:
    try:
        return load(case, environ=ENVIRON).warnings
    except ValidationFailed as err:
        return err.diagnostics


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert Path(f"{case}.expected").is_file(), f"{case.name} has no .expected file"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_reports_exact_places_and_messages(case: Path) -> None:
    expected = Path(f"{case}.expected").read_text(encoding="utf-8").splitlines()
    found = [str(d).replace(f"{BAD}/", "") for d in _diagnostics(case)]
    assert found == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_errors_raise_and_come_in_file_order(case: Path) -> None:
    expected = Path(f"{case}.expected").read_text(encoding="utf-8")
    if ": error: " not in expected:
        load(case, environ=ENVIRON)  # warnings only: loads
        return
    with pytest.raises(ValidationFailed) as caught:
        load(case, environ=ENVIRON)
    diagnostics = caught.value.diagnostics
    files = [d.file for d in diagnostics]
    order = {f: i for i, f in enumerate(dict.fromkeys(sorted(files)))}
    keys = [(order[d.file], d.line, d.column) for d in diagnostics]
    assert keys == sorted(keys)
    assert all(d.line >= 1 and d.column >= 1 for d in diagnostics)
