"""Benchmark results: flat, stable metric keys, a JSON file, a comparison and a Markdown table.

Every figure is a :class:`Metric` under a dotted key that does not change between runs
(``read_plan.ratio``, ``startup.version_ms``, ...), so two result files compare key by key
(``python -m benchmarks --compare OLD.json``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "reconciler-benchmarks/1"


@dataclass
class Metric:
    """One figure. ``target`` is ``("<=", 1.3)``-like; ``better`` says which way is good."""

    label: str
    value: float | int | None
    unit: str = ""
    target: tuple[str, float] | None = None
    better: str = "lower"  # "lower" | "higher" | "exact"
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        op, limit = self.target
        return {
            "<": self.value < limit,
            "<=": self.value <= limit,
            ">=": self.value >= limit,
            "==": self.value == limit,
        }[op]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "value": self.value, "unit": self.unit}
        if self.target is not None:
            out["target"] = f"{self.target[0]} {self.target[1]:g}"
            out["ok"] = self.ok
        if self.note:
            out["note"] = self.note
        out["better"] = self.better
        return out


@dataclass
class Results:
    """Everything one run measured."""

    mode: str
    command: str
    params: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def add(
        self, key: str, label: str, value: float | int | None, unit: str = "", **kw: Any
    ) -> None:
        self.metrics[key] = Metric(label, value, unit, **kw)

    def value(self, key: str) -> float | int | None:
        metric = self.metrics.get(key)
        return None if metric is None else metric.value

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "started": self.started,
            "mode": self.mode,
            "command": self.command,
            "params": self.params,
            "machine": self.machine,
            "metrics": {k: m.as_json() for k, m in self.metrics.items()},
            "details": self.details,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.as_json(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        git = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except OSError:
        git = ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "commit": git,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- presentation


def _fmt(value: float | int | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        text = f"{value:,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    if unit in ("", "x"):
        return text + unit
    return f"{text} {unit}"


def _verdict(metric: Metric) -> str:
    ok = metric.ok
    if ok is None:
        return ""
    return "ok" if ok else "MISSED"


def _target(metric: Metric) -> str:
    if metric.target is None:
        return ""
    op, limit = metric.target
    unit = metric.unit if metric.unit in ("", "x") else " " + metric.unit
    return f"{op} {limit:g}{unit}"


# The order of the table: the list, whatever order the phases ran in.
GROUPS = (
    "read_plan",
    "baseline",
    "apply",
    "planner",
    "desired",
    "startup",
    "memory",
    "scaling",
    "simulator",
)


def ordered_keys(results: Results) -> list[str]:
    def rank(key: str) -> int:
        group = key.split(".", 1)[0]
        return GROUPS.index(group) if group in GROUPS else len(GROUPS)

    return sorted(results.metrics, key=rank)  # stable: phase order within a group


def table(results: Results, keys: list[str] | None = None) -> str:
    """The metrics as a Markdown table."""
    rows = [
        "| figure | value | target | | notes |",
        "|---|---:|---|---|---|",
    ]
    for key in keys or ordered_keys(results):
        m = results.metrics.get(key)
        if m is None:
            continue
        value = _fmt(m.value, m.unit)
        note = m.note.replace("|", "\\|")
        rows.append(f"| {m.label} | {value} | {_target(m)} | {_verdict(m)} | {note} |")
    return "\n".join(rows)


def plain(results: Results) -> str:
    """The metrics as aligned text for the terminal."""
    width = max((len(m.label) for m in results.metrics.values()), default=10)
    lines = []
    for key in ordered_keys(results):
        m = results.metrics[key]
        verdict = _verdict(m)
        target = _target(m)
        tail = f"  [{target}: {verdict}]" if target else ""
        note = f"  ({m.note})" if m.note else ""
        lines.append(f"  {m.label:<{width}}  {_fmt(m.value, m.unit):>14}{tail}{note}")
    return "\n".join(lines)


def compare(results: Results, old_path: Path, text: str | None = None) -> str:
    """This run against an earlier result file, key by key (``text``: the file's content, read
    before this run overwrote it)."""
    try:
        old = json.loads(old_path.read_text() if text is None else text)
    except (OSError, ValueError) as err:
        return f"cannot compare with {old_path}: {err}"
    if old.get("format") != FORMAT:
        return f"cannot compare with {old_path}: not a {FORMAT} file"
    previous = old.get("metrics", {})
    width = max((len(m.label) for m in results.metrics.values()), default=10)
    lines = [f"Compared with {old_path} ({old.get('started', '?')}, mode {old.get('mode')}):"]
    for key, m in results.metrics.items():
        before = previous.get(key, {}).get("value")
        if not isinstance(before, int | float) or not isinstance(m.value, int | float):
            continue
        if isinstance(before, bool) or isinstance(m.value, bool):
            continue
        change = ""
        if before:
            pct = (m.value - before) / abs(before) * 100
            worse = pct > 0 if m.better == "lower" else pct < 0 if m.better == "higher" else False
            flag = "  worse" if worse and abs(pct) >= 10 else ""
            change = f"{pct:+6.1f}%{flag}"
        lines.append(
            f"  {m.label:<{width}}  {_fmt(before, m.unit):>14} -> {_fmt(m.value, m.unit):>14}"
            f"  {change}"
        )
    return "\n".join(lines)


def command_line() -> str:
    args = " ".join(sys.argv[1:])
    return f"python -m benchmarks {args}".strip()
