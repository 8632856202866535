"""The one merge rule of service configurations (templates, defaults, PATCH)."""

from __future__ import annotations

from reconciler.configuration import deep_merge


def test_objects_merge_key_by_key_and_anything_else_replaces() -> None:
    base = {"rest": {"first_page": {"address": "a", "method": "POST"}, "tts_voice": "x"}}
    over = {"rest": {"first_page": {"address": "b"}, "tts_voice": ["list"]}, "g729": True}
    assert deep_merge(base, over) == {
        "rest": {"first_page": {"address": "b", "method": "POST"}, "tts_voice": ["list"]},
        "g729": True,
    }


def test_null_clears_a_value_as_the_vendor_documents_for_patch() -> None:
    # A dry run checks a PATCH body merged the way the server merges it: the key stays, null.
    merged = deep_merge({"rest": {"final_page": {"address": "x"}}}, {"rest": {"final_page": None}})
    assert merged == {"rest": {"final_page": None}}


def test_the_inputs_are_left_alone() -> None:
    base = {"a": {"b": 1}}
    deep_merge(base, {"a": {"b": 2}})
    assert base == {"a": {"b": 1}}
