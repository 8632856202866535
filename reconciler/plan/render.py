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
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import click

from reconciler.plan.changes import Change, CostChange, FieldChange, Plan, public
from reconciler.plan.grouping import FOLD_SHOWN, Group, fold, plural
from reconciler.plan.safety import Verdict
from reconciler.secret import Secret, conceal, json_default

NO_CHANGES = "No changes. The live account matches the desired state."
ALLOW_RELEASE_HINT = "blocked: needs --allow-release"
DEFAULTS_ONLY = "(every option at its default)"

# Show this many unmanaged numbers or services, then "and N more".
_UNMANAGED_SHOWN = 10
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


def summary_line(plan: Plan, verdict: Verdict) -> str:
    """``Plan: 3 to purchase, 1 to create, 2 to update, 0 to delete, 0 to release, ...``"""
    c = plan.counts()
    create = f"{c['create']:,} to create"
    if c["create_pending"]:
        create += f" ({c['create_pending']:,} for new numbers)"
    release = f"{c['release']:,} to release"
    if c["release"] and verdict.releases_blocked:
        release += f" ({ALLOW_RELEASE_HINT})"
    return (
        f"Plan: {c['purchase']:,} to purchase, {create}, {c['update']:,} to update, "
        f"{c['delete']:,} to delete, {release}, {plural(c['relay'], 'relay route')} to change"
    )


def cost_line(cost: CostChange, verdict: Verdict) -> str | None:
    """``Monthly cost: +$4.50 est. for 3 new numbers, -$1.00 for 1 released number; net
    +$3.50 est.``; None when the plan buys and releases nothing."""
    if cost.is_empty:
        return None
    parts: list[str] = []
    if cost.purchase_numbers:
        new = plural(cost.purchase_numbers, "new number")
        if cost.purchased_unknown == cost.purchase_numbers:
            parts.append(f"unknown for {new} (no such numbers on the account to estimate from)")
        else:
            text = f"{money(cost.purchased, sign=True)} est. for {new}"
            if cost.purchased_unknown:
                text += f" ({cost.purchased_unknown:,} of them unknown)"
            parts.append(text)
    if cost.release_numbers:
        gone = plural(cost.release_numbers, "released number")
        if cost.released_unknown == cost.release_numbers:
            text = f"unknown for {gone} (no listed price)"
        else:
            text = f"{money(-cost.released, sign=True)} for {gone}"
            if cost.released_unknown:
                text += f" ({cost.released_unknown:,} without a listed price)"
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


def subject(group: Group[Change]) -> str:
    """What a group changes: the address of its one change, or ``500 inbound services``."""
    if not group.folded:
        return group.first.address
    return plural(len(group), group.first.resource)


def members(group: Group[Change]) -> str:
    """The addresses of a folded group, past a few folded: ``inbound:a, ... and 495 more``."""
    return fold([c.address for c in group.items])


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
    """The plan for a terminal (Terraform-like); colour only when ``color``. The same edit
    made to many resources shows once, with their count and names."""
    style: Style = click.style if color else _no_style
    out: list[str] = []
    if plan.changes:
        out.append(
            "reconciler will make these changes "
            "(+ purchase/create, ~ update/modify, - delete/release):"
        )
        out.append("")
        for group in plan.groups():
            change = group.first
            mark = style(change.mark, fg=_COLORS[change.mark], bold=True)
            head = headline(change, verdict)
            if verdict.blocks(change):
                head = style(head, fg="red", bold=True)
            out.append(f"  {mark} {style(subject(group), bold=True)}: {head}")
            lines = detail_lines(change)
            if group.folded:
                lines.insert(0, members(group))
            for line in lines:
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


def unmanaged_numbers_note(numbers: Sequence[str]) -> str:
    n = len(numbers)
    return (
        f"{plural(n, 'number')} on the account {'matches' if n == 1 else 'match'} no pool or "
        f"pin and {'is' if n == 1 else 'are'} left alone (see prune.numbers)"
    )


def unmanaged_services_note(addresses: Sequence[str]) -> str:
    """``3 services on the account (2 inbound, 1 outbound) are declared nowhere ...``"""
    n = len(addresses)
    counts = {
        kind: count
        for kind in ("inbound", "outbound")
        if (count := sum(1 for a in addresses if a.startswith(f"{kind}:")))
    }
    if len(counts) == 1:
        [kind] = counts
        what = f"{plural(n, f'{kind} service')} on the account"
    else:
        what = f"{plural(n, 'service')} on the account ({counts['inbound']:,} inbound, "
        what += f"{counts['outbound']:,} outbound)"
    see = " / ".join(f"prune.{kind}_services" for kind in counts)
    return f"{what} {'is' if n == 1 else 'are'} declared nowhere and left alone (see {see})"


def unmanaged_notes(numbers: Sequence[str], services: Sequence[str]) -> list[tuple[str, str]]:
    """(what is unmanaged, its names folded past a few) for unmanaged numbers and services:
    the notes plan and drift show."""
    out: list[tuple[str, str]] = []
    if numbers:
        out.append((unmanaged_numbers_note(numbers), fold(numbers, _UNMANAGED_SHOWN)))
    if services:
        out.append((unmanaged_services_note(services), fold(services, _UNMANAGED_SHOWN)))
    return out


def _notes_text(plan: Plan, style: Style) -> list[str]:
    out: list[str] = []
    if plan.warnings:
        out.append(style("Warnings:", fg="yellow", bold=True))
        out.extend(f"  {style('!', fg='yellow')} {w}" for w in plan.warnings)
        out.append("")
    for note, names in unmanaged_notes(plan.unmanaged_numbers, plan.unmanaged_services):
        out.append(f"Unmanaged: {note}:")
        out.append(f"  {names}")
        out.append("")
    return out


# ----------------------------------------------------------------------------- json


def render_json(plan: Plan, verdict: Verdict) -> str:
    """The JSON form (``schemas/plan.schema.json``): sorted keys, ``format_version``; every
    change, and the folded groups beside them."""
    return json.dumps(
        plan.as_json(verdict),
        sort_keys=True,
        indent=2,
        ensure_ascii=False,
        default=json_default,
    )


# ----------------------------------------------------------------------------- markdown

_MD_MARKS = {"+": "➕", "~": "🔄", "-": "➖"}

# GitHub refuses a comment body over 65,536 characters; the CI recipes put a line or two
# above the plan. Markdown output stays under this many characters.
MARKDOWN_LIMIT = 60_000
# Markdown: warnings listed before "and N more".
_MD_WARNINGS_SHOWN = 20


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


def _md_row(group: Group[Change], verdict: Verdict) -> str:
    change = group.first
    head = headline(change, verdict)
    if verdict.blocks(change):
        head = f"**{head}**"
    what = f"`{_cell(change.address)}`"
    if group.folded:
        names = ", ".join(f"`{_cell(c.address)}`" for c in group.items[:FOLD_SHOWN])
        rest = len(group) - FOLD_SHOWN
        what = f"{subject(group)}: {names}" + (f" and {rest:,} more" if rest > 0 else "")
    return f"| {_MD_MARKS[change.mark]} | {what} | {_cell(head)} | {_cell(change.summary)} |"


def _md_details(group: Group[Change]) -> list[str]:
    change = group.first
    lines = _md_diff_lines(change)
    if not lines:
        return []
    name = subject(group) if group.folded else change.address
    title = f"<code>{html.escape(name)}</code>: {html.escape(change.summary)}"
    out: list[str] = []
    if len(lines) > _MD_INLINE_LINES:
        out.append(f"<details><summary>{title}</summary>")
        out.append("")
        out.extend(_fence(lines))
        out.append("")
        out.append("</details>")
    else:
        out.append(title)
        out.append("")
        out.extend(_fence(lines))
    out.append("")
    return out


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def render_markdown(
    plan: Plan, verdict: Verdict, *, full_plan: str | None = None, limit: int = MARKDOWN_LIMIT
) -> str:
    """The plan as a pull-request comment: the summary first, a table of changes (the same
    edit to many resources in one row), then each change's fields (long ones collapsed in
    ``<details>``).

    It always fits one comment (``limit`` characters): what doesn't fit is left out, and a
    note says how much and names the full plan (``full_plan``, the file ``plan --out``
    saved, or else how to see it)."""
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
        f"{c['create']:,} ({c['create_pending']:,} for new numbers)"
        if c["create_pending"]
        else f"{c['create']:,}"
    )
    release = f"{c['release']:,} (blocked)" if blocked else f"{c['release']:,}"
    out.append(
        f"| {c['purchase']:,} | {create} | {c['update']:,} | {c['delete']:,} | {release} "
        f"| {c['relay']:,} |"
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

    groups = plan.groups()
    notes = _md_notes(plan)
    # What the table and the details may take: the rest goes to the summary, the notes and
    # the note on what was left out.
    budget = limit - _size(out) - _size(notes) - _LEFT_OUT_RESERVE
    table = ["| | Resource | Change | Detail |", "|:-:|---|---|---|"]
    rows_shown = 0
    for group in groups:
        row = _md_row(group, verdict)
        if _size(table) + len(row) + 1 > budget:
            break
        table.append(row)
        rows_shown += 1
    table.append("")
    budget -= _size(table)
    details: list[str] = []
    details_left = 0
    for group in groups[:rows_shown]:
        block = _md_details(group)
        if not block:
            continue
        if details_left or _size(details) + _size(block) > budget:
            details_left += 1
            continue
        details.extend(block)
    out.extend(table)
    out.extend(details)
    if rows_shown < len(groups) or details_left:
        out.extend(_left_out(groups, rows_shown, details_left, full_plan))
    out.extend(notes)
    return "\n".join(out).rstrip() + "\n"


# Room kept for the note on what was left out.
_LEFT_OUT_RESERVE = 600


def _left_out(
    groups: Sequence[Group[Change]], rows_shown: int, details_left: int, full_plan: str | None
) -> list[str]:
    total = sum(len(g) for g in groups)
    shown = sum(len(g) for g in groups[:rows_shown])
    if rows_shown < len(groups):
        what = (
            f"the table lists {shown:,} of the {total:,} changes; the other {total - shown:,} "
            "and their details are left out"
        )
        if details_left:
            what += f", and so are the details of {plural(details_left, 'listed row')}"
    else:
        what = f"the details of {plural(details_left, 'row')} are left out"
    if full_plan:
        where = (
            f"The full plan is in `{_cell(full_plan)}` (saved by `reconciler plan --out`; the "
            "CI recipes keep it as an artifact of the run)."
        )
    else:
        where = (
            "Run `reconciler plan` for the full plan, or save it with `--out plan.json` "
            "(the CI recipes keep that file as an artifact of the run)."
        )
    return [
        "> [!NOTE]",
        f"> This plan is too long for one comment: {what}. {where}",
        "",
    ]


def _md_notes(plan: Plan) -> list[str]:
    out: list[str] = []
    if plan.warnings:
        out.append("**Warnings**")
        out.append("")
        out.extend(f"- ⚠️ {_cell(w)}" for w in plan.warnings[:_MD_WARNINGS_SHOWN])
        more = len(plan.warnings) - _MD_WARNINGS_SHOWN
        if more > 0:
            out.append(f"- and {plural(more, 'more warning')} (in the full plan)")
        out.append("")
    for note, names in unmanaged_notes(plan.unmanaged_numbers, plan.unmanaged_services):
        out.append(f"**Unmanaged:** {_cell(note)}: {_cell(names)}")
        out.append("")
    return out
