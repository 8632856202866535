"""What ``reconciler validate`` prints: diagnostics as text (people) or JSON (editors, CI).

Renderers return strings; :mod:`reconciler.cli` prints them. The JSON form is stable::

    {"diagnostics": [{"file", "line", "column", "message", "severity"}, ...],
     "summary": {"valid": bool, "errors": int, "warnings": int,
                 "files": [...], "resources": {"pools": int, ...}}}   # these two when valid

``line`` and ``column`` are 1-based, as editors and CI annotations expect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.desired.model import DesiredState
from reconciler.errors import Diagnostic

_RED = "\x1b[31m"
_YELLOW = "\x1b[33m"
_GREEN = "\x1b[32m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def resources(state: DesiredState) -> dict[str, int]:
    """How many of each thing the state declares."""
    return {
        "pools": len(state.pools),
        "pinned_numbers": len(state.pinned),
        "inbound_services": len(state.inbound_services),
        "outbound_services": len(state.outbound_services),
        "relay_routes": len(state.relay_routes),
    }


def _counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    return errors, len(diagnostics) - errors


def render_text(
    diagnostics: Sequence[Diagnostic],
    *,
    path: str,
    state: DesiredState | None = None,
    color: bool = False,
) -> str:
    """One line per diagnostic (``file:line:column: severity: message``), then a summary.

    ``state`` is the loaded state when it is valid (None when there are errors).
    """
    lines: list[str] = []
    for d in diagnostics:
        severity: str = d.severity
        if color:
            severity = f"{_RED if severity == 'error' else _YELLOW}{_BOLD}{severity}{_RESET}"
        lines.append(f"{d.file}:{d.line}:{d.column}: {severity}: {d.message}")
    errors, warnings = _counts(diagnostics)
    if state is not None and errors == 0:
        counts = resources(state)
        what = ", ".join(
            [
                _plural(counts["pools"], "pool"),
                _plural(counts["pinned_numbers"], "pinned number"),
                _plural(counts["inbound_services"], "inbound service"),
                _plural(counts["outbound_services"], "outbound service"),
                _plural(counts["relay_routes"], "relay route"),
            ]
        )
        valid = f"{_GREEN}valid{_RESET}" if color else "valid"
        tail = f" ({_plural(warnings, 'warning')})" if warnings else ""
        lines.append(f"{path} is {valid}: {what}{tail}.")
    else:
        summary = f"{path}: {_plural(errors, 'error')}"
        if warnings:
            summary += f", {_plural(warnings, 'warning')}"
        lines.append(summary + ".")
    return "\n".join(lines)


def render_json(diagnostics: Sequence[Diagnostic], *, state: DesiredState | None = None) -> str:
    """The JSON form described in the module docstring."""
    errors, warnings = _counts(diagnostics)
    summary: dict[str, Any] = {
        "valid": errors == 0 and state is not None,
        "errors": errors,
        "warnings": warnings,
    }
    if state is not None and errors == 0:
        summary["files"] = list(state.sources)
        summary["resources"] = resources(state)
    document = {"diagnostics": [d.as_json() for d in diagnostics], "summary": summary}
    return json.dumps(document, indent=2)
