"""The event loop commands run on (reconciler/eventloop.py): uvloop's where it is installed,
asyncio's on request, and a clear error for a value it doesn't know."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import eventloop
from reconciler.errors import ConfigError

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop has no build for this platform")
@pytest.mark.parametrize(
    ("value", "module"),
    [("", "uvloop"), ("auto", "uvloop"), ("uvloop", "uvloop"), (" Asyncio ", "asyncio")],
)
def test_the_loop_the_variable_chooses(
    monkeypatch: pytest.MonkeyPatch, value: str, module: str
) -> None:
    monkeypatch.setenv(eventloop.LOOP_ENV, value)
    assert eventloop.run(_loop_module()) == module


def test_without_uvloop_auto_is_asyncio_and_uvloop_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    monkeypatch.setenv(eventloop.LOOP_ENV, "auto")
    assert eventloop.run(_loop_module()) == "asyncio"
    monkeypatch.setenv(eventloop.LOOP_ENV, "uvloop")
    with pytest.raises(ConfigError, match="uvloop is not installed") as info:
        eventloop.run(_loop_module())
    assert info.value.hint and "=auto" in info.value.hint


def test_an_unknown_loop_is_a_clear_error_before_anything_runs(tmp_path: Path) -> None:
    """The real command: a message naming the variable and what it may be, no traceback; with
    several accounts in worker processes too, where it fails once, before any is forked."""
    account = tmp_path / "a.yaml"
    account.write_text("version: 1\n", encoding="utf-8")
    other = tmp_path / "b.yaml"
    other.write_text("version: 1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update({eventloop.LOOP_ENV: "tokio", "NO_COLOR": "1", "RECONCILER_WORKERS": "2"})
    for args in (["--simulate", "drift", str(account)], ["validate", str(account), str(other)]):
        run = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode != 0
        assert "Traceback" not in run.stderr
        assert run.stderr.count("RECONCILER_EVENT_LOOP='tokio'") == 1, run.stderr
        assert "auto, asyncio, uvloop" in run.stderr


@pytest.mark.parametrize("value", ["asyncio", "auto"])
def test_the_collector_runs_less_often_while_the_loop_runs(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(eventloop.LOOP_ENV, value)
    before = gc.get_threshold()

    async def inside() -> tuple[int, ...]:
        return gc.get_threshold()

    during = eventloop.run(inside())
    assert during[0] >= eventloop.GEN0_THRESHOLD > before[0]
    assert during[1:] == before[1:]
    assert gc.get_threshold() == before


def test_a_serving_process_freezes_what_it_loaded_and_collects_less_often() -> None:
    before = gc.get_threshold()
    loaded = [{"state": i} for i in range(100)]
    try:
        with eventloop.serving():
            assert gc.get_freeze_count() >= len(loaded)
            assert gc.get_threshold()[0] >= eventloop.GEN0_THRESHOLD
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()  # the rest of the test session collects as before
