"""Telephone numbers as the YAML may write them, and their one normal form.

Aculab and aql name numbers in full international form, digits only, without a leading
``0`` (``441908538007``). The YAML may write them as people do: ``+44 1908 538007``,
``+44 (0)1908 538-007``, ``44.1908.538007``. :func:`normalise_number` removes ``+``, spaces,
dashes, dots and a UK-style ``(0)``, and checks that 6 to 15 digits remain (the E.164 limit,
country code included) with no leading ``0``.

The check is deliberately no stricter than that: test and development numbers (such as the
vendors' documented ``44113000111``) are not valid by national numbering plans, and they must
load. The ``phonenumbers`` library only sharpens the message of a number already rejected.
"""

from __future__ import annotations

import re

MIN_DIGITS = 6
MAX_DIGITS = 15

# What people write between digits; "(0)" is the UK habit of showing the trunk prefix.
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_SEPARATORS = re.compile(r"[+\s.\-]")
_STRIP = str.maketrans("", "", "+ -.")  # the same, quicker, for the common separators
# A name "written as a telephone number": a leading "+", or six or more digits with only
# number punctuation between them. Anything else names a SIP user.
_NUMBER_LIKE = re.compile(r"^[\d\s.\-()]+$")


class NumberError(ValueError):
    """``str(err)`` says, for a person, why the text is not a number."""


def looks_like_number(name: str) -> bool:
    """True when an inbound service name is a telephone number rather than a SIP username.

    ``+44 1908 538007`` and ``441908538007`` are numbers; ``sales-sip`` and ``1001`` (a
    short extension-style username) are not.
    """
    if name.isascii() and name.isdigit():  # the common case, and the fast one
        return len(name) >= MIN_DIGITS
    if name.startswith("+"):
        return True
    if not _NUMBER_LIKE.match(name):
        return False
    return sum(c.isdigit() for c in name) >= MIN_DIGITS


def normalise_number(text: str) -> str:
    """The digits-only international form of ``text``, or :class:`NumberError` saying why not."""
    if (
        text.isascii()
        and text.isdigit()
        and MIN_DIGITS <= len(text) <= MAX_DIGITS
        and text[0] != "0"
    ):
        return text  # already normal: most numbers of a large file
    digits = text.translate(_STRIP) if "(" not in text else text
    if not digits.isdigit():
        digits = _SEPARATORS.sub("", _TRUNK_ZERO.sub("", text))
    shown = repr(text)
    if not digits:
        raise NumberError(f"{shown} is not a telephone number: it has no digits")
    if not digits.isascii() or not digits.isdigit():
        raise NumberError(
            f"{shown} is not a telephone number: only digits, '+', spaces, dashes, dots and a "
            "UK-style '(0)' may be used"
        )
    if digits.startswith("00"):
        raise NumberError(
            f"{shown} starts with the international prefix 00: write the number with its "
            f"country code only ({digits[2:]})"
        )
    if digits.startswith("0"):
        raise NumberError(
            f"{shown} starts with 0: write the number in international form with its country "
            "code (+44 1908 538007, not 01908 538007)"
        )
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        which = "short" if len(digits) < MIN_DIGITS else "long"
        country = _country_of(digits)
        where = f" ({country})" if country else ""
        raise NumberError(
            f"{shown} is too {which} to be a telephone number{where}: it has {len(digits)} "
            f"digits; a number has {MIN_DIGITS} to {MAX_DIGITS}, country code included"
        )
    return digits


def _country_of(digits: str) -> str | None:
    """``country code +44, United Kingdom``, for a message; None when there is no such code."""
    try:
        import phonenumbers
        from phonenumbers import geocoder
    except ImportError:  # pragma: no cover - an optional sharpening of the message
        return None
    for length in (1, 2, 3):
        code = digits[:length]
        if len(code) < length:
            break
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code))
        if not regions:
            continue
        example = phonenumbers.example_number(regions[0])
        name = geocoder.country_name_for_number(example, "en") if example else ""
        return f"country code +{code}, {name}" if name else f"country code +{code}"
    return None
