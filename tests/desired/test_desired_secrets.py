"""No secret value ever appears in a message, a repr or the validate command's output.

The values are distinctive so that a leak anywhere is found by a plain substring search:
from the environment (which the loader can't know to be secret until it sees where they go)
and written inline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.desired import load
from reconciler.desired.render import render_json, render_text
from reconciler.errors import ValidationFailed
from reconciler.secret import to_jsonable

ENVIRON = {
    "ACULAB_API_KEY": "ENVKEY-q7w8e9r0",
    "AQL_PASSWORD": "ENVAQL-z1x2c3v4",
    "WAKEUP_PASSWORD": "ENVWAKE-m5n6b7v8",
    "HOOK_PASSWORD": "ENVHOOK-p0o9i8u7",
}
INLINE = ["INLINEPW-a1s2d3f4", "INLINEURL-g5h6j7k8", "INLINEAQL-l9k8j7h6", "9876543210987"]
SECRETS = [*ENVIRON.values(), *INLINE]

VALID = """\
version: 1
aculab: {cloud_id: "1-2-0", username: ops@example.com, api_key: "${ACULAB_API_KEY}"}
aql: {username: example, password: "${AQL_PASSWORD}"}
outbound_services:
  wakeup:
    service_password: ${WAKEUP_PASSWORD}
    rest:
      authentication: {username: bob, password: 9876543210987}
      first_page: {address: "https://bob:INLINEURL-g5h6j7k8@app.example.com/first"}
      error_page: {address: "https://bob:${HOOK_PASSWORD}@app.example.com/error"}
  other:
    service_password: INLINEPW-a1s2d3f4
    uas: {application_name: other}
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://sms:${HOOK_PASSWORD}@hooks.example.com/sms?id=%i"]
templates:
  unused: {password: INLINEAQL-l9k8j7h6}
"""

# Valid YAML whose service bodies the vendor's schema refuses, next to secrets: validate's
# offline body check must not show them either.
BAD_BODIES = VALID.replace(
    "authentication: {username: bob, password: 9876543210987}",
    "authentication: {username: bob, password: 9876543210987, pasword: INLINEPW-a1s2d3f4}",
)

# Each line is a mistake right next to a secret; the messages must still not show it.
INVALID = """\
version: 1
aculab: {cloud_id: "${ACULAB_API_KEY}", username: ops@example.com, api_key: 9876543210987}
aql: {username: example, password: [INLINEAQL-l9k8j7h6], endpoint: "${AQL_PASSWORD}"}
numbers:
  pools:
    p: {country: X, region: Y, count: "${WAKEUP_PASSWORD}", did_type: "${HOOK_PASSWORD}"}
outbound_services:
  wakeup:
    service_password: {nested: INLINEPW-a1s2d3f4}
    template: "${AQL_PASSWORD}"
  other:
    service_password: "INLINEPW-a1s2d3f4${bad name}"
  third:
    service_password: INLINEPW-a1s2d3f4
    template: "${AQL_PASSWORD}"
relay_routes:
  "44113000111":
    action: httpget
    detail: ["ftp://u:INLINEURL-g5h6j7k8@files.example.com/", "${HOOK_PASSWORD}"]
  "44113000112": {action: email, detail: ["${WAKEUP_PASSWORD}"]}
  "44113000113": {action: null-route, detail: ["https://u:INLINEURL-g5h6j7k8@x.example.com/"]}
"""


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_a_valid_state_shows_no_secret_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(VALID)
    result = load(path, environ=ENVIRON)
    state = result.state
    _assert_clean(repr(result))
    _assert_clean(str(state))
    for spec in state.outbound_services.values():
        _assert_clean(repr(spec))
        _assert_clean(json.dumps(to_jsonable(spec.config)))
    _assert_clean(render_text(result.warnings, path=str(path), state=state))
    _assert_clean(render_json(result.warnings, state=state))
    # ... and yet the values are all there for the HTTP layer
    config = state.outbound_services["wakeup"].config
    assert config["service_password"].reveal() == "ENVWAKE-m5n6b7v8"
    assert config["rest"]["error_page"]["address"].reveal() == (
        "https://bob:ENVHOOK-p0o9i8u7@app.example.com/error"
    )
    assert config["rest"]["authentication"]["password"].reveal() == "9876543210987"


def test_messages_about_mistakes_next_to_secrets_show_none(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(INVALID)
    with pytest.raises(ValidationFailed) as caught:
        load(path, environ=ENVIRON)
    diagnostics = caught.value.diagnostics
    text = "\n".join(str(d) for d in diagnostics)
    _assert_clean(text)
    _assert_clean(str(caught.value))
    _assert_clean(render_json(diagnostics))
    # every one of those mistakes was found, and the places say what was written instead
    assert len([d for d in diagnostics if d.severity == "error"]) == 13
    assert "not '${ACULAB_API_KEY}'" in text
    assert "not the string '${WAKEUP_PASSWORD}'" in text
    assert "'ftp://u:(sensitive)@files.example.com/' is not an http(s) URL" in text
    assert "unknown template '${AQL_PASSWORD}'" in text


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(
    "body", [VALID, INVALID, BAD_BODIES], ids=["valid", "invalid", "bad-bodies"]
)
def test_the_validate_command_prints_no_secret(tmp_path: Path, fmt: str, body: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(body)
    run = CliRunner().invoke(cli, ["validate", str(path), "--format", fmt], env=ENVIRON)
    assert run.exit_code == (0 if body is VALID else 1)
    _assert_clean(run.output)
