"""Folding the same edit made to many resources into one entry of the output.

Changing the ``inbound:`` of a 500-number pool makes 500 changes that differ only by the
service they touch. The renderers (plan and drift, text and markdown) show such a group once,
with its count and the names folded (:func:`fold`); the JSON forms keep every change and list
the groups beside them. What counts as "the same edit" is the caller's key: for a plan change
:meth:`reconciler.plan.changes.Change.edit`, for drift the item without its address.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Names shown before "and N more" (a group's members, unmanaged resources).
FOLD_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Group(Generic[T]):
    """Items that make the same edit, in their original order (one item: no folding)."""

    items: tuple[T, ...]

    @property
    def first(self) -> T:
        return self.items[0]

    @property
    def folded(self) -> bool:
        return len(self.items) > 1

    def __len__(self) -> int:
        return len(self.items)


def group_by(items: Iterable[T], key: Callable[[T], Hashable]) -> tuple[Group[T], ...]:
    """``items`` with equal keys gathered into one group, placed where its first item was;
    the order is otherwise kept (a plan's apply order stays visible)."""
    order: list[Hashable] = []
    members: dict[Hashable, list[T]] = {}
    for item in items:
        k = key(item)
        if k not in members:
            order.append(k)
            members[k] = []
        members[k].append(item)
    return tuple(Group(tuple(members[k])) for k in order)


def fold(names: Sequence[str], shown: int = FOLD_SHOWN) -> str:
    """``a, b, c, d, e and 495 more``: the first ``shown`` names, then how many are left."""
    if len(names) <= shown + 1:  # "and 1 more" would be no shorter than the name itself
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown:,} more"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 number``, ``3,203 numbers``: counts with thousands separators."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
