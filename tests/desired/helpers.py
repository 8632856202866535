"""Shared by the desired-state tests: write YAML into a temporary directory and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from reconciler.desired import LoadResult, load
from reconciler.errors import Diagnostic, ValidationFailed

ENVIRON = {
    "ACULAB_API_KEY": "test-api-key-3b9d",
    "AQL_PASSWORD": "test-aql-password-1c4e",
    "WAKEUP_PASSWORD": "test-wakeup-password-8a2f",
}

ACCOUNTS = """\
version: 1
aculab:
  cloud_id: "1-2-0"
  username: ops@example.com
  api_key: ${ACULAB_API_KEY}
aql:
  username: example
  password: ${AQL_PASSWORD}
"""


def write(directory: Path, text: str, name: str = "state.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_text(
    directory: Path,
    text: str,
    *,
    environ: Mapping[str, str] = ENVIRON,
    simulate: bool = False,
) -> LoadResult:
    """``ACCOUNTS`` followed by ``text`` (dedented), loaded."""
    return load(write(directory, ACCOUNTS + textwrap.dedent(text)), environ=environ,
                simulate=simulate)  # fmt: skip


def problems(directory: Path, text: str, **kw: object) -> list[Diagnostic]:
    """The diagnostics of ``ACCOUNTS + text``, which must fail."""
    try:
        load_text(directory, text, **kw)  # type: ignore[arg-type]
    except ValidationFailed as err:
        return err.diagnostics
    raise AssertionError("the desired state loaded, but errors were expected")


def messages(directory: Path, text: str, **kw: object) -> list[str]:
    return [f"{d.line}:{d.column}: {d.message}" for d in problems(directory, text, **kw)]
