"""Renderers of a :class:`~reconciler.drift.report.DriftReport`: text, json, markdown.

Each returns a string; only :mod:`reconciler.cli` prints. Secret values show as their mask
(``(sensitive)``, or a URL with its password masked), whichever side of a diff they are on.
The JSON form is documented by ``schemas/drift.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.drift.report import DriftField, DriftItem, DriftReport
from reconciler.secret import Secret, json_default, to_jsonable

FORMAT_VERSION = 1

_COLORS = {"~": "yellow", "+": "green", "-": "red"}


def show_value(value: Any) -> str:
    """A value as one line: strings quoted, secrets masked, structures as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, Secret):
        return value.display
    return json.dumps(to_jsonable(value), ensure_ascii=False, default=json_default)


def _summary_line(report: DriftReport) -> str:
    parts = [f"{n} {noun}{'s' if n != 1 else ''}" for noun, n in report.counts().items()]
    return ", ".join(parts)


def _source(report: DriftReport) -> str:
    return ", ".join(report.sources) if report.sources else "the desired state"


def _resources(n: int) -> str:
    return "1 resource differs" if n == 1 else f"{n} resources differ"


def _field_line(f: DriftField) -> str:
    if f.action == "add":
        return f"{f.path}: missing live, declared {show_value(f.declared)}"
    if f.action == "remove":
        return f"{f.path}: live {show_value(f.live)}, declared: not set (default)"
    return f"{f.path}: live {show_value(f.live)}, declared {show_value(f.declared)}"


# --------------------------------------------------------------------------- text


def render_text(report: DriftReport, *, color: bool = False) -> str:
    """Terraform-like text: one block per drifted resource, its fields, and apply's remedy."""

    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines: list[str] = []
    if report.in_sync:
        lines.append(style(f"No drift: the account matches {_source(report)}.", fg="green"))
    else:
        n = len(report.items)
        lines.append(
            style(
                f"Drift: {_resources(n)} from {_source(report)}.",
                bold=True,
            )
        )
        for item in report.items:
            mark = item.mark
            lines.append("")
            lines.append(
                style(f"{mark} {item.address}", fg=_COLORS[mark], bold=True)
                + f"  ({item.resource}) {item.summary}"
            )
            lines.extend(f"    {_field_line(f)}" for f in item.fields)
            lines.append(style(f"    -> {item.remedy}", dim=True))
    for w in report.warnings:
        lines.append("")
        lines.append(style(f"Warning: {w}", fg="yellow"))
    if report.silenced:
        lines.append("")
        lines.append(f"Ignored ({len(report.silenced)}, by drift.ignore or --ignore):")
        for s in report.silenced:
            where = s.address if s.field is None else f"{s.address}/{s.field}"
            lines.append(f"    {where}  (rule {s.pattern!r})")
    if report.unused_patterns:
        lines.append("")
        lines.append(
            "Ignore rules that matched nothing: "
            + ", ".join(repr(p) for p in report.unused_patterns)
        )
    if report.unmanaged_numbers:
        n = len(report.unmanaged_numbers)
        lines.append("")
        lines.append(
            f"Note: {n} number{'s' if n != 1 else ''} on the account match no pool or pin "
            "(not managed; prune.numbers is off)."
        )
    if not report.in_sync:
        lines.append("")
        lines.append(
            style(f"Drift: {_summary_line(report)}.", bold=True)
            + " `reconciler plan` shows the full plan; `reconciler apply` corrects it."
        )
    return "\n".join(lines)


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
    """The JSON-ready form (``schemas/drift.schema.json``); secrets masked."""
    return {
        "format_version": FORMAT_VERSION,
        "in_sync": report.in_sync,
        "sources": list(report.sources),
        "summary": {
            "drifted": len(report.items),
            "silenced": len(report.silenced),
            "by_resource": report.counts(),
            "unmanaged_numbers": len(report.unmanaged_numbers),
        },
        "drift": [_item_json(i) for i in report.items],
        "silenced": [
            {"address": s.address, "field": s.field, "pattern": s.pattern} for s in report.silenced
        ],
        "unused_ignore_rules": list(report.unused_patterns),
        "warnings": list(report.warnings),
        "unmanaged_numbers": list(report.unmanaged_numbers),
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


def render_markdown(report: DriftReport) -> str:
    """For an issue or a pull-request comment: a table per drifted resource."""
    lines: list[str] = []
    if report.in_sync:
        lines.append(f"### No drift\n\nThe account matches {_md(_source(report))}.")
    else:
        n = len(report.items)
        lines.append(f"### Drift: {_resources(n)}")
        lines.append("")
        lines.append(f"{_summary_line(report)}; compared with {_md(_source(report))}.")
        lines.append("")
        lines.append("| | Resource | Field | Live | Declared |")
        lines.append("|---|---|---|---|---|")
        for item in report.items:
            mark = item.mark
            if not item.fields:
                lines.append(f"| {mark} | {_code(item.address)} | | {_md(item.summary)} | |")
            for f in item.fields:
                live = "(missing)" if f.action == "add" else show_value(f.live)
                declared = "(default)" if f.action == "remove" else show_value(f.declared)
                lines.append(
                    f"| {mark} | {_code(item.address)} | {_code(f.path)} "
                    f"| {_code(live)} | {_code(declared)} |"
                )
        lines.append("")
        lines.append("**What `reconciler apply` would do**")
        lines.append("")
        lines.extend(f"- {_code(item.address)}: {_md(item.remedy)}" for item in report.items)
    if report.warnings:
        lines.append("")
        lines.extend(f"> **Warning:** {_md(w)}" for w in report.warnings)
    if report.silenced:
        lines.append("")
        lines.append(f"<details><summary>Ignored drift ({len(report.silenced)})</summary>")
        lines.append("")
        for s in report.silenced:
            where = s.address if s.field is None else f"{s.address}/{s.field}"
            lines.append(f"- {_code(where)} (rule {_code(s.pattern)})")
        lines.append("")
        lines.append("</details>")
    if report.unmanaged_numbers:
        lines.append("")
        lines.append(
            f"{len(report.unmanaged_numbers)} number(s) on the account match no pool or pin "
            "(not managed)."
        )
    return "\n".join(lines) + "\n"
