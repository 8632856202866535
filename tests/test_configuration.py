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


# ----------------------------------------------------------------------------- schema defaults

SCHEMA = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "description": {"type": "string"},
        "rest": {"$ref": "#/definitions/rest"},
    },
    "allOf": [
        {"properties": {"g729": {"type": "boolean", "default": False}}},
        {
            "if": {"properties": {"application_type": {"const": "REST"}}},
            "then": {"properties": {"fax": {"type": "boolean", "default": True}}},
        },
    ],
    "definitions": {
        "rest": {
            "type": "object",
            "default": {"tts_voice": "Amy", "api_version": "1.0"},
            "properties": {
                "api_version": {"type": "string", "default": "2.0"},
                "first_page": {"type": "object", "properties": {"address": {"type": "string"}}},
            },
        }
    },
}


def test_schema_defaults_read_allof_parts_but_not_conditional_ones() -> None:
    from reconciler.configuration import schema_defaults

    defaults = schema_defaults(SCHEMA)
    assert defaults["g729"] is False  # an allOf part: every configuration's option
    assert "fax" not in defaults  # a then-branch: only some configurations'
    assert "description" not in defaults  # no default keyword: the schema doesn't say


def test_an_option_default_wins_over_its_objects_default() -> None:
    from reconciler.configuration import schema_defaults

    assert schema_defaults(SCHEMA)["rest"] == {"tts_voice": "Amy", "api_version": "2.0"}


def test_every_option_lists_the_unset_ones_as_null() -> None:
    from reconciler.configuration import schema_defaults

    defaults = schema_defaults(SCHEMA, every_option=True)
    assert defaults["description"] is None
    assert defaults["rest"]["first_page"] == {"address": None}


def test_a_schema_without_default_keywords_has_no_defaults() -> None:
    from reconciler.configuration import schema_defaults

    bare = {"properties": {"a": {"type": "string"}, "b": {"properties": {"c": {}}}}}
    assert schema_defaults(bare) == {}
