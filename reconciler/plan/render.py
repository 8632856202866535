"""Renderers of a :class:`Plan`: text (a terminal), JSON (CI tools), Markdown (a PR comment).

They only read the plan and return strings; :mod:`reconciler.cli` prints them. Secrets show as
``(sensitive)`` in all three, old and new values alike, and a URL with a password shows with
its password masked: every value goes through :func:`reconciler.plan.changes.public`.

Text marks (as in Terraform): ``+`` purchase/create, ``~`` update/modify, ``-`` delete/release.
The summary line is ``Plan: 3 to purchase, 1 to create, 2 to update, 0 to delete, 0 to
release, 0 relay routes to change``, followed by the monthly cost change when numbers are
bought or released.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import click

from reconciler.plan.changes import Change, CostChange, FieldChange, Plan, public
from reconciler.plan.safety import Verdict
from reconciler.secret import Secret, conceal, json_default

NO_CHANGES = "No changes. The live account matches the desired state."
ALLOW_RELEASE_HINT = "blocked: needs --allow-release"
DEFAULTS_ONLY = "(every option at its default)"

# Show this many unmanaged numbers, then "and N more".
_UNMANAGED_SHOWN = 20
# Markdown: field diffs longer than this go into a collapsed <details> block.
_MD_INLINE_LINES = 6

_COLORS = {"+": "green", "~": "yellow", "-": "red", "!": "yellow"}

Style = Callable[..., str]


def _no_style(text: str, **_kw: Any) -> str:
    return text


# ----------------------------------------------------------------------------- values


def format_value(value: Any, key: str | None = None) -> str:
    """A value as shown in a diff line: JSON, or the bare mask for a secret."""
    concealed = conceal(value, key=key)
    if isinstance(concealed, Secret):
        return concealed.display
    return json.dumps(public(concealed), ensure_ascii=False, default=json_default)


def flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a nested configuration as ``(dotted.path, value)``, sorted by key (so a
    plan shows the same whatever the order of the YAML or of a saved plan)."""
    for key, value in sorted(config.items(), key=lambda kv: str(kv[0])):
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, path + ".")
        else:
            yield path, value


def _leaf_key(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def field_line(change: FieldChange) -> str:
    """``~ rest.first_page.address: "a" -> "b"`` (``+ path: new``, ``- path: old``)."""
    key = change.key
    if change.action == "add":
        return f"+ {change.path}: {format_value(change.new, key)}"
    if change.action == "remove":
        return f"- {change.path}: {format_value(change.old, key)}"
    return f"~ {change.path}: {format_value(change.old, key)} -> {format_value(change.new, key)}"


def body_lines(config: Mapping[str, Any]) -> list[str]:
    """``+ path: value`` for every leaf of a configuration to create."""
    return [f"+ {path}: {format_value(v, _leaf_key(path))}" for path, v in flatten(config)]


def money(value: Decimal, *, sign: bool = False) -> str:
    amount = f"${abs(value).quantize(Decimal('0.01'))}"
    if not sign:
        return amount
    return ("-" if value < 0 else "+") + amount


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def summary_line(plan: Plan, verdict: Verdict) -> str:
    """``Plan: 3 to purchase, 1 to create, 2 to update, 0 to delete, 0 to release, ...``"""
    c = plan.counts()
    create = f"{c['create']} to create"
    if c["create_pending"]:
        create += f" ({c['create_pending']} for new numbers)"
    release = f"{c['release']} to release"
    if c["release"] and verdict.releases_blocked:
        release += f" ({ALLOW_RELEASE_HINT})"
    relay = "relay route" if c["relay"] == 1 else "relay routes"
    return (
        f"Plan: {c['purchase']} to purchase, {create}, {c['update']} to update, "
        f"{c['delete']} to delete, {release}, {c['relay']} {relay} to change"
    )


def cost_line(cost: CostChange, verdict: Verdict) -> str | None:
    """``Monthly cost: +$4.50 est. for 3 new numbers, -$1.00 for 1 released number; net
    +$3.50 est.``; None when the plan buys and releases nothing."""
    if cost.is_empty:
        return None
    parts: list[str] = []
    if cost.purchase_numbers:
        new = _plural(cost.purchase_numbers, "new number")
        if cost.purchased_unknown == cost.purchase_numbers:
            parts.append(f"unknown for {new} (no such numbers on the account to estimate from)")
        else:
            text = f"{money(cost.purchased, sign=True)} est. for {new}"
            if cost.purchased_unknown:
                text += f" ({cost.purchased_unknown} of them unknown)"
            parts.append(text)
    if cost.release_numbers:
        gone = _plural(cost.release_numbers, "released number")
        if cost.released_unknown == cost.release_numbers:
            text = f"unknown for {gone} (no listed price)"
        else:
            text = f"{money(-cost.released, sign=True)} for {gone}"
            if cost.released_unknown:
                text += f" ({cost.released_unknown} without a listed price)"
        if verdict.releases_blocked:
            text += " (blocked)"
        parts.append(text)
    line = "Monthly cost: " + ", ".join(parts)
    some_known = (
        cost.purchased_unknown < cost.purchase_numbers
        and cost.released_unknown < cost.release_numbers
    )
    if cost.purchase_numbers and cost.release_numbers and some_known:
        line += f"; net {money(cost.net, sign=True)}"
        if cost.estimated:
            line += " est."
        if cost.has_unknown:
            line += " plus unknown"
    return line


# ----------------------------------------------------------------------------- changes


def headline(change: Change, verdict: Verdict) -> str:
    """What a change does, in a few words (``purchase 2 numbers``), and whether it is
    blocked."""
    if verdict.blocks(change):
        return f"{change.headline} ({ALLOW_RELEASE_HINT})"
    return change.headline


def detail_lines(change: Change) -> list[str]:
    """The lines under a change's headline: facts, field diffs, the configuration it
    creates, cautions."""
    lines = list(change.facts)
    lines.extend(field_line(d) for d in change.fields)
    config = change.config
    if config is not None:
        body = body_lines(config) or [DEFAULTS_ONLY]
        title = change.config_title
        if title is None:
            lines.extend(body)
        else:
            lines.append(title)
            lines.extend("  " + line for line in body)
    lines.extend(f"! {caution}" for caution in change.cautions)
    return lines


# ----------------------------------------------------------------------------- text


def render_text(plan: Plan, verdict: Verdict, *, color: bool) -> str:
    """The plan for a terminal (Terraform-like); colour only when ``color``."""
    style: Style = click.style if color else _no_style
    out: list[str] = []
    if plan.changes:
        out.append(
            "reconciler will make these changes "
            "(+ purchase/create, ~ update/modify, - delete/release):"
        )
        out.append("")
        for change in plan.changes:
            mark = style(change.mark, fg=_COLORS[change.mark], bold=True)
            head = headline(change, verdict)
            if verdict.blocks(change):
                head = style(head, fg="red", bold=True)
            out.append(f"  {mark} {style(change.address, bold=True)}: {head}")
            for line in detail_lines(change):
                first = line[:1]
                if first in _COLORS and line[1:2] == " ":
                    line = style(first, fg=_COLORS[first]) + line[1:]
                out.append(f"      {line}")
            out.append("")
    out.extend(_notes_text(plan, style))
    if plan.changes:
        out.append(style(summary_line(plan, verdict), bold=True))
        cost = cost_line(plan.cost(), verdict)
        if cost:
            out.append(cost)
    else:
        out.append(style(NO_CHANGES, fg="green"))
    return "\n".join(out)


def _unmanaged_summary(numbers: tuple[str, ...]) -> str:
    shown = ", ".join(numbers[:_UNMANAGED_SHOWN])
    if len(numbers) > _UNMANAGED_SHOWN:
        shown += f", and {len(numbers) - _UNMANAGED_SHOWN} more"
    return shown


def _notes_text(plan: Plan, style: Style) -> list[str]:
    out: list[str] = []
    if plan.warnings:
        out.append(style("Warnings:", fg="yellow", bold=True))
        out.extend(f"  {style('!', fg='yellow')} {w}" for w in plan.warnings)
        out.append("")
    if plan.unmanaged_numbers:
        n = len(plan.unmanaged_numbers)
        out.append(
            f"Unmanaged: {_plural(n, 'number')} on the account "
            f"{'matches' if n == 1 else 'match'} no pool or pin and "
            f"{'is' if n == 1 else 'are'} left alone (see prune.numbers):"
        )
        out.append(f"  {_unmanaged_summary(plan.unmanaged_numbers)}")
        out.append("")
    return out


# ----------------------------------------------------------------------------- json


def render_json(plan: Plan, verdict: Verdict) -> str:
    """The JSON form (``schemas/plan.schema.json``): sorted keys, ``format_version``."""
    return json.dumps(
        plan.as_json(verdict),
        sort_keys=True,
        indent=2,
        ensure_ascii=False,
        default=json_default,
    )


# ----------------------------------------------------------------------------- markdown

_MD_MARKS = {"+": "➕", "~": "🔄", "-": "➖"}


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _fence(lines: list[str], lang: str = "diff") -> list[str]:
    body = "\n".join(lines)
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return [f"{ticks}{lang}", body, ticks]


def _md_diff_lines(change: Change) -> list[str]:
    """Detail lines in GitHub's ``diff`` syntax: a field change is a ``-`` line and a ``+``
    line; a configuration to create is ``+`` lines under its title."""
    lines: list[str] = []
    for d in change.fields:
        if d.action in ("change", "remove"):
            lines.append(f"- {d.path}: {format_value(d.old, d.key)}")
        if d.action in ("change", "add"):
            lines.append(f"+ {d.path}: {format_value(d.new, d.key)}")
    config = change.config
    if config is not None:
        title = change.config_title
        if title is not None:
            lines.append(title)
        lines.extend(body_lines(config) or [DEFAULTS_ONLY])
    return lines


def render_markdown(plan: Plan, verdict: Verdict) -> str:
    """The plan as a pull-request comment: a summary table, a table of changes, and each
    change's fields (long ones collapsed in ``<details>``)."""
    out = ["### reconciler plan", ""]
    if not plan.changes:
        out.append(f"**{NO_CHANGES}**")
        out.append("")
        out.extend(_md_notes(plan))
        return "\n".join(out).rstrip() + "\n"

    c = plan.counts()
    blocked = c["release"] and verdict.releases_blocked
    out.append(f"**{summary_line(plan, verdict)}**")
    out.append("")
    out.append("| Purchase | Create | Update | Delete | Release | Relay routes |")
    out.append("|---:|---:|---:|---:|---:|---:|")
    create = (
        f"{c['create']} ({c['create_pending']} for new numbers)"
        if c["create_pending"]
        else c["create"]
    )
    release = f"{c['release']} (blocked)" if blocked else c["release"]
    out.append(
        f"| {c['purchase']} | {create} | {c['update']} | {c['delete']} | {release} | {c['relay']} |"
    )
    cost = cost_line(plan.cost(), verdict)
    if cost:
        out.append("")
        out.append(cost)
    out.append("")
    if blocked:
        out.append(
            "> [!CAUTION]\n> Releasing a number is irreversible. The releases below are "
            "**blocked** unless apply is run with `--allow-release`."
        )
        out.append("")

    out.append("| | Resource | Change | Detail |")
    out.append("|:-:|---|---|---|")
    for change in plan.changes:
        head = headline(change, verdict)
        if verdict.blocks(change):
            head = f"**{head}**"
        out.append(
            f"| {_MD_MARKS[change.mark]} | `{_cell(change.address)}` | {_cell(head)} "
            f"| {_cell(change.summary)} |"
        )
    out.append("")

    for change in plan.changes:
        lines = _md_diff_lines(change)
        if not lines:
            continue
        code = f"<code>{html.escape(change.address)}</code>"
        title = f"{code}: {html.escape(change.summary)}"
        if len(lines) > _MD_INLINE_LINES:
            out.append(f"<details><summary>{title}</summary>")
            out.append("")
            out.extend(_fence(lines))
            out.append("")
            out.append("</details>")
        else:
            out.append(f"{title}")
            out.append("")
            out.extend(_fence(lines))
        out.append("")

    out.extend(_md_notes(plan))
    return "\n".join(out).rstrip() + "\n"


def _md_notes(plan: Plan) -> list[str]:
    out: list[str] = []
    if plan.warnings:
        out.append("**Warnings**")
        out.append("")
        out.extend(f"- ⚠️ {_cell(w)}" for w in plan.warnings)
        out.append("")
    if plan.unmanaged_numbers:
        n = len(plan.unmanaged_numbers)
        out.append(
            f"**Unmanaged:** {_plural(n, 'number')} on the account "
            f"{'matches' if n == 1 else 'match'} no pool or pin and "
            f"{'is' if n == 1 else 'are'} left alone: {_unmanaged_summary(plan.unmanaged_numbers)}"
        )
        out.append("")
    return out
