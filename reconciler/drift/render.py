"""Renderers of a :class:`~reconciler.drift.report.DriftReport`: text, json, markdown.

Each returns a string; only :mod:`reconciler.cli` prints. Secret values show as their mask
(``(sensitive)``, or a URL with its password masked), whichever side of a diff they are on.
The JSON form is documented by ``schemas/drift.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.drift.report import DriftField, DriftItem, DriftReport, Silenced
from reconciler.plan.grouping import FOLD_SHOWN, Group, fold, group_by, plural
from reconciler.plan.render import MARKDOWN_LIMIT, unmanaged_notes
from reconciler.secret import Secret, json_default, to_jsonable

FORMAT_VERSION = 1
# Markdown: warnings and groups of ignored drift listed before "and N more".
_MD_WARNINGS_SHOWN = 20
_MD_SILENCED_SHOWN = 50

_COLORS = {"~": "yellow", "+": "green", "-": "red"}


def show_value(value: Any) -> str:
    """A value as one line: strings quoted, secrets masked, structures as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, Secret):
        return value.display
    return json.dumps(to_jsonable(value), ensure_ascii=False, default=json_default)


def _summary_line(report: DriftReport) -> str:
    return ", ".join(plural(n, noun) for noun, n in report.counts().items())


def _source(report: DriftReport) -> str:
    return ", ".join(report.sources) if report.sources else "the desired state"


def _resources(n: int) -> str:
    return "1 resource differs" if n == 1 else f"{n:,} resources differ"


def _field_line(f: DriftField) -> str:
    if f.action == "add":
        return f"{f.path}: missing live, declared {show_value(f.declared)}"
    if f.action == "remove":
        return f"{f.path}: live {show_value(f.live)}, declared: not set (default)"
    return f"{f.path}: live {show_value(f.live)}, declared {show_value(f.declared)}"


def _subject(group: Group[DriftItem]) -> str:
    """The address of a group's one item, or ``500 inbound services``."""
    if not group.folded:
        return group.first.address
    return plural(len(group), group.first.resource)


def _addresses(group: Group[DriftItem]) -> list[str]:
    return [item.address for item in group.items]


def _silenced_groups(report: DriftReport) -> tuple[Group[Silenced], ...]:
    """Silenced drift, the same field silenced by the same rule on many resources as one."""
    return group_by(report.silenced, lambda s: (s.field, s.pattern))


def _silenced_line(group: Group[Silenced]) -> tuple[str, str]:
    """What a group of silenced drift is, and the rule that silenced it."""
    first = group.first
    if not group.folded:
        where = first.address if first.field is None else f"{first.address}/{first.field}"
        return where, first.pattern
    names = fold([s.address for s in group.items])
    what = (
        f"{len(group):,} resources"
        if first.field is None
        else f"{first.field} of {len(group):,} resources"
    )
    return f"{what} ({names})", first.pattern


# --------------------------------------------------------------------------- text


def render_text(report: DriftReport, *, color: bool = False) -> str:
    """Terraform-like text: one block per drifted resource (the same drift on many resources
    once, with their count and names), its fields, and apply's remedy."""

    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines: list[str] = []
    if report.in_sync:
        lines.append(style(f"No drift: the account matches {_source(report)}.", fg="green"))
    else:
        n = len(report.items)
        lines.append(style(f"Drift: {_resources(n)} from {_source(report)}.", bold=True))
        for group in report.groups():
            item = group.first
            lines.append("")
            head = style(f"{item.mark} {_subject(group)}", fg=_COLORS[item.mark], bold=True)
            if group.folded:
                lines.append(f"{head}: {item.summary}")
                lines.append(f"    {fold(_addresses(group))}")
            else:
                lines.append(f"{head}  ({item.resource}) {item.summary}")
            lines.extend(f"    {_field_line(f)}" for f in item.fields)
            lines.append(style(f"    -> {item.remedy}", dim=True))
    for w in report.warnings:
        lines.append("")
        lines.append(style(f"Warning: {w}", fg="yellow"))
    if report.silenced:
        lines.append("")
        lines.append(f"Ignored ({len(report.silenced):,}, by drift.ignore or --ignore):")
        for silenced in _silenced_groups(report):
            where, pattern = _silenced_line(silenced)
            lines.append(f"    {where}  (rule {pattern!r})")
    if report.unused_patterns:
        lines.append("")
        lines.append(
            "Ignore rules that matched nothing: "
            + ", ".join(repr(p) for p in report.unused_patterns)
        )
    for note, names in _unmanaged(report):
        lines.append("")
        lines.append(f"Unmanaged: {note}:")
        lines.append(f"    {names}")
    if not report.in_sync:
        lines.append("")
        lines.append(
            style(f"Drift: {_summary_line(report)}.", bold=True)
            + " `reconciler plan` shows the full plan; `reconciler apply` corrects it."
        )
    return "\n".join(lines)


def _unmanaged(report: DriftReport) -> list[tuple[str, str]]:
    return unmanaged_notes(report.unmanaged_numbers, report.unmanaged_services)


# --------------------------------------------------------------------------- json


def _field_json(f: DriftField) -> dict[str, Any]:
    return {
        "path": f.path,
        "action": f.action,
        "live": to_jsonable(f.live),
        "declared": to_jsonable(f.declared),
    }


def _item_json(item: DriftItem) -> dict[str, Any]:
    return {
        "address": item.address,
        "kind": item.kind,
        "resource": item.resource,
        "summary": item.summary,
        "fields": [_field_json(f) for f in item.fields],
        "apply": item.remedy,
        "blocked": item.blocked,
    }


def report_json(report: DriftReport) -> dict[str, Any]:
    """The JSON-ready form (``schemas/drift.schema.json``); secrets masked. Every drifted
    resource is listed; ``groups`` names those the text and markdown fold into one entry."""
    return {
        "format_version": FORMAT_VERSION,
        "in_sync": report.in_sync,
        "sources": list(report.sources),
        "summary": {
            "drifted": len(report.items),
            "silenced": len(report.silenced),
            "by_resource": report.counts(),
            "unmanaged_numbers": len(report.unmanaged_numbers),
            "unmanaged_services": len(report.unmanaged_services),
        },
        "drift": [_item_json(i) for i in report.items],
        "groups": [
            {
                "kind": g.first.kind,
                "count": len(g),
                "summary": g.first.summary,
                "addresses": _addresses(g),
            }
            for g in report.groups()
            if g.folded
        ],
        "silenced": [
            {"address": s.address, "field": s.field, "pattern": s.pattern} for s in report.silenced
        ],
        "unused_ignore_rules": list(report.unused_patterns),
        "warnings": list(report.warnings),
        "unmanaged_numbers": list(report.unmanaged_numbers),
        "unmanaged_services": list(report.unmanaged_services),
    }


def render_json(report: DriftReport) -> str:
    """Stable JSON for CI tools: sorted keys, two-space indent."""
    return json.dumps(report_json(report), indent=2, sort_keys=True, default=json_default)


# --------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    """Escape a table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _md_subject(group: Group[DriftItem]) -> str:
    if not group.folded:
        return _code(group.first.address)
    names = ", ".join(_code(a) for a in _addresses(group)[:FOLD_SHOWN])
    rest = len(group) - FOLD_SHOWN
    return f"{_subject(group)}: {names}" + (f" and {rest:,} more" if rest > 0 else "")


def _md_rows(group: Group[DriftItem]) -> list[str]:
    item = group.first
    what = _md_subject(group)
    if not item.fields:
        return [f"| {item.mark} | {what} | | {_md(item.summary)} | |"]
    rows = []
    for f in item.fields:
        live = "(missing)" if f.action == "add" else show_value(f.live)
        declared = "(default)" if f.action == "remove" else show_value(f.declared)
        rows.append(
            f"| {item.mark} | {what} | {_code(f.path)} | {_code(live)} | {_code(declared)} |"
        )
    return rows


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def render_markdown(
    report: DriftReport, *, full_report: str | None = None, limit: int = MARKDOWN_LIMIT
) -> str:
    """For an issue or a pull-request comment: the summary first, a table of the drifted
    fields (the same drift on many resources in one entry), what apply would do.

    It always fits one comment (``limit`` characters): what doesn't fit is left out, and a
    note says how much and names the full report (``full_report``, the file
    ``drift --out`` wrote, or else how to see it)."""
    head: list[str] = []
    if report.in_sync:
        head.append(f"### No drift\n\nThe account matches {_md(_source(report))}.")
    else:
        head.append(f"### Drift: {_resources(len(report.items))}")
        head.append("")
        head.append(f"{_summary_line(report)}; compared with {_md(_source(report))}.")
        head.append("")
    notes = _md_notes(report)
    body: list[str] = []
    left_out = 0
    if not report.in_sync:
        groups = report.groups()
        budget = limit - _size(head) - _size(notes) - _LEFT_OUT_RESERVE
        table = ["| | Resource | Field | Live | Declared |", "|---|---|---|---|---|"]
        remedies = ["", "**What `reconciler apply` would do**", ""]
        for group in groups:
            rows = _md_rows(group)
            who = _subject(group) if group.folded else _code(group.first.address)
            remedy = f"- {who}: {_md(group.first.remedy)}"
            if left_out or _size(table) + _size(rows) + _size(remedies) + len(remedy) > budget:
                left_out += len(group)
                continue
            table.extend(rows)
            remedies.append(remedy)
        body = table + remedies
        if left_out:
            body.extend(["", *_left_out(report, left_out, full_report)])
    return "\n".join(head + body + notes) + "\n"


# Room kept for the note on what was left out.
_LEFT_OUT_RESERVE = 600


def _left_out(report: DriftReport, left_out: int, full_report: str | None) -> list[str]:
    total = len(report.items)
    if full_report:
        where = (
            f"The full report is in `{_md(full_report)}` (written by `reconciler drift --out`; "
            "the CI recipes keep it as an artifact of the run)."
        )
    else:
        where = "Run `reconciler drift` for the full report, or write it with `--out drift.json`."
    return [
        "> [!NOTE]",
        f"> This report is too long for one comment: {left_out:,} of the {total:,} drifted "
        f"resources are left out. {where}",
    ]


def _md_notes(report: DriftReport) -> list[str]:
    lines: list[str] = []
    if report.warnings:
        lines.append("")
        lines.extend(f"> **Warning:** {_md(w)}" for w in report.warnings[:_MD_WARNINGS_SHOWN])
        more = len(report.warnings) - _MD_WARNINGS_SHOWN
        if more > 0:
            lines.append(f"> and {plural(more, 'more warning')} (in the full report)")
    if report.silenced:
        lines.append("")
        lines.append(f"<details><summary>Ignored drift ({len(report.silenced):,})</summary>")
        lines.append("")
        groups = _silenced_groups(report)
        for group in groups[:_MD_SILENCED_SHOWN]:
            where, pattern = _silenced_line(group)
            lines.append(f"- {_md(where)} (rule {_code(pattern)})")
        if len(groups) > _MD_SILENCED_SHOWN:
            lines.append(f"- and {len(groups) - _MD_SILENCED_SHOWN:,} more (in the full report)")
        lines.append("")
        lines.append("</details>")
    for note, names in _unmanaged(report):
        lines.append("")
        lines.append(f"**Unmanaged:** {_md(note)}: {_md(names)}")
    return lines
