"""Drift: what someone changed on the live account by hand, and what apply would do about it.

``reconciler drift PATH`` loads the desired state, reads the live account, makes the same
plan ``reconciler plan`` makes, and reports it as drift (:func:`detect_drift`), after the
ignore rules of :mod:`reconciler.drift.ignore` silence known, accepted drift. Read-only:
nothing is ever written to the account or to disk.
"""

from __future__ import annotations

from reconciler.drift.ignore import IgnoreRule, parse_rules
from reconciler.drift.report import DriftField, DriftItem, DriftReport, Silenced, detect_drift

__all__ = [
    "DriftField",
    "DriftItem",
    "DriftReport",
    "IgnoreRule",
    "Silenced",
    "detect_drift",
    "parse_rules",
]
