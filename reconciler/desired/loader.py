"""Load the desired state: a YAML file, or a directory whose ``*.yaml`` files are merged.

:func:`load` is the one way in. It reads every file, checks each against the JSON Schema,
merges them and makes the semantic checks, collecting *every* problem before it gives up:
a user fixes all their mistakes in one round, each found at ``file:line:column``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import ScalarNode

from reconciler.desired import schema
from reconciler.desired.document import Diagnostics, Document, parse
from reconciler.desired.model import DesiredState, Origin
from reconciler.desired.validate import Checked, bad_paths, build
from reconciler.errors import Diagnostic, ValidationFailed
from reconciler.storage import NotAFile, check_entry, read_regular


@dataclass(frozen=True)
class LoadResult:
    """A valid desired state and the warnings found on the way (in file order)."""

    state: DesiredState
    warnings: list[Diagnostic]

    @property
    def files(self) -> tuple[str, ...]:
        return self.state.sources


def load(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    simulate: bool = False,
) -> LoadResult:
    """Load and validate the desired state at ``path`` (a file, or a directory of ``*.yaml``).

    ``${NAME}`` reads ``environ`` (default: the process environment). With ``simulate=True``
    a variable that is not set is no error: it reads as ``simulated-NAME`` (a
    :class:`~reconciler.secret.Secret` where the value is secret), because under
    ``--simulate`` the credentials come from the simulator. A variable in a secret position
    reads as ``simulated-NAME`` even when it is set: the simulator stores what it is given,
    and real secrets must not end up in its account file.

    Raises :class:`~reconciler.errors.ValidationFailed` carrying every error and warning.
    """
    # The load allocates some hundred thousand containers that all live on; the cyclic
    # garbage collector would scan them again and again as they are made (half the time of
    # a large file), and there are no cycles here for it to find.
    if not str(path):
        # Path("") is the current directory: an empty PATH ('') is an error, not a read of it.
        diags = Diagnostics()
        diags.error(Origin("PATH", 1, 1), "PATH is empty: give a YAML file or a directory of them")
        raise ValidationFailed(diags.sorted())
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(Path(path), os.environ if environ is None else environ, simulate)
    finally:
        if collecting:
            gc.enable()


def _load(root: Path, env: Mapping[str, str], simulate: bool) -> LoadResult:
    files, diags = _discover(root)
    checked: list[Checked] = []
    for file in files:
        name = str(file)
        text = _read(file, name, diags)
        if text is None:
            continue
        doc = parse(name, text, diags, environ=env, simulate=simulate)
        checked.append(Checked(doc, _check_schema(doc, diags)))
    state = build(checked, diags)
    found = diags.sorted()
    if any(d.severity == "error" for d in found):
        raise ValidationFailed(found)
    return LoadResult(state=state, warnings=found)


def _discover(root: Path) -> tuple[list[Path], Diagnostics]:
    diags = Diagnostics()
    here = Origin(str(root), 1, 1)
    if root.is_dir():
        entries = sorted(
            (p for p in root.iterdir() if p.suffix == ".yaml" and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        # An entry that is not a file (a dangling link, a directory named x.yaml, a FIFO) is
        # an error, never skipped: what it declares would otherwise be pruned.
        files = []
        for entry in entries:
            problem = check_entry(entry)
            if problem is None:
                files.append(entry)
            else:
                diags.error(
                    Origin(str(entry), 1, 1),
                    f"{entry.name} {problem}: every *.yaml entry of a desired-state directory "
                    "must be a YAML file (fix it, or rename it so it doesn't end in .yaml)",
                )
        diags.files = [str(p) for p in entries]
        for other in sorted(root.glob("*.yml")):
            diags.warning(
                Origin(str(other), 1, 1),
                "ignored: only *.yaml files of a directory are read (rename it to .yaml)",
            )
        if not files:
            diags.error(here, "no *.yaml files in this directory")
        return files, diags
    if not root.exists():
        diags.error(here, "no such file or directory: give a YAML file or a directory of them")
        return [], diags
    diags.files = [str(root)]
    return [root], diags


def _read(file: Path, name: str, diags: Diagnostics) -> str | None:
    try:
        data = read_regular(file)
    except NotAFile as err:
        diags.error(Origin(name, 1, 1), f"cannot read it: it {err.strerror}")
        return None
    except OSError as err:
        diags.error(Origin(name, 1, 1), f"cannot read the file: {err.strerror or err}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        diags.error(
            Origin(name, line, column),
            f"the file is not UTF-8 text (byte 0x{data[err.start]:02X}): save it as UTF-8",
        )
        return None


def _check_schema(doc: Document, diags: Diagnostics) -> set[tuple[str | int, ...]]:
    """Schema errors of one document, placed; returns the paths they are under."""
    if doc.root is None or (doc.value is None and not isinstance(doc.root, ScalarNode)):
        return {()}  # unreadable, already reported: nothing more to say about it
    found = schema.problems(doc.value)
    for problem in found:
        diags.error(doc.at(problem.path, key=problem.at_key), problem.message)
    return bad_paths(p.path for p in found)
