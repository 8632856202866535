"""Names as they are shown: a service name read from the account may hold characters a terminal
hides or obeys (an escape sequence, a carriage return, a zero-width space), so that two names
print the same, or a name rewrites the line it is on. Shown, such characters are escaped
(``sales\\x1b[31m``, ``desk\\u200b``); every other character is shown as it is."""

from __future__ import annotations


def printable(name: str) -> str:
    """``name`` with every character that isn't printable escaped as Python would."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
