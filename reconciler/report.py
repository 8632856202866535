"""Fleet reports: one JSON document per account and run (``--report-dir``), and the summary of
any number of them (``reconciler report DIR...``) as text, JSON, markdown, OpenMetrics and
JUnit XML (``docs/fleet.md``).

An account report says what the run came to without the run's details: the outcome and exit
code, pending changes by kind, drifted resources by type, the apply's counts, the safety
refusals, the error's message and hint. Secrets never appear (every text goes through
:func:`reconciler.secret.redact`). Its schema is ``schemas/report.schema.json``; the reader
validates every file against it, so a summary is never made from a damaged or foreign file.

Like every renderer here, these functions return text; :mod:`reconciler.cli` prints and
writes it.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REFUSED,
    ConfigError,
    ReconcilerError,
    most_severe,
)
from reconciler.fleet import AccountRun
from reconciler.operations import ApplyResult, DriftResult, PlanResult, Validation
from reconciler.schemas import schema_file
from reconciler.secret import redact
from reconciler.storage import write_atomic

FORMAT = "reconciler-account-report"
VERSION = 1
SCHEMA = "report.schema.json"
# GitHub refuses a comment or an issue body over 65,536 characters.
MARKDOWN_LIMIT = 65_536
OUTCOMES = ("error", "refused", "changes", "ok")


def _iso(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _plan_changes(counts: dict[str, int]) -> dict[str, int]:
    # create_pending is a part of create, not a kind of its own
    return _nonzero({k: v for k, v in counts.items() if k != "create_pending"})


# --------------------------------------------------------------------------- one account


def outcome(run: AccountRun[Any]) -> str:
    """``error``, ``refused``, ``changes`` (pending changes or drift, whatever the exit code:
    a plan without --detailed-exitcode exits 0 with changes) or ``ok``."""
    if run.outcome:
        return run.outcome
    if run.code == EXIT_REFUSED:
        return "refused"
    if run.code == EXIT_CHANGES:
        return "changes"
    if run.code != EXIT_OK or run.error is not None:
        return "error"
    result = run.result
    if isinstance(result, PlanResult) and not result.plan.is_empty:
        return "changes"
    return "ok"


def render_run_summary(
    command: str, runs: Sequence[AccountRun[Any]], shard: str | None, code: int
) -> str:
    """The one line a run over several accounts ends with (on stderr): how many accounts, by
    :func:`outcome`, and the exit code."""
    counts = Counter(outcome(r) for r in runs)
    where = f" (shard {shard})" if shard is not None else ""
    changes = "drifted" if command == "drift" else "with changes"
    return (
        f"{command}: {len(runs):,} account{'s' if len(runs) != 1 else ''}{where}: "
        f"{counts['ok']:,} in order, {counts['changes']:,} {changes}, "
        f"{counts['refused']:,} refused, {counts['error']:,} failed; exit {code}."
    )


def account_report(
    command: str, run: AccountRun[Any], *, shard: str | None = None
) -> dict[str, Any]:
    """The report of one account's run, as ``schemas/report.schema.json`` describes it."""
    result = run.result
    changes: dict[str, int] = {}
    drift: dict[str, int] = {}
    applied: dict[str, int] | None = None
    refusals: list[str] = []
    warnings = 0
    if isinstance(result, Validation):
        warnings = sum(1 for d in result.diagnostics if d.severity == "warning")
    elif isinstance(result, PlanResult):
        changes = _plan_changes(result.plan.counts())
        refusals = list(result.refusals)
        warnings = len(result.warnings)
    elif isinstance(result, DriftResult):
        drift = result.report.counts()
        warnings = len(result.warnings)
    elif isinstance(result, ApplyResult):
        changes = _plan_changes(result.plan.counts())
        applied = result.report.counts()
        warnings = len(result.warnings)
    error: dict[str, Any] | None = None
    if run.error is not None:
        err = run.error
        if isinstance(err, ReconcilerError):
            error = {"message": redact(err.message), "hint": redact(err.hint) if err.hint else None}
            if run.code == EXIT_REFUSED:
                refusals = [redact(err.message)]
        else:
            # Only the type: an exception's text could carry a value we must not write.
            error = {"message": f"internal error: {type(err).__name__}", "hint": None}
    return {
        "format": FORMAT,
        "version": VERSION,
        "account": run.account.name,
        "path": str(run.account.path),
        "command": command,
        "shard": shard,
        "started_at": _iso(run.started),
        "finished_at": _iso(run.finished),
        "duration_s": round(run.seconds, 3),
        "exit_code": run.code,
        "outcome": outcome(run),
        "changes": changes,
        "drift": drift,
        "applied": applied,
        "refusals": refusals,
        "warnings": warnings,
        "error": error,
    }


def write_report(report: dict[str, Any], directory: Path) -> Path:
    """Write one account's report into ``directory`` as ``ACCOUNT.json`` (created if missing;
    replaced whole, never half-written)."""
    path = directory / f"{report['account']}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (json.dumps(report, indent=2) + "\n").encode(), mode=0o644)
    except OSError as err:
        raise ConfigError(
            f"cannot write the report {path}: {err.strerror or err}",
            hint="check --report-dir: a directory you can write to",
        ) from None
    return path


# --------------------------------------------------------------------------- reading


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_file(SCHEMA).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def read_reports(directories: Sequence[Path]) -> list[dict[str, Any]]:
    """Every account report in ``directories`` (``*.json``, not recursive). When two shards
    reported the same account, the later run counts. A file that is not a valid report is a
    :class:`ConfigError` naming it."""
    found: dict[str, dict[str, Any]] = {}
    # One summary speaks of one command: a drift report and a plan report of the same
    # account are different questions, and one would silently replace the other.
    commands: dict[str, Path] = {}
    for directory in directories:
        if not directory.is_dir():
            raise ConfigError(
                f"{directory}: no such directory of reports",
                hint="give the directories that --report-dir wrote (one per shard, or one for all)",
            )
        for path in sorted(directory.glob("*.json")):
            report = _read_one(path)
            commands.setdefault(report["command"], path)
            if len(commands) > 1:
                named = ", ".join(f"{c} ({where})" for c, where in sorted(commands.items()))
                raise ConfigError(
                    f"these reports come from different commands: {named}",
                    hint="summarise each command's reports on their own: give `reconciler "
                    "report` the directories of one command",
                )
            name = report["account"]
            if name not in found or report["finished_at"] >= found[name]["finished_at"]:
                found[name] = report
    return [found[name] for name in sorted(found)]


def _read_one(path: Path) -> dict[str, Any]:
    hint = "remove it from the directory, or run the command again with --report-dir"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not a readable JSON report ({err})", hint=hint) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a reconciler account report", hint=hint)
    if data.get("version") != VERSION:
        raise ConfigError(
            f"{path}: a report of version {data.get('version')!r}; this reconciler reads "
            f"version {VERSION}",
            hint="make the reports and the summary with the same reconciler version",
        )
    problems = sorted(_validator().iter_errors(data), key=lambda e: list(e.path))
    if problems:
        where = "/".join(str(p) for p in problems[0].path) or "(top)"
        raise ConfigError(f"{path}: not a valid account report at {where}", hint=hint)
    return data


# --------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Summary:
    """Many accounts' reports, merged."""

    reports: tuple[dict[str, Any], ...]

    @property
    def exit_code(self) -> int:
        return most_severe(r["exit_code"] for r in self.reports)

    def by_outcome(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {o: [] for o in OUTCOMES}
        for r in self.reports:
            out[r["outcome"]].append(r)
        return out

    def totals(self, key: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.reports:
            total.update(r[key])
        return dict(sorted(total.items()))

    def commands(self) -> str:
        return ", ".join(sorted({r["command"] for r in self.reports})) or "no command"

    def headline(self) -> str:
        groups = self.by_outcome()
        n = len(self.reports)
        parts = [f"{n:,} account{'s' if n != 1 else ''}"]
        if groups["changes"]:
            noun = "drifted" if self.commands() == "drift" else "with changes"
            parts.append(f"{len(groups['changes']):,} {noun}")
        if groups["refused"]:
            parts.append(f"{len(groups['refused']):,} refused")
        if groups["error"]:
            parts.append(f"{len(groups['error']):,} failed")
        if not (groups["changes"] or groups["refused"] or groups["error"]):
            parts.append("all in order")
        return f"reconciler {self.commands()}: " + ", ".join(parts)


def summarise(reports: Iterable[dict[str, Any]]) -> Summary:
    return Summary(tuple(reports))


def _detail(r: dict[str, Any]) -> str:
    bits = [f"{k} {v:,}" for k, v in {**r["changes"], **r["drift"]}.items()]
    if r["applied"]:
        a = r["applied"]
        bits.append(
            f"applied {a['succeeded']:,} ok, {a['failed']:,} failed, {a['skipped']:,} skipped"
        )
    if r["error"] is not None:
        bits.append(r["error"]["message"])
    elif r["refusals"]:
        bits.append(r["refusals"][0])
    return "; ".join(bits) or "nothing to change"


def render_text(summary: Summary) -> str:
    lines = [summary.headline()]
    for outcome, reports in summary.by_outcome().items():
        if outcome == "ok" or not reports:
            continue
        lines.append("")
        lines.append(f"{outcome} ({len(reports):,}):")
        lines.extend(f"  {r['account']}: {_detail(r)}" for r in reports)
    return redact("\n".join(lines)) + "\n"


def render_json(summary: Summary) -> str:
    groups = summary.by_outcome()
    doc = {
        "format": "reconciler-fleet-summary",
        "version": VERSION,
        "headline": summary.headline(),
        "exit_code": summary.exit_code,
        "accounts": len(summary.reports),
        "outcomes": {k: [r["account"] for r in v] for k, v in groups.items()},
        "changes": summary.totals("changes"),
        "drift": summary.totals("drift"),
        "reports": list(summary.reports),
    }
    return redact(json.dumps(doc, indent=2)) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Summary, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A PR comment or an issue body: the headline and counts first, then one table row per
    account that needs attention, as many as fit in ``limit`` characters (GitHub's), then a
    line saying how many were left out."""
    groups = summary.by_outcome()
    head = [f"### {_cell(summary.headline())}", ""]
    head += ["| outcome | accounts |", "|---|---:|"]
    head += [f"| {o} | {len(groups[o]):,} |" for o in OUTCOMES]
    totals = {**summary.totals("changes"), **summary.totals("drift")}
    if totals:
        head += ["", "Totals: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()) + "."]
    rows = [r for o in ("error", "refused", "changes") for r in groups[o]]
    body: list[str] = []
    if rows:
        body = ["", "| account | outcome | detail |", "|---|---|---|"]
    tail_room = 200  # the note on what was left out
    size = sum(len(x) + 1 for x in head + body) + tail_room
    shown = 0
    for r in rows:
        line = f"| `{_cell(r['account'])}` | {r['outcome']} | {_cell(_detail(r))[:500]} |"
        if size + len(line) + 1 > limit:
            break
        body.append(line)
        size += len(line) + 1
        shown += 1
    if shown < len(rows):
        body += [
            "",
            f"_{len(rows) - shown:,} more accounts left out to fit one comment; "
            "`reconciler report --format json` lists every one._",
        ]
    return redact("\n".join(head + body)) + "\n"


def render_metrics(summary: Summary) -> str:
    """OpenMetrics text: per account, drifted resources by type, pending changes by kind,
    the last run's time, whether it succeeded (0, or 2 for changes), and its exit code."""
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.openmetrics.exposition import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    labels = ["account", "command"]
    drift = Gauge(
        "reconciler_drift_resources",
        "Resources that drifted from the desired state, by type",
        [*labels, "resource"],
        registry=registry,
    )
    pending = Gauge(
        "reconciler_pending_changes",
        "Changes apply would make, by kind",
        [*labels, "kind"],
        registry=registry,
    )
    last_run = Gauge(
        "reconciler_last_run_timestamp_seconds",
        "When the account's last run finished (Unix time)",
        labels,
        registry=registry,
    )
    success = Gauge(
        "reconciler_last_run_success",
        "1 when the last run succeeded (nothing to change, or changes found), else 0",
        labels,
        registry=registry,
    )
    exit_code = Gauge(
        "reconciler_last_run_exit_code",
        "The last run's exit code: 0 nothing to change, 2 changes, 3 refused, 1 error",
        labels,
        registry=registry,
    )
    drift_total = Gauge(
        "reconciler_drifted_resources",
        "Resources that drifted from the desired state (0 when in sync)",
        labels,
        registry=registry,
    )
    changes_total = Gauge(
        "reconciler_changes_pending",
        "Changes apply would make (0 when nothing would change)",
        labels,
        registry=registry,
    )
    for r in summary.reports:
        key = (r["account"], r["command"])
        drift_total.labels(*key).set(sum(r["drift"].values()))
        changes_total.labels(*key).set(sum(r["changes"].values()))
        for resource, n in r["drift"].items():
            drift.labels(*key, resource).set(n)
        for kind, n in r["changes"].items():
            pending.labels(*key, kind).set(n)
        finished = datetime.datetime.fromisoformat(r["finished_at"].replace("Z", "+00:00"))
        last_run.labels(*key).set(finished.timestamp())
        success.labels(*key).set(1 if r["exit_code"] in (EXIT_OK, EXIT_CHANGES) else 0)
        exit_code.labels(*key).set(r["exit_code"])
    # prometheus-client ships no type hints for its exposition module
    text: str = generate_latest(registry).decode()  # type: ignore[no-untyped-call]
    return text


def render_junit(summary: Summary) -> str:
    """JUnit XML: one test case per account; an error is an <error>, a refusal a <failure>,
    drift a <failure> (a drift run's purpose is to find it); a plan's pending changes pass."""
    suite = ElementTree.Element(
        "testsuite",
        name=f"reconciler {summary.commands()}",
        tests=str(len(summary.reports)),
    )
    failures = errors = 0
    for r in summary.reports:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"reconciler.{r['command']}",
            name=r["account"],
            time=f"{r['duration_s']:.3f}",
        )
        detail = redact(_detail(r))
        if r["exit_code"] == EXIT_ERROR or r["outcome"] == "error":
            errors += 1
            hint = (r["error"] or {}).get("hint")
            element = ElementTree.SubElement(case, "error", message=detail)
            element.text = redact(hint) if hint else None
        elif r["outcome"] == "refused" or (r["outcome"] == "changes" and r["command"] == "drift"):
            failures += 1
            ElementTree.SubElement(case, "failure", message=detail)
        else:
            ElementTree.SubElement(case, "system-out").text = detail
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    ElementTree.indent(suite)
    body = ElementTree.tostring(suite, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
