"""Telephone numbers as the YAML may write them, and their one normal form.

Aculab and aql name numbers in full international form, digits only, without a leading
``0`` (``441908538007``). The YAML may write them as people do: ``+44 1908 538007``,
``+44 (0)1908 538-007``, ``44.1908.538007``, ``+1 (204) 555-0142``. One rule says what a
number's digits are (:func:`digits_of`: ``+``, spaces, dashes, dots and parentheses go, and a
UK-style ``(0)`` with its digit), for the YAML and for what the vendors' APIs send alike;
:func:`normalise_number` then checks that 6 to 15 digits remain (the E.164 limit, country
code included) with no leading ``0``. :func:`normalise_glob` applies the same rule to the
numbers inside a ``prune.ignore`` glob, so that ``+44 1908 *`` protects what it names.

The check is deliberately no stricter than that: test and development numbers (such as the
vendors' documented ``44113000111``) are not valid by national numbering plans, and they must
load. The ``phonenumbers`` library only sharpens the message of a number already rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_DIGITS = 6
MAX_DIGITS = 15

# What people write between digits; "(0)" is the UK habit of showing the trunk prefix, and
# other parentheses group an area code: "+1 (204) 555-0142".
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_SEPARATORS = re.compile(r"[+\s.\-()]")
_STRIP = str.maketrans("", "", "+ -.()")  # the same, quicker, for the common separators
# Glob syntax kept as it is by normalise_glob: a set ("[0-9]") whole, "*" and "?".
_GLOB_PART = re.compile(r"(\[[^\]]*\]|[*?])")
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


def digits_of(text: str) -> str:
    """``text`` without what people write between a number's digits: ``+``, spaces, dashes,
    dots, parentheses, and a UK-style ``(0)`` with its zero. Not checked: anything else stays
    (:func:`normalise_number` says why that is not a number)."""
    if text.isascii() and text.isdigit():
        return text
    if "(" in text:
        text = _TRUNK_ZERO.sub("", text)
    digits = text.translate(_STRIP)
    if not digits.isdigit():
        digits = _SEPARATORS.sub("", text)
    return digits


def normalise_number(text: str) -> str:
    """The digits-only international form of ``text``, or :class:`NumberError` saying why not."""
    if (
        text.isascii()
        and text.isdigit()
        and MIN_DIGITS <= len(text) <= MAX_DIGITS
        and text[0] != "0"
    ):
        return text  # already normal: most numbers of a large file
    digits = digits_of(text)
    shown = repr(text)
    if not digits:
        raise NumberError(f"{shown} is not a telephone number: it has no digits")
    if not digits.isascii() or not digits.isdigit():
        raise NumberError(
            f"{shown} is not a telephone number: only digits, '+', spaces, dashes, dots and "
            "parentheses may be used"
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


def looks_like_number_glob(glob: str) -> bool:
    """True when a ``prune.ignore`` glob is written as a telephone number (``+44 1908 *``,
    ``441908538007``, ``44 (0)1908 5380??``) rather than as a name (``test-*``)."""
    bare = _GLOB_PART.sub("", glob)
    if not bare or not any(c.isdigit() for c in bare):
        return False
    return looks_like_number(bare) or (bare != glob and bool(_NUMBER_LIKE.match(bare)))


# ``prune.ignore`` may name what it protects as the plan shows it: ``number:441908538007``,
# ``inbound:sales-*``, ``outbound:wakeup``. Such a glob protects that kind only.
ADDRESS_KINDS = ("number", "inbound", "outbound")


def split_address(glob: str) -> tuple[str | None, str]:
    """``("number", "441908538007")`` for ``number:441908538007``; ``(None, glob)`` for a glob
    that names no kind (it protects whatever it matches)."""
    kind, sep, rest = glob.partition(":")
    if sep and kind in ADDRESS_KINDS:
        return kind, rest
    return None, glob


def normalise_glob(glob: str) -> str:
    """A ``prune.ignore`` glob with the numbers in it normalised as :func:`digits_of` does:
    ``+44 1908 538007`` -> ``441908538007``, ``+44 (0)1908 *`` -> ``441908*``,
    ``number:+44 1908 538007`` -> ``number:441908538007``. A glob written as a name is
    returned as it is; a set (``[0-9]``), ``*`` and ``?`` are kept whole.

    Raises :class:`NumberError` for a number that would silently protect nothing: one written
    with the international prefix ``00``, or with a national trunk ``0`` after its country
    code (``+44 01908 538007``): a glob that matches no number protects no number."""
    kind, pattern = split_address(glob)
    if not looks_like_number_glob(pattern):
        return glob
    parts = _GLOB_PART.split(_TRUNK_ZERO.sub("", pattern))
    normal = "".join(p if i % 2 else _SEPARATORS.sub("", p) for i, p in enumerate(parts))
    literal = _GLOB_PART.split(normal)[0]  # the digits before any wildcard
    shown = repr(glob)
    if literal.startswith("00"):
        raise NumberError(
            f"{shown} starts with the international prefix 00: write the number with its "
            f"country code only ({normal[2:]})"
        )
    if normal == literal:  # a whole number, not a pattern: is a trunk 0 written in it?
        meant = _without_trunk_zero(pattern, normal)
        if meant is not None:
            raise NumberError(
                f"{shown} has a national trunk 0 after its country code, so it matches no "
                f"number: write {meant}"
            )
    return normal if kind is None else f"{kind}:{normal}"


def _without_trunk_zero(written: str, digits: str) -> str | None:
    """The number ``digits`` names once the national trunk ``0`` written after its country
    code is dropped (``+44 01908 538007`` -> ``441908538007``), or None when it has none.
    The numbering plans decide (Italy's numbers keep their 0), through ``phonenumbers``."""
    if not written.lstrip().startswith("+"):
        return None
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover
        return None
    try:
        parsed = phonenumbers.parse(written, None)
    except phonenumbers.NumberParseException:
        return None
    meant = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    code = str(parsed.country_code)
    if meant != digits and digits == code + "0" + meant[len(code) :]:
        return meant
    return None


def likely_meant(number: str, candidates: Iterable[str]) -> str | None:
    """The number of ``candidates`` that ``number`` (normalised, not among them) probably
    means, or None: the same number without a national trunk ``0`` written after the country
    code (``+44 01908 538007`` for 441908538007), else one digit away (a typo)."""
    pool = set(candidates)
    for length in (1, 2, 3):
        if number[length : length + 1] == "0":
            without = number[:length] + number[length + 1 :]
            if without in pool:
                return without
    near = [c for c in pool if len(c) == len(number) and _one_digit_off(c, number)]
    near += [c for c in pool if abs(len(c) - len(number)) == 1 and _one_digit_more(c, number)]
    return min(near) if len(near) == 1 else None


def _one_digit_off(a: str, b: str) -> bool:
    """Equal but for one digit, or for two neighbouring digits swapped."""
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def _one_digit_more(a: str, b: str) -> bool:
    """One of the two has one digit more than the other, anywhere."""
    long, short = (a, b) if len(a) > len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


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
