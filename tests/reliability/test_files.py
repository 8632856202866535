"""Files at the edges: what reconciler reads and writes when the file system is odd.

- A desired-state directory's ``*.yaml`` entries that are not YAML files (a dangling link, a
  directory named ``x.yaml``, a named pipe) are errors naming them, never skipped (what they
  declared would be pruned). Fuzzed: directories of random odd entries.
- Only regular files are read, with a size bound: a FIFO or ``/dev/zero`` given as PATH or
  ``--plan`` is an error, not a hang or a memory blow-up. ``plan ''`` is not the current
  directory.
- Nothing is written through a symbolic link: the journal, the lock and its guard, a saved
  plan, an exported file. The link's target is never touched.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load
from reconciler.errors import ValidationFailed
from reconciler.simulator import SimCredentials, Simulator

from .support import Run, account_yaml, assert_clean, run_cli

API_KEY = "FILES-api-key-4d2a"
AQL_PASSWORD = "FILES-aql-password-8e1b"
ENVIRON = {"ACULAB_API_KEY": API_KEY, "AQL_PASSWORD": AQL_PASSWORD}
SOAK = bool(os.environ.get("RECONCILER_SOAK"))
ACCOUNT = account_yaml("http://127.0.0.1:9", "http://127.0.0.1:9/aql")
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="files")


def _load_bounded(path: Path) -> list[str] | None:
    """The error messages of loading ``path`` (None when it loads), or a failure after 20 s:
    a FIFO must never hang the loader."""

    def attempt() -> list[str] | None:
        try:
            load(path, environ=ENVIRON)
        except ValidationFailed as err:
            return [f"{d.file}: {d.message}" for d in err.diagnostics if d.severity == "error"]
        return None

    return _POOL.submit(attempt).result(timeout=20)


# --------------------------------------------------------------------------- odd entries

KINDS = ("file", "link-to-file", "dangling-link", "directory", "fifo", "link-to-directory")


def _make(directory: Path, name: str, kind: str, number: int) -> None:
    path = directory / name
    if kind == "file":
        path.write_text(
            f'version: 1\ninbound_services:\n  svc-{number}: {{description: "{name}"}}\n'
        )
    elif kind == "link-to-file":
        target = directory / f".target-{number}.txt"
        target.write_text(
            f'version: 1\ninbound_services:\n  svc-{number}: {{description: "{name}"}}\n'
        )
        path.symlink_to(target.name)
    elif kind == "dangling-link":
        path.symlink_to(f"missing-{number}.yaml")
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-to-directory":
        (directory / f".dir-{number}").mkdir()
        path.symlink_to(f".dir-{number}")


@settings(
    max_examples=1500 if SOAK else 150,
    deadline=None,
    derandomize=not SOAK,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    entries=st.dictionaries(
        st.text(string.ascii_lowercase + "-_ ", min_size=1, max_size=8).map(lambda s: s + ".yaml"),
        st.sampled_from(KINDS),
        min_size=1,
        max_size=6,
    )
)
def test_every_odd_entry_of_a_directory_is_an_error_naming_it(
    entries: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("desired")
    (directory / "Account.yaml").write_text(ACCOUNT)  # a name no generated entry takes
    for number, (name, kind) in enumerate(sorted(entries.items())):
        _make(directory, name, kind, number)
    errors = _load_bounded(directory)
    odd = sorted(n for n, k in entries.items() if k not in ("file", "link-to-file"))
    if not odd:
        assert errors is None, errors
        return
    assert errors is not None
    for name in odd:
        assert any(name in e for e in errors), (name, errors)
    # ... and nothing but them: the good files are read.
    assert len(errors) == len(odd), errors


# --------------------------------------------------------------------------- PATH and --plan


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(
        seed="demo", credentials=SimCredentials(api_key=API_KEY, aql_password=AQL_PASSWORD)
    )
    with sim.serve() as running:
        yield sim, account_yaml(running.base_url, running.aql_url)


def _run(cwd: Path, *args: str) -> Run:
    run = run_cli(cwd, *args, environ=ENVIRON)  # a hang: pytest-timeout fails the test
    assert_clean(run, " ".join(args))
    return run


def test_an_empty_path_is_not_the_current_directory() -> None:
    with pytest.raises(ValidationFailed) as caught:
        load("", environ=ENVIRON)
    [error] = caught.value.diagnostics
    assert error.message == "PATH is empty: give a YAML file or a directory of them"


@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "empty"])
def test_a_path_that_is_not_a_file_is_an_error_not_a_hang(what: str, tmp_path: Path) -> None:
    if what == "fifo":
        path = str(tmp_path / "desired.yaml")
        os.mkfifo(path)
    else:
        path = "" if what == "empty" else what
    (tmp_path / "x.yaml").write_text("this: [is not read")  # '' must not read the cwd
    run = _run(tmp_path, "plan", path)
    assert run.code == 1, run.explain()
    expected = {"fifo": "named pipe", "/dev/zero": "character device", "empty": "PATH is empty"}
    assert expected[what] in run.stderr, run.explain()
    assert "x.yaml" not in run.stderr


@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "directory"])
def test_a_plan_file_that_is_not_a_file_is_an_error(
    what: str, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    path = tmp_path / "desired.yaml"
    path.write_text(served[1])
    plan = str(tmp_path / "plan.json")
    if what == "fifo":
        os.mkfifo(plan)
    elif what == "directory":
        os.mkdir(plan)
    else:
        plan = what
    run = _run(tmp_path, "apply", str(path), "--plan", plan, "--yes")
    assert run.code == 1, run.explain()
    assert plan in run.stderr, run.explain()


# --------------------------------------------------------------------------- never through a link


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


@pytest.mark.parametrize("name", ["journal.jsonl", "apply.lock.guard", "apply.lock"])
def test_apply_never_writes_through_a_link_in_its_working_directory(
    name: str, served: tuple[Simulator, str], tmp_path: Path
) -> None:
    sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text + "inbound_services:\n  sales-sip: {description: Sales desk}\n")
    victim = _victim(tmp_path)
    workdir = tmp_path / ".reconciler"
    workdir.mkdir(mode=0o700)
    (workdir / name).symlink_to(victim)
    missing = tmp_path / "created-through-link.txt"
    if name != "apply.lock":
        (workdir / f"{name}.2").symlink_to(missing)  # a dangling one is refused too

    run = _run(tmp_path, "apply", str(path), "--yes")

    assert run.code == 1, run.explain()
    assert "symbolic link" in run.stderr, run.explain()
    assert victim.read_text() == "precious\n"
    assert not missing.exists()
    assert sim.state.services["inbound"]["sales-sip"]["description"] != "Sales desk"


def test_a_dangling_journal_link_is_not_followed(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    _sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text + "inbound_services:\n  sales-sip: {description: Sales desk}\n")
    workdir = tmp_path / ".reconciler"
    workdir.mkdir(mode=0o700)
    missing = tmp_path / "made-through-link.jsonl"
    (workdir / "journal.jsonl").symlink_to(missing)
    run = _run(tmp_path, "apply", str(path), "--yes")
    assert run.code == 1 and "symbolic link" in run.stderr, run.explain()
    assert not missing.exists()


def test_plan_out_and_export_overwrite_never_write_through_a_link(
    served: tuple[Simulator, str], tmp_path: Path
) -> None:
    _sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    victim = _victim(tmp_path)
    saved = tmp_path / "plan.json"
    saved.symlink_to(victim)
    run = _run(tmp_path, "plan", str(path), "--out", str(saved))
    assert run.code == 1 and "symbolic link" in run.stderr, run.explain()
    assert saved.is_symlink() and victim.read_text() == "precious\n"

    out = tmp_path / "exported"
    assert _run(tmp_path, "export", str(path), "--out", str(out)).code == 0
    written = sorted(p for p in out.iterdir() if p.suffix == ".yaml")
    assert written
    written[0].unlink()
    written[0].symlink_to(victim)
    run = _run(tmp_path, "export", str(path), "--out", str(out), "--overwrite")
    assert run.code == 1 and "symbolic link" in run.stderr, run.explain()
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize(
    "command",
    [
        ("schema", "--out", "{out}"),
        ("drift", "{path}", "--out", "{out}"),
        ("drift", "{path}", "{path2}", "--out", "{dir}"),
    ],
)
def test_report_files_are_never_written_through_a_link(
    served: tuple[Simulator, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    _sim, text = served
    path = tmp_path / "desired.yaml"
    path.write_text(text)
    second = tmp_path / "second"
    second.mkdir()
    (second / "desired.yaml").write_text(text)
    victim = _victim(tmp_path)
    out = tmp_path / "report.json"
    out.symlink_to(victim)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "desired.drift.json").symlink_to(victim)
    args = [a.format(out=out, path=path, path2=second, dir=reports) for a in command]
    run = run_cli(tmp_path, *args, environ=ENVIRON)
    assert run.crash is None, run.explain()
    assert run.code == 1 and "symbolic link" in run.stdout + run.stderr, run.explain()
    assert victim.read_text() == "precious\n"
