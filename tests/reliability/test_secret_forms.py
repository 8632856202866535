"""The redactor, property by property: a secret of any characters, in any form text can carry
it (raw, URL-encoded, JSON-escaped, escaped twice, quoted by ``repr``, inside HTTP Basic
credentials, the password of a URL), never survives :meth:`Redactor.redact`; and a URL password
of any characters but ``@`` and spaces is recognised as one.

The end-to-end property (a generated secret through every command and output) is in
``test_secrets.py``; these are the fast cases underneath it, many of them.
"""

from __future__ import annotations

import base64
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.secret import (
    MASK,
    MIN_REDACT_LEN,
    Redactor,
    Secret,
    masked,
    redact,
    secret_url,
    url_has_password,
)

from .support import secret_encodings

SOAK = bool(os.environ.get("RECONCILER_SOAK"))
PROPERTY = settings(
    max_examples=5000 if SOAK else 400,
    deadline=None,
    derandomize=not SOAK,
    suppress_health_check=[HealthCheck.too_slow],
)

# Any characters at all, the awkward ones made likely: quotes, backslashes, slashes, '+',
# '%', non-ASCII, control characters.
SECRETS = st.text(
    alphabet=st.one_of(
        st.sampled_from("\"\\/+%&=?#:;,'<>{}[] \t\n\x00\x7fé€😀"),
        st.characters(codec="utf-8"),
    ),
    min_size=MIN_REDACT_LEN,
    max_size=40,
).filter(lambda s: s.strip() == s or len(s.strip()) >= MIN_REDACT_LEN)
URL_PASSWORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="@", exclude_categories=("Z", "C")),
    min_size=1,
    max_size=30,
)


@PROPERTY
@given(
    secret=SECRETS,
    before=st.text(alphabet="xyz: {", max_size=8),
    after=st.text(alphabet="xyz} ,", max_size=8),
)
def test_no_form_of_a_secret_survives_the_redactor(secret: str, before: str, after: str) -> None:
    redactor = Redactor()
    with redactor.active():
        Secret(secret)
        for form in secret_encodings(secret):
            text = redact(f"{before}{form}{after}")
            assert form not in text, (form, text)
            assert MASK in text


@PROPERTY
@given(user=st.text(alphabet="abcdefghijklmnop.-", min_size=1, max_size=12), secret=SECRETS)
def test_basic_credentials_are_masked(user: str, secret: str) -> None:
    redactor = Redactor()
    redactor.add_basic(user, secret)
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    assert token not in redactor.redact(f"Authorization: Basic {token}\r\n")


@PROPERTY
@given(password=URL_PASSWORDS, user=st.sampled_from(["u", "hook", "ops"]))
def test_a_url_password_of_any_characters_is_a_secret(password: str, user: str) -> None:
    url = f"https://{user}:{password}@sms.example.com/in?id=%i"
    assert url_has_password(url)
    shown = secret_url(url).display
    assert shown == f"https://{user}:{MASK}@sms.example.com/in?id=%i"
    assert masked({"address": url}) == {"address": shown}
    redactor = Redactor()
    with redactor.active():
        secret_url(url)
        if len(password) >= MIN_REDACT_LEN:
            # The password alone, as a server may quote it back, in any form.
            for form in secret_encodings(password):
                assert form not in redact(f"rejected: {form}.")


def test_a_base64_password_with_a_slash_is_recognised() -> None:
    """The review's case: 'Zm9v/YmFy+cXV4' was not taken for a password (a '/' in it)."""
    url = "https://hook:Zm9v/YmFy+cXV4@sms.example.com/in"
    assert secret_url(url).display == f"https://hook:{MASK}@sms.example.com/in"


def test_a_known_password_holding_an_at_sign_is_masked_whole_in_a_url() -> None:
    """The review's case: a password from the environment that holds "@" (and ":" and "/"),
    substituted into a callback URL as it is. The URL password runs to the first "@"; the
    secret's tail must not be shown as the host."""
    password = "R0:p@ss/w%2Fd"
    url = f"https://relay:{password}@partner.example.org/sms?from=%o"
    redactor = Redactor()
    with redactor.active():
        Secret(password)
        shown = secret_url(url).display
        assert shown == f"https://relay:{MASK}@partner.example.org/sms?from=%o"
        assert "ss/w" not in redact(f"would set httpget {shown}")
    # Unknown to any redactor, the rule is the first "@", as before.
    assert (
        secret_url(url).display == f"https://relay:{MASK}@ss/w%2Fd@partner.example.org/sms?from=%o"
    )


def test_a_host_with_a_port_and_an_at_sign_further_on_is_not_a_password() -> None:
    for url in (
        "https://app.example.com:8443/in?to=ops@example.com",
        "http://localhost:8080/cb?from=a@b",
    ):
        assert not url_has_password(url), url


def test_no_redactor_no_change_and_redactors_do_not_share() -> None:
    """The redactor is the command's, not the process's: one command's secrets are unknown to
    another's, and text outside any command is left alone."""
    first, second = Redactor(), Redactor()
    with first.active():
        Secret("first-secret-value")
    with second.active():
        assert redact("first-secret-value") == "first-secret-value"
    assert redact("first-secret-value") == "first-secret-value"
    assert first.redact("x first-secret-value") == f"x {MASK}"


def test_short_values_are_not_redacted_from_text() -> None:
    redactor = Redactor()
    redactor.add("abc")
    assert redactor.redact("abc abc") == "abc abc"
    assert str(Secret("abc")) == MASK  # still masked wherever it is known to be a secret


@settings(max_examples=200 if SOAK else 40, deadline=None, derandomize=not SOAK)
@given(secret=SECRETS.filter(lambda s: "\x00" not in s), shape=st.sampled_from(["text", "json"]))
def test_a_server_echoing_a_secret_in_any_form_never_gets_it_into_an_error(
    secret: str, shape: str
) -> None:
    """A service password sent in a body comes back in the server's 400, quoted in every form
    a server might use (raw, JSON-escaped, URL-encoded, escaped twice), in a JSON error or in a
    body that isn't JSON: the API error the client raises holds none of them."""
    import asyncio

    import httpx

    from reconciler.clients.http import HttpClient
    from reconciler.errors import ApiError

    echoed = " | ".join(secret_encodings(secret))
    if shape == "json":
        content = json.dumps({"error": {"code": "0001", "text": f"bad password {echoed}"}})
    else:
        content = f"<p>rejected: {echoed}</p> plain text, not JSON"

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=content.encode("utf-8"))

    async def call() -> str:
        redactor = Redactor()
        with redactor.active():
            client = HttpClient(
                service="Aculab Cloud",
                base_url="https://api.example.com",
                auth_hint="check the key",
                transport=httpx.MockTransport(handler),
            )
            async with client:
                try:
                    await client.request(
                        "PUT",
                        "/service/v1/outbound/x",
                        parse=lambda r: r,
                        json_body={"service_password": Secret(secret)},
                        retry=False,
                    )
                except ApiError as err:
                    # no hint is no text (not "None": a secret may be the word None)
                    said = [err.message, err.hint or "", *getattr(err, "details", [])]
                    return " ".join(said)
        raise AssertionError("the 400 was not an error")

    shown = asyncio.run(call())
    for form in secret_encodings(secret):
        assert form not in shown, (form, shown)
