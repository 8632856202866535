"""The summary of many account reports (reconciler/report.py): markdown within GitHub's limit,
the later of two reports of one account, the most severe exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ConfigError
from reconciler.report import MARKDOWN_LIMIT, read_reports, render_markdown, summarise


def _report(name: str, outcome: str, code: int, finished: str = "2026-11-30T10:00:00Z") -> Any:
    return {
        "format": "reconciler-account-report",
        "version": 1,
        "account": name,
        "path": f"accounts/{name}.yaml",
        "command": "drift",
        "shard": None,
        "started_at": "2026-11-30T09:59:58Z",
        "finished_at": finished,
        "duration_s": 2.0,
        "exit_code": code,
        "outcome": outcome,
        "changes": {},
        "drift": {"inbound service": 3} if outcome == "changes" else {},
        "applied": None,
        "refusals": [],
        "warnings": 0,
        "error": {"message": "could not read the live account: " + "x" * 20, "hint": None}
        if outcome == "error"
        else None,
    }


def test_markdown_of_thousands_of_accounts_fits_one_comment() -> None:
    reports = [_report(f"cust-{i:05d}", "changes", 2) for i in range(4000)]
    reports += [_report(f"bad-{i:05d}", "error", 1) for i in range(500)]
    text = render_markdown(summarise(reports))
    assert len(text) <= MARKDOWN_LIMIT
    assert "4,500 accounts, 4,000 drifted, 500 failed" in text
    assert "more accounts left out" in text
    # errors come first: they need attention most
    assert text.index("bad-00000") < text.index("cust-00000")


def test_a_small_summary_lists_every_account_needing_attention() -> None:
    text = render_markdown(summarise([_report("a", "changes", 2), _report("b", "ok", 0)]))
    assert "`a`" in text and "`b`" not in text and "left out" not in text


def test_the_later_report_of_an_account_counts(tmp_path: Path) -> None:
    for i, (outcome, code, at) in enumerate(
        [("error", 1, "2026-11-30T10:00:00Z"), ("ok", 0, "2026-11-30T11:00:00Z")]
    ):
        d = tmp_path / f"shard-{i}"
        d.mkdir()
        (d / "acme.json").write_text(json.dumps(_report("acme", outcome, code, at)))
    summary = summarise(read_reports([tmp_path / "shard-0", tmp_path / "shard-1"]))
    assert [r["outcome"] for r in summary.reports] == ["ok"]
    assert summary.exit_code == 0


def test_reports_of_different_commands_are_not_merged(tmp_path: Path) -> None:
    # A plan report would otherwise replace the drift report of the same account unsaid.
    drift, plan = tmp_path / "drift", tmp_path / "plan"
    drift.mkdir()
    plan.mkdir()
    (drift / "acme.json").write_text(json.dumps(_report("acme", "changes", 2)))
    later = _report("acme", "ok", 0, "2026-11-30T11:00:00Z") | {"command": "plan"}
    (plan / "acme.json").write_text(json.dumps(later))
    with pytest.raises(ConfigError) as caught:
        read_reports([drift, plan])
    assert "drift" in caught.value.message and "plan" in caught.value.message
    assert caught.value.hint
