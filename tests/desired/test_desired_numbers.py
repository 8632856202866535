"""Telephone numbers as written in YAML, and their normal form."""

from __future__ import annotations

import pytest

from reconciler.desired.numbers import NumberError, looks_like_number, normalise_number


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("441908538007", "441908538007"),
        ("+44 1908 538007", "441908538007"),
        ("+44 (0)1908 538-007", "441908538007"),
        ("+44 ( 0 ) 1908 538007", "441908538007"),
        ("44.1908.538.007", "441908538007"),
        ("+1-587-315-5555", "15873155555"),
        # numbers the vendors' documentation uses, not valid by any numbering plan
        ("44113000111", "44113000111"),
        ("21887377377", "21887377377"),
        ("123456", "123456"),
        ("123456789012345", "123456789012345"),
    ],
)
def test_normal_form(written: str, normal: str) -> None:
    assert normalise_number(written) == normal


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("01908 538007", "'01908 538007' starts with 0: write the number in international form "
         "with its country code (+44 1908 538007, not 01908 538007)"),
        ("0044 1908 538007", "'0044 1908 538007' starts with the international prefix 00: "
         "write the number with its country code only (441908538007)"),
        ("+44 123", "'+44 123' is too short to be a telephone number (country code +44, United "
         "Kingdom): it has 5 digits; a number has 6 to 15, country code included"),
        ("1234567890123456", "'1234567890123456' is too long to be a telephone number (country "
         "code +1, United States): it has 16 digits; a number has 6 to 15, country code "
         "included"),
        ("99912", "'99912' is too short to be a telephone number: it has 5 digits; a number has "
         "6 to 15, country code included"),
        ("+1 (587) 315 5555", "'+1 (587) 315 5555' is not a telephone number: only digits, '+', "
         "spaces, dashes, dots and a UK-style '(0)' may be used"),
        ("44190853800x", "'44190853800x' is not a telephone number: only digits, '+', spaces, "
         "dashes, dots and a UK-style '(0)' may be used"),
        ("٤٤١٩٠٨٥٣٨٠٠٧", "'٤٤١٩٠٨٥٣٨٠٠٧' is not a telephone number: only digits, '+', spaces, "
         "dashes, dots and a UK-style '(0)' may be used"),
        ("+ -", "'+ -' is not a telephone number: it has no digits"),
    ],
)  # fmt: skip
def test_rejected_with_a_reason(written: str, message: str) -> None:
    with pytest.raises(NumberError) as caught:
        normalise_number(written)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "is_number"),
    [
        ("441908538007", True),
        ("+44 1908 538007", True),
        ("+44 19", True),  # then rejected as too short, not taken for a SIP user
        ("44 (0)1908 538007", True),
        ("1001", False),  # an extension-style SIP username
        ("sales-sip", False),
        ("desk.1", False),
        ("12345-desk", False),
    ],
)
def test_a_number_or_a_sip_username(name: str, is_number: bool) -> None:
    assert looks_like_number(name) is is_number
