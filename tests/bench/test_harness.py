"""The benchmark harness runs end to end and writes results a later run can compare with.

No figure is asserted against a time: ``--tiny`` runs every phase on a 1/100 account at
2 ms latency, and these tests check what must hold at any speed: the JSON's shape and stable
keys, the exact call counts (reads, apply's write calls), an apply that converges, and the
README table being replaced between its markers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.__main__ import BEGIN, END, write_readme
from benchmarks.results import FORMAT, Results

ROOT = Path(__file__).resolve().parents[2]
Tiny = tuple[dict[str, Any], str]  # the result file's JSON, and what the run printed

KEYS = {
    "read_plan.wall_s",
    "read_plan.bound_s",
    "read_plan.ratio",
    "read_plan.client_cpu_s",
    "read_plan.sim_cpu_s",
    "baseline.sequential_s",
    "baseline.speedup",
    "apply.wall_s",
    "apply.bound_s",
    "apply.write_calls",
    "apply.minimum_write_calls",
    "planner.unchanged_cpu_s",
    "planner.changed_cpu_s",
    "desired.load_s",
    "startup.version_ms",
    "startup.validate_ms",
    "memory.peak_rss_mb",
    "scaling.x0_5.wall_s",
    "scaling.x1.wall_s",
    "simulator.c16.rps",
    "simulator.c200.rps",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    tmp = tmp_path_factory.mktemp("bench")
    old = tmp / "old.json"
    old.write_text(
        json.dumps(
            {
                "format": FORMAT,
                "started": "earlier",
                "mode": "tiny",
                "metrics": {"read_plan.reads": {"value": 1}, "apply.wall_s": {"value": 9.0}},
            }
        )
    )
    out = tmp / "tiny.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--tiny", "-q", "--no-readme"),
            *("--out", str(out), "--compare", str(old)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text()), run.stdout


def test_writes_every_figure_under_stable_keys(tiny: Tiny) -> None:
    data, _ = tiny
    assert data["format"] == FORMAT and data["mode"] == "tiny"
    assert set(data["metrics"]) >= KEYS
    for key, metric in data["metrics"].items():
        assert set(metric) >= {"label", "value", "unit"}, key
    machine = data["machine"]
    assert machine["nproc"] >= 1 and machine["python"] and machine["cpu_model"] is not None
    assert len(machine["load_average_start"]) == 3 and len(machine["load_average_end"]) == 3


def test_exact_calls_and_a_converging_apply(tiny: Tiny) -> None:
    metrics = tiny[0]["metrics"]
    assert metrics["read_plan.reads"]["value"] == metrics["read_plan.minimum_reads"]["value"]
    assert metrics["read_plan.extra_calls"]["value"] == 0
    assert metrics["apply.write_calls"]["value"] == metrics["apply.minimum_write_calls"]["value"]
    assert metrics["apply.failed_or_skipped"]["value"] == 0
    assert metrics["apply.changes_left"]["value"] == 0
    writes = tiny[0]["details"]["apply"]["writes"]
    assert writes["release"] == 1 and writes["purchase"] == 20


def test_prints_the_table_and_the_comparison(tiny: Tiny) -> None:
    _, stdout = tiny
    assert "read + plan: wall / bound" in stdout
    assert "Compared with" in stdout and "apply: wall" in stdout.split("Compared with")[1]


def test_readme_table_replaced_between_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nprose\n\n{BEGIN}\nold table\n{END}\n\nmore prose\n")
    results = Results(
        mode="full",
        command="python -m benchmarks",
        params={"latency_ms": 20.0, "concurrency": 16, "repeat": 3},
        machine={"nproc": 2, "cpu_model": "CPU", "python": "3.11.7", "commit": "abc"},
    )
    results.add("read_plan.ratio", "read + plan: wall / bound", 1.12, "x", target=("<=", 1.3))
    results.add("memory.peak_rss_mb", "memory: peak RSS", 420.0, "MB", target=("<", 300))
    write_readme(results, readme)
    text = readme.read_text()
    assert "old table" not in text and text.count(BEGIN) == 1 and text.endswith("more prose\n")
    assert "| read + plan: wall / bound | 1.12x | <= 1.3x | ok |  |" in text
    assert "| memory: peak RSS | 420 MB | < 300 MB | MISSED |  |" in text
