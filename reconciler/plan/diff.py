"""Comparing a service's declared configuration with its live one.

Two modes (docs/desired-state.md):

- ``merge``: only the declared keys are managed. Nested objects compare their declared keys
  only; lists and scalars compare whole. The update is a PATCH whose body holds only the
  differing keys (nested objects minimal too).
- ``replace``: the whole configuration is managed. The expected configuration is the
  server schema's defaults deep-merged with the declared keys; a live key that is neither
  declared nor defaulted is expected to be unset (an empty value -- ``null``, ``""``, ``[]``,
  ``{}`` -- counts as unset). The update is a PUT of the declared configuration.

``ignore_changes`` paths are removed from both sides before comparing, in both modes; a PUT
keeps their live values, so that ignoring a field never resets it.

The comparison is a plain ``==`` of the relevant projection first (``Secret.__eq__``
compares values); only when that differs is the field-level diff computed, with deepdiff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.configuration import deep_merge
from reconciler.plan.changes import Action, FieldChange
from reconciler.secret import Secret, conceal

Config = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceDiff:
    """What an update needs: the request and the field-level diff."""

    method: Literal["PATCH", "PUT"]
    body: Config
    diff: tuple[FieldChange, ...]


# ----------------------------------------------------------------------------- paths


def split_paths(paths: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p.split(".")) for p in paths if p)


def drop_paths(config: Config, paths: tuple[tuple[str, ...], ...]) -> Config:
    """``config`` without the values at ``paths`` (copies only what it changes)."""
    result: Config = config
    for path in paths:
        result = _drop(result, path)
    return result


def _drop(config: Config, path: tuple[str, ...]) -> Config:
    head = path[0]
    if head not in config:
        return config
    if len(path) == 1:
        return {k: v for k, v in config.items() if k != head}
    inner = config[head]
    if not isinstance(inner, Mapping):
        return config
    copy = dict(config)
    copy[head] = _drop(inner, path[1:])
    return copy


_MISSING = object()


def _get(config: Config, path: tuple[str, ...]) -> Any:
    value: Any = config
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set(config: Config, path: tuple[str, ...], value: Any) -> Config:
    copy = dict(config)
    if len(path) == 1:
        copy[path[0]] = value
        return copy
    inner = copy.get(path[0])
    copy[path[0]] = _set(inner if isinstance(inner, Mapping) else {}, path[1:], value)
    return copy


# ----------------------------------------------------------------------------- merge


def project(declared: Config, live: Config) -> dict[str, Any]:
    """The live values at the declared keys (recursively for nested objects); keys absent
    from the live configuration are absent from the projection."""
    out: dict[str, Any] = {}
    for key, want in declared.items():
        if key not in live:
            continue
        have = live[key]
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            out[key] = project(want, have)
        else:
            out[key] = have
    return out


def minimal_patch(projected: Config, declared: Config) -> dict[str, Any]:
    """The declared keys whose values differ from the projection (nested minimal)."""
    body: dict[str, Any] = {}
    for key, want in declared.items():
        if key not in projected:
            body[key] = want
            continue
        have = projected[key]
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            inner = minimal_patch(have, want)
            if inner:
                body[key] = inner
        elif have != want:
            body[key] = want
    return body


# ----------------------------------------------------------------------------- replace


def _is_unset(value: Any) -> bool:
    if value is None or value == "" or value == []:
        return True
    if isinstance(value, Mapping):
        return all(_is_unset(v) for v in value.values())
    return False


def project_replace(live: Config, expected: Config) -> dict[str, Any]:
    """The live configuration with the keys that ``expected`` doesn't mention dropped when
    they are unset, so that "absent" and "empty" compare equal."""
    out: dict[str, Any] = {}
    for key, have in live.items():
        want = expected.get(key, _MISSING)
        if want is _MISSING:
            if not _is_unset(have):
                out[key] = have
        elif isinstance(have, Mapping) and isinstance(want, Mapping):
            out[key] = project_replace(have, want)
        else:
            out[key] = have
    return out


# ----------------------------------------------------------------------------- field diff


class _Leaf:
    """deepdiff operator: Secrets, lists and tuples are compared whole, never dug into (a
    Secret's insides would otherwise appear in the diff)."""

    _types = (Secret, list, tuple)

    def match(self, level: Any) -> bool:
        return isinstance(level.t1, self._types) or isinstance(level.t2, self._types)

    def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
        if level.t1 != level.t2:
            diff_instance.custom_report_result("values_changed", level)
        return True

    def normalize_value_for_hashing(self, parent: Any, obj: Any) -> Any:
        return obj


_ACTIONS: dict[str, Action] = {
    "dictionary_item_added": "add",
    "dictionary_item_removed": "remove",
    "values_changed": "change",
    "type_changes": "change",
}


def field_changes(old: Config, new: Config) -> tuple[FieldChange, ...]:
    """The field-level diff from ``old`` to ``new``, with dotted paths, sorted by path."""
    from deepdiff import DeepDiff  # heavy: only when something differs

    tree = DeepDiff(old, new, view="tree", custom_operators=[_Leaf()])
    out: list[FieldChange] = []
    for report, levels in tree.items():
        action = _ACTIONS.get(report)
        if action is None:  # pragma: no cover - no other reports for dicts of leaves
            continue
        for level in levels:
            path = [str(p) for p in level.path(output_format="list")]
            if (
                action == "change"
                and isinstance(level.t1, Mapping)
                and isinstance(level.t2, Mapping)
            ):
                # deepdiff reports a whole object when one side is empty: list its keys.
                out.extend(_key_changes(path, level.t1, level.t2))
                continue
            out.append(
                FieldChange(
                    path=".".join(path),
                    action=action,
                    old=None if action == "add" else level.t1,
                    new=None if action == "remove" else level.t2,
                )
            )
    return tuple(sorted(out, key=lambda c: c.path))


def _key_changes(path: list[str], old: Config, new: Config) -> list[FieldChange]:
    """Field changes between two objects, key by key (objects recursively)."""
    out: list[FieldChange] = []
    for key in list(old) + [k for k in new if k not in old]:
        where = [*path, str(key)]
        if key not in new:
            out.append(FieldChange(".".join(where), "remove", old[key], None))
        elif key not in old:
            out.append(FieldChange(".".join(where), "add", None, new[key]))
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            out.extend(_key_changes(where, old[key], new[key]))
        elif old[key] != new[key]:
            out.append(FieldChange(".".join(where), "change", old[key], new[key]))
    return out


# ----------------------------------------------------------------------------- services


def compare_merge(
    declared: Config, live: Config, ignore: tuple[str, ...] = ()
) -> ServiceDiff | None:
    """Merge mode: None when the declared keys match; else the PATCH and its diff."""
    paths = split_paths(ignore)
    want = drop_paths(declared, paths) if paths else declared
    have = project(want, live)
    if have == want:
        return None
    # Both sides wrapped the same way, in case one side holds a plain secret string.
    want, have = conceal(want), conceal(have)
    if have == want:
        return None
    return ServiceDiff("PATCH", minimal_patch(have, want), field_changes(have, want))


def compare_replace(
    declared: Config,
    live: Config,
    defaults: Config | None,
    ignore: tuple[str, ...] = (),
) -> ServiceDiff | None:
    """Replace mode: None when the whole configuration matches; else the PUT of the
    declared configuration (ignored paths kept at their live values) and the diff.

    ``defaults`` None (schema not read): only the declared keys are compared.
    """
    paths = split_paths(ignore)
    if defaults is None:
        want = drop_paths(declared, paths) if paths else declared
        have: Config = project(want, live)
    else:
        expected = deep_merge(defaults, declared)
        want = drop_paths(expected, paths) if paths else expected
        have = project_replace(drop_paths(live, paths) if paths else live, want)
    if have == want:
        return None
    want, have = conceal(want), conceal(have)
    if have == want:
        return None
    return ServiceDiff("PUT", put_body(declared, live, paths), field_changes(have, want))


def put_body(declared: Config, live: Config, paths: tuple[tuple[str, ...], ...]) -> Config:
    """The declared configuration, with the live values of ignored paths kept."""
    body = declared
    for path in paths:
        value = _get(live, path)
        if value is not _MISSING:
            body = _set(body, path, value)
    return body
