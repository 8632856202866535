"""Renderers of an :class:`~reconciler.apply.applier.ApplyReport`: text and JSON.

Like the plan's renderers they only read and return strings; :mod:`reconciler.cli` prints.
Every reason shown is the API's own words with secrets already masked by the applier.

Text::

    Applied:
      ok      + pool:london-support: bought 2: 441632960001, 441632960002
      FAILED  ~ outbound:wakeup: PATCH /service/v1/outbound/wakeup: HTTP 400 ...
      skipped - number:441632960099: blocked: releasing a number is irreversible; ...

    Apply finished with failures: 5 succeeded, 1 failed, 1 skipped.
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.apply.applier import ApplyReport, ChangeResult
from reconciler.secret import json_default, redact

_MARKS = {
    "purchase": "+",
    "create": "+",
    "update": "~",
    "relay": "~",
    "delete": "-",
    "release": "-",
}
_STATUS = {
    "succeeded": ("ok", "green"),
    "failed": ("FAILED", "red"),
    "skipped": ("skipped", "yellow"),
}


def _no_style(text: str, **_kw: Any) -> str:
    return text


def summary_line(report: ApplyReport) -> str:
    """``Apply complete: 5 succeeded, 0 failed, 0 skipped.`` or the dry run's wording."""
    c = report.counts()
    if report.dry_run:
        return (
            f"Dry run: nothing was changed. {c['succeeded']:,} would succeed, "
            f"{c['failed']:,} would fail, {c['skipped']:,} would be skipped."
        )
    if report.interrupted:
        head = "Apply interrupted"
    else:
        head = "Apply complete" if report.ok else "Apply finished with failures"
    return (
        f"{head}: {c['succeeded']:,} succeeded, {c['failed']:,} failed, {c['skipped']:,} skipped."
    )


def bought_lines(report: ApplyReport) -> list[str]:
    """``pool london: bought 441632960001, 441632960002``: what this run spent, first thing
    an interrupted run tells."""
    return [
        f"pool {pool}: {', '.join(numbers)}" for pool, numbers in report.bought.items() if numbers
    ]


def unknown_lines(report: ApplyReport) -> list[str]:
    """The purchases whose outcome is unknown, each on one line: money that may have been
    spent, told before anything else."""
    if not report.unknown_purchases:
        return []
    return [
        "Purchases whose outcome is unknown (they may have bought numbers; apply buys nothing "
        "more for these pools until the account lists them):",
        *(f"  {u.describe()}" for u in report.unknown_purchases),
    ]


def failure_message(report: ApplyReport) -> str:
    """The one-line error for a run that did not fully succeed (``ApplyFailed``)."""
    c = report.counts()
    if report.dry_run:
        return f"the dry run found {c['failed']:,} change(s) that would fail"
    if report.interrupted:
        return (
            f"apply was interrupted ({report.interrupted}): {c['succeeded']:,} succeeded, "
            f"{c['failed']:,} failed, {c['skipped']:,} not attempted"
        )
    return (
        f"apply finished with failures: {c['failed']:,} failed, {c['skipped']:,} skipped "
        f"(and {c['succeeded']:,} succeeded)"
    )


def failure_hint(report: ApplyReport, *, again: str = "reconciler apply") -> str | None:
    """What to do after a run that did not fully succeed: run ``again`` (the command, as
    typed) only where a re-run can help; otherwise what to change first. A dry run: None
    (each failure says what is wrong)."""
    if report.dry_run:
        return None
    # A pool blocked by a purchase whose outcome is unknown: a re-run helps only once the
    # account lists its numbers (or after the user checked the account).
    unknown_pools = {f"pool:{u.pool}" for u in report.unknown_purchases}
    waiting = [r for r in report.failed if r.action == "purchase" and r.address in unknown_pools]
    failed = [r for r in report.failed if r not in waiting]
    passing = [r for r in failed if r.retry]
    lasting = [r for r in failed if not r.retry]
    # The inbound services of the numbers a waiting pool did not buy wait with it.
    after = {f"inbound:<new numbers of {r.address.removeprefix('pool:')}>" for r in waiting}
    skipped = [r for r in report.skipped if r.address not in after]
    blocked = [r for r in skipped if (r.reason or "").startswith("blocked")]
    parts: list[str] = []
    if lasting:
        parts.append(
            f"{len(lasting)} failure(s) will fail again as they are: change first what each "
            "one names (after 'change first:')"
        )
    if passing:
        parts.append(
            ("then " if lasting else "")
            + f"run `{again}` again for the {len(passing)} that can pass (a timeout, a 5xx, "
            "a 429): it re-plans from the account as it is now"
        )
    elif not lasting and len(blocked) < len(skipped):
        parts.append(f"run `{again}` again: it re-plans from the account as it is now")
    if blocked:
        parts.append(f"releasing numbers needs `{again} --allow-release` (irreversible)")
    if waiting:
        pools = " ".join(f"--forget-purchase {r.address.removeprefix('pool:')}" for r in waiting)
        parts.append(
            f"{len(waiting)} pool(s) wait on a purchase whose outcome is unknown: once the "
            f"account lists its numbers, run `{again}` again; only if you have checked the "
            f"account and it bought nothing, run `{again} {pools}`"
        )
    return "; ".join(parts) or None


def result_line(result: ChangeResult, *, color: bool = False) -> str:
    """One change: status, mark, address, and what happened (or why not)."""
    style = click.style if color else _no_style
    word, colour = _STATUS[result.status]
    status = style(f"{word:<7}", fg=colour, bold=result.status != "succeeded")
    mark = _MARKS.get(result.action, "~")
    text = result.detail
    if result.status == "failed":
        text = f"{text}; {result.reason}" if text and result.reason else (result.reason or text)
    elif result.status == "skipped":
        text = result.reason or text
    return f"  {status} {mark} {style(result.address, bold=True)}: {text}"


def render_report_text(report: ApplyReport, *, color: bool = False) -> str:
    """The report for a terminal: every change, the notes, then the one-line summary."""
    style = click.style if color else _no_style
    out: list[str] = []
    if report.interrupted:
        # Money first: what this run bought, whatever else it did not get to.
        how = (
            "stopped at once; the calls in flight were abandoned"
            if report.stopped_at_once
            else "nothing new was started; the calls in flight finished"
        )
        out.append(style(f"Interrupted ({report.interrupted}): {how}.", fg="yellow", bold=True))
    unknown = unknown_lines(report)
    out.extend(
        style(line, fg="yellow", bold=True) if i == 0 else line for i, line in enumerate(unknown)
    )
    if report.interrupted:
        bought = bought_lines(report)
        if bought:
            out.append("Numbers bought by this run:")
        elif unknown:
            out.append("No number is known to have been bought by this run.")
        else:
            out.append("No number was bought.")
        out.extend(f"  {line}" for line in bought)
    if unknown or report.interrupted:
        out.append("")
    if report.results:
        out.append("Dry run (nothing is written):" if report.dry_run else "Applied:")
        for r in report.results:
            out.append(result_line(r, color=color))
            # At once, under the write: the next plan would plan the same change again.
            out.extend(f"            ! the server stored otherwise: {d}" for d in r.differences)
        out.append("")
    if report.notes:
        out.append(style("Notes:", bold=True))
        out.extend(f"  - {n}" for n in report.notes)
        out.append("")
    colour = "green" if report.ok else "red"
    out.append(style(summary_line(report), fg=colour, bold=True))
    # The last line of defence: no known secret value leaves, whatever carried it here.
    return redact("\n".join(out))


def render_report_json(report: ApplyReport) -> str:
    """The report as JSON (stable keys: version, run_id, dry_run, status, summary, results,
    bought, notes, interrupted, unknown_purchases: each a pool, location, quantity and since)."""
    return redact(
        json.dumps(
            report.as_json(), sort_keys=True, indent=2, ensure_ascii=False, default=json_default
        )
    )
