"""Telephone numbers as written in YAML, and their normal form."""

from __future__ import annotations

import pytest

from reconciler.desired.numbers import (
    NumberError,
    likely_meant,
    looks_like_number,
    normalise_glob,
    normalise_number,
)


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("441908538007", "441908538007"),
        ("+44 1908 538007", "441908538007"),
        ("+44 (0)1908 538-007", "441908538007"),
        ("+44 ( 0 ) 1908 538007", "441908538007"),
        ("44.1908.538.007", "441908538007"),
        ("+1-587-315-5555", "15873155555"),
        ("+1 (587) 315 5555", "15873155555"),
        ("+1 (204) 555-0142", "12045550142"),
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
        ("44190853800x", "'44190853800x' is not a telephone number: only digits, '+', spaces, "
         "dashes, dots and parentheses may be used"),
        ("٤٤١٩٠٨٥٣٨٠٠٧", "'٤٤١٩٠٨٥٣٨٠٠٧' is not a telephone number: only digits, '+', spaces, "
         "dashes, dots and parentheses may be used"),
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


@pytest.mark.parametrize(
    ("glob", "normal"),
    [
        ("+44 1908 538007", "441908538007"),
        ("+44 (0)1908 *", "441908*"),
        ("+1 (204) 555-*", "1204555*"),
        ("44 1908 53800[0-9]", "44190853800[0-9]"),
        ("+44 1908 5380??", "4419085380??"),
        ("441908*", "441908*"),
        ("test-*", "test-*"),  # a name, not a number
        ("sales-sip", "sales-sip"),
        ("*", "*"),
        ("1001", "1001"),
    ],
)
def test_a_glob_written_as_a_number_is_normalised_like_a_number(glob: str, normal: str) -> None:
    assert normalise_glob(glob) == normal


@pytest.mark.parametrize(
    ("glob", "normal"),
    [
        ("number:+44 1908 538007", "number:441908538007"),
        ("number:44190853800?", "number:44190853800?"),
        ("inbound:sales-*", "inbound:sales-*"),
        ("outbound:wakeup", "outbound:wakeup"),
        ("relay:44113000111", "relay:44113000111"),  # not a kind prune.ignore knows: as written
        ("+39 06 1234 5678", "390612345678"),  # Italy's numbers keep their 0
    ],
)
def test_a_glob_may_name_the_kind_it_protects_as_the_plan_shows_it(glob: str, normal: str) -> None:
    assert normalise_glob(glob) == normal


@pytest.mark.parametrize(
    ("glob", "meant"),
    [
        ("+44 01908 538007", "441908538007"),  # a trunk 0 written after the country code
        ("number:+44 01908 538007", "441908538007"),
        ("+33 01 23 45 67 89", "33123456789"),
        ("00441908538007", "441908538007"),  # the international prefix
        ("0044 1908 *", "441908*"),
    ],
)
def test_a_number_glob_that_could_protect_nothing_is_an_error_saying_what_to_write(
    glob: str, meant: str
) -> None:
    with pytest.raises(NumberError) as caught:
        normalise_glob(glob)
    assert meant in str(caught.value)


@pytest.mark.parametrize(
    ("number", "on_account", "meant"),
    [
        ("4401908538007", ["441908538007", "442079460123"], "441908538007"),  # trunk 0
        ("1020455501422", ["12045550142"], None),  # nothing close enough
        ("441908538008", ["441908538007", "442079460123"], "441908538007"),  # one digit
        ("441908538070", ["441908538007"], "441908538007"),  # two digits swapped
        ("44190853800", ["441908538007"], "441908538007"),  # a digit left out
        ("441908538007", ["441908538008", "441908538009"], None),  # ambiguous
        ("449999999999", ["441908538007"], None),
    ],
)
def test_what_a_missing_number_probably_means(
    number: str, on_account: list[str], meant: str | None
) -> None:
    assert likely_meant(number, on_account) == meant
