"""The one exception tree of reconciler.

Every error a user can cause or meet is one of these; the CLI turns them into a message and
an exit code, never a traceback. Messages never contain a secret: values of type
:class:`reconciler.secret.Secret` print as ``(sensitive)``.

::

    ReconcilerError                      exit 1 unless noted
    ├── ConfigError                      the desired state (YAML) or the command line is wrong
    │   └── ValidationFailed             .diagnostics: every problem found, in file order
    ├── ApiError                         a call to Aculab Cloud or aql failed; .call names it
    │   ├── ApiConnectionError           connection refused/reset, timeout (retried if safe)
    │   ├── AuthenticationError          401/403: check cloud_id, username, API key/password
    │   ├── ApiStatusError               the API answered an error: .status, .code, .text, .details
    │   │   ├── NotFoundError            404 "The service name does not exist"
    │   │   ├── RateLimitedError         429 (retried if safe, honouring Retry-After)
    │   │   └── ServerError              5xx (retried if safe)
    │   ├── MalformedResponseError       a body that is not what the API documents (HTML, garbage)
    │   └── RelayError                   aql answered a failure code (69001, 69003, 600, ...)
    │       └── RelayAuthenticationError  aql's "401: Authentication error" (also an
    │                                    AuthenticationError)
    ├── LiveReadError                    the live account could not be read whole: no plan
    ├── PlanError                        no plan: a pinned number is missing, a bad location
    ├── SafetyRefusal                    exit 3: a safety rule refused the plan (see --force)
    ├── PlanFileError                    a saved plan is unreadable, of another version, or tampered
    ├── StalePlanError                   a saved plan no longer matches the live account
    │   └── PlanMismatchError            ... or no longer what the desired state asks for
    ├── LockHeldError                    another apply holds .reconciler/apply.lock
    ├── JournalError                     the apply journal can't be written safely (mode, disk)
    ├── SimulatorError                   the simulator cannot start (state file, port)
    └── ApplyFailed                      apply finished with failures; .report says what happened

Extension point: code that adds a new failure mode subclasses the nearest branch so that the
CLI's handling (message, exit code) stays one ``except ReconcilerError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

_PLACE = re.compile(r"^(.+?):(\d+):(\d+): ")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (or SIGTERM during apply), as shells report SIGINT

# The most severe first: a fleet's exit code is the first of these any account had.
SEVERITY = (EXIT_ERROR, EXIT_REFUSED, EXIT_CHANGES, EXIT_OK)


def exit_code_for(error: BaseException) -> int:
    """The exit code of a run that ended with ``error``: the one mapping from exceptions to
    exit codes (0 nothing to change, 2 changes pending, 3 refused, 1 any error, 130 Ctrl-C)."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, ReconcilerError):
        return error.exit_code
    return EXIT_ERROR


def most_severe(codes: Iterable[int]) -> int:
    """The exit code of several accounts: 1 over 3 over 2 over 0 (130 above them all)."""
    found = set(codes)
    if EXIT_INTERRUPTED in found:
        return EXIT_INTERRUPTED
    for code in SEVERITY:
        if code in found:
            return code
    return max(found, default=EXIT_OK)


class ReconcilerError(Exception):
    """Base of every error reconciler raises on purpose.

    ``hint`` says what the user can do about it; the CLI prints it under the message.
    """

    exit_code: int = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def place(self) -> tuple[str, int, int] | None:
        """``(file, line, column)`` of the first place in the desired state the error names
        (None: it names none)."""
        return None

    def as_json(self) -> dict[str, Any]:
        """The error as ``--format json`` prints it: ``{"message", "hint", "file"?, "line"?,
        "column"?}`` (secrets are the printer's to redact)."""
        out: dict[str, Any] = {"message": self.message, "hint": self.hint}
        place = self.place()
        if place is not None:
            out["file"], out["line"], out["column"] = place
        return out


# --------------------------------------------------------------------------- desired state


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the desired state, at ``file:line:column`` (1-based)."""

    file: str
    line: int
    column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
        }


class ConfigError(ReconcilerError):
    """The desired state or the command line is wrong; nothing was sent to any API."""


class ValidationFailed(ConfigError):
    """Validation found errors. ``diagnostics`` holds every error and warning, in file order."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(
            f"{len(errors)} {noun} in the desired state",
            hint="fix each place named above, then run `reconciler validate` again",
        )

    def place(self) -> tuple[str, int, int] | None:
        for d in self.diagnostics:
            if d.severity == "error":
                return d.file, d.line, d.column
        return None

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "diagnostics": [d.as_json() for d in self.diagnostics]}


# --------------------------------------------------------------------------- API calls


class ApiError(ReconcilerError):
    """A call to Aculab Cloud or aql failed. ``call`` names it, e.g. ``GET /tel_list_numbers``."""

    def __init__(self, message: str, *, call: str, hint: str | None = None) -> None:
        super().__init__(f"{call}: {message}", hint=hint)
        self.call = call


class ApiConnectionError(ApiError):
    """The connection failed or timed out; the outcome of a write is unknown."""


class AuthenticationError(ApiError):
    """401/403: the credentials were refused."""


class ApiStatusError(ApiError):
    """The API answered with an error status and (perhaps) the documented error body."""

    def __init__(
        self,
        message: str,
        *,
        call: str,
        status: int,
        code: str | None = None,
        text: str | None = None,
        details: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, call=call, hint=hint)
        self.status = status
        self.code = code
        self.text = text
        self.details = list(details)

    @property
    def own_code(self) -> str | None:
        """The API's error code when it says more than the status does (Aculab's code is often
        ``"HTTP 503"`` for a 503: shown twice, it reads "HTTP 503 HTTP 503")."""
        if self.code is None or self.code in (f"HTTP {self.status}", str(self.status)):
            return None
        return self.code


class NotFoundError(ApiStatusError):
    """404: the resource does not exist."""


class RateLimitedError(ApiStatusError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(ApiStatusError):
    """5xx: the server failed."""


class MalformedResponseError(ApiError):
    """The body is not what the API documents (HTML, XML, invalid JSON, empty, wrong shape)."""


class RelayError(ApiError):
    """The aql gateway answered a failure code (``code`` is e.g. ``"69001"``)."""

    def __init__(self, message: str, *, call: str, code: str, hint: str | None = None) -> None:
        super().__init__(message, call=call, hint=hint)
        self.code = code


class RelayAuthenticationError(RelayError, AuthenticationError):
    """aql answered ``401: Authentication error``: the aql username or password is wrong.

    Both a :class:`RelayError` (``code`` is ``"401"``) and an :class:`AuthenticationError`.
    """


# --------------------------------------------------------------------------- plan and apply


class LiveReadError(ReconcilerError):
    """The live account could not be read completely; no plan is made from a partial view."""


class PlanError(ReconcilerError):
    """The plan cannot be made; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the plan cannot be made:\n{body}", hint=hint)

    def place(self) -> tuple[str, int, int] | None:
        # Every located problem starts with its origin, ``file:line:column: ``.
        for problem in self.problems:
            found = _PLACE.match(problem)
            if found is not None:
                return found.group(1), int(found.group(2)), int(found.group(3))
        return None

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "problems": list(self.problems)}


class SafetyRefusal(ReconcilerError):
    """A safety rule refused the plan; exit code 3."""

    exit_code = EXIT_REFUSED


class PlanFileError(ReconcilerError):
    """A saved plan cannot be used (unreadable, wrong version, or altered)."""


class StalePlanError(ReconcilerError):
    """The live account changed since the saved plan was made; ``changed`` names what."""

    def __init__(self, changed: Sequence[str]) -> None:
        self.changed = list(changed)
        body = "\n".join(f"  - {c}" for c in self.changed)
        super().__init__(
            f"the saved plan is stale; the live account changed since it was made:\n{body}",
            hint="run `reconciler plan --out` again and review the new plan",
        )


class PlanMismatchError(StalePlanError):
    """The plan re-computed at apply time differs from the saved one (the desired state, or a
    resource the saved plan did not depend on, changed); ``changed`` names the differences."""

    def __init__(self, changed: Sequence[str]) -> None:
        self.changed = list(changed)
        body = "\n".join(f"  - {c}" for c in self.changed)
        ReconcilerError.__init__(
            self,
            "the saved plan is stale; planning again now gives a different plan:\n" + body,
            hint="run `reconciler plan --out` again and review the new plan",
        )


class LockHeldError(ReconcilerError):
    """Another apply holds the lock of this directory."""


class JournalError(ReconcilerError):
    """The apply journal cannot be used: readable by others, unreadable, or unwritable.

    Apply stops rather than write to the account without a durable record of it.
    """


class SimulatorError(ReconcilerError):
    """The simulator cannot start: its state file is unreadable or damaged, its seed is
    unknown, or its port is taken."""


class ApplyFailed(ReconcilerError):
    """Apply finished, but some changes failed or were skipped. ``report`` says which."""

    def __init__(self, message: str, *, report: Any, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class ApplyInterrupted(ApplyFailed):
    """Apply stopped on Ctrl-C or SIGTERM (exit 130). ``report`` says what was done, and the
    numbers bought, up to the stop."""

    exit_code = EXIT_INTERRUPTED
