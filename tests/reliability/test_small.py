"""The small ones of the adversarial review, each at its owner."""

from __future__ import annotations

from reconciler.apply.purchases import short_reason
from reconciler.errors import ServerError


def test_a_note_names_the_status_once() -> None:
    """Aculab's error code for a 503 is "HTTP 503": the note said "HTTP 503 HTTP 503"."""
    err = ServerError("unavailable", call="POST /tel_purchase", status=503, code="HTTP 503")
    assert short_reason(err) == "HTTP 503"
    own = ServerError("unavailable", call="POST /tel_purchase", status=503, code="0042")
    assert short_reason(own) == "HTTP 503 0042"
