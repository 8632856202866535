"""Export: a live account as desired-state YAML that validates and plans clean against it.

``reconciler export ACCOUNT`` reads the whole account
(:func:`reconciler.live.reader.read_account`) and writes YAML
(:mod:`reconciler.export.writer`): numbers pinned, or grouped into pools with ``--pools``;
every service, keeping only the options that differ from the server schema's
defaults; the relay routes of the aql numbers asked for; every secret as a ``${PLACEHOLDER}``
reference, listed at the end and never written in clear. A directory export writes
``desired-state.schema.json`` beside the YAML, whose first line points at it by that relative
name, so the reference works on every machine the directory is checked out on.

This is how a team adopts reconciler on an account that already exists: export, commit,
set the listed variables, and ``reconciler plan`` shows no changes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.export.writer import FILES, ExportResult, Placeholder, build_export
from reconciler.secret import redact
from reconciler.storage import NotAFile, write_atomic

__all__ = [
    "FILES",
    "ExportResult",
    "Placeholder",
    "build_export",
    "normalise_relay_numbers",
    "other_yaml_files",
    "read_relay_numbers",
    "write_export",
]


def normalise_relay_numbers(numbers: Sequence[str]) -> list[str]:
    """The ``--relay-number`` values in their one normal form, duplicates dropped."""
    from reconciler.desired.numbers import NumberError, normalise_number

    out: list[str] = []
    for text in numbers:
        try:
            n = normalise_number(text)
        except NumberError as err:
            raise ConfigError(
                f"--relay-number {text!r}: {err}",
                hint="give the aql number in international form, e.g. 44113000111",
            ) from None
        if n not in out:
            out.append(n)
    return out


def write_export(result: ExportResult, directory: Path, *, overwrite: bool = False) -> list[Path]:
    """Write a split export into ``directory`` (created if missing). Refuses to replace a
    file that holds something else unless ``overwrite``; never touches other files."""
    targets = [directory / name for name in result.files]
    # A dangling link is in the way too; a link is never taken for the file it points at.
    existing = [
        p
        for p in targets
        if os.path.lexists(p) and (p.is_symlink() or not _holds(p, result.files[p.name]))
    ]
    if existing and not overwrite:
        raise ConfigError(
            f"{existing[0]} already exists; export does not replace files",
            hint="choose an empty --out directory, or pass --overwrite",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in targets:
            # Never through a link; the redactor is the last line of defence (secrets are
            # ${NAME} placeholders in an export).
            write_atomic(path, redact(result.files[path.name]).encode("utf-8"), mode=0o644)
    except NotAFile as err:
        raise ConfigError(
            f"cannot write the export: {err}",
            hint="remove it (or choose another --out directory), then export again",
        ) from None
    except OSError as err:
        raise ConfigError(
            f"cannot write the export into {directory}: {err.strerror or err}",
            hint="check the directory's permissions and free space",
        ) from None
    return targets


def _holds(path: Path, text: str) -> bool:
    """True when ``path`` already holds exactly ``text`` (the schema a previous export or
    `reconciler schema` wrote): writing it again replaces nothing."""
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def read_relay_numbers(source: str, text: str) -> list[str]:
    """The aql numbers listed in ``text`` (the file ``source``, or stdin for ``-``): one per
    line; blank lines and ``#`` comments are skipped. Each is normalised; a line that is not
    a number is an error naming ``source:line:column``."""
    from reconciler.desired.numbers import NumberError, normalise_number

    where = "stdin" if source == "-" else source
    out: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            number = normalise_number(entry)
        except NumberError as err:
            column = raw.index(entry) + 1
            raise ConfigError(
                f"{where}:{lineno}:{column}: {err}",
                hint="list one aql number per line in international form, e.g. 44113000111 "
                "(# starts a comment)",
            ) from None
        if number not in out:
            out.append(number)
    return out


def other_yaml_files(directory: Path, written: Sequence[Path]) -> list[Path]:
    """YAML files in ``directory`` that export did not write: a directory load merges them
    too, which the user should know."""
    if not directory.is_dir():
        return []
    names = {p.name for p in written}
    return sorted(
        p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.name not in names
    )
