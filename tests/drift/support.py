"""Helpers shared by the drift, export and examples tests: the real CLI against a simulator
served over HTTP on 127.0.0.1, and checks that a command only read the account."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.simulator import RunningSimulator, Simulator

# The simulator's default credentials, as a user's environment would hold them.
ENV = {"ACULAB_API_KEY": "sim-api-key", "AQL_PASSWORD": "sim-aql-password"}


def account_yaml(running: RunningSimulator) -> str:
    """The `version`, `aculab` and `aql` sections of a desired state that points at
    ``running`` (secrets read from the environment, as in real use)."""
    return (
        "version: 1\n"
        "aculab:\n"
        '  cloud_id: "1-2-0"\n'
        "  username: ops@example.com\n"
        "  api_key: ${ACULAB_API_KEY}\n"
        f"  endpoint: {running.base_url}\n"
        "aql:\n"
        "  username: example\n"
        "  password: ${AQL_PASSWORD}\n"
        f"  endpoint: {running.aql_url}\n"
    )


@dataclass
class Run:
    """One CLI run: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def reconciler(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Run:
    """Run the real CLI in-process (``input``: what stdin holds). Click usage errors count as
    exit 1, as the console script makes them (2 means "changes pending"). Any other exception
    fails the test."""
    runner = CliRunner(env=dict(env or {}))
    result = runner.invoke(
        cli, list(args), input=input, standalone_mode=False, catch_exceptions=True
    )
    stderr = result.stderr
    code = result.exit_code
    exc = result.exception
    if isinstance(exc, click.ClickException):
        stderr += f"Error: {exc.format_message()}\n"
        code = 1
    elif exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return Run(code=code, stdout=result.stdout, stderr=stderr)


def writes(sim: Simulator, since: int = 0) -> list[Any]:
    """The calls since ``since`` that could have changed the account. (``tel_*`` reads may
    come by POST: the API takes their parameters as a form.)"""
    out = []
    for call in sim.calls[since:]:
        if call.path.startswith("/sms/"):
            if call.params.get("command") != "query":
                out.append(call)
        elif call.path.startswith("/service/"):
            if call.method != "GET":
                out.append(call)
        elif call.path.startswith(("/tel_purchase", "/tel_delete")):
            out.append(call)
    return out


def state_json(sim: Simulator) -> Any:
    """The simulated account as plain data, for before/after comparisons."""
    return json.loads(sim.state.to_json())


def assert_absent(secrets: Sequence[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret leaked: {secret[:3]}..."
