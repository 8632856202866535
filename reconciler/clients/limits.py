"""The limits of one run's API calls: the overall deadline of a call and the retry budget.

Kept apart from :mod:`reconciler.clients.http` (which imports httpx) so that the command line
can name the defaults without loading the HTTP stack. docs/rate-limits.md explains both.
"""

from __future__ import annotations

# The longest one call may take, every attempt and wait included (``--call-deadline``): a
# server that trickles bytes, or never answers, can't hold a run longer than this per call.
DEFAULT_CALL_DEADLINE = 120.0
# Retries one run may make in all, over every client (``--retry-budget``): enough for the
# 429s of learning a rate limit and a few percent of failed calls on a large account, while a
# server that fails everything costs a bounded number of retries.
DEFAULT_RETRY_BUDGET = 1000


class RetryBudget:
    """The retries one run may make, shared by its clients: a server that fails every call
    costs a bounded number of retries, not the attempts of every call multiplied out."""

    def __init__(self, limit: int = DEFAULT_RETRY_BUDGET) -> None:
        if limit < 0:
            raise ValueError("a retry budget can't be negative")
        self.limit = limit
        self.spent = 0

    def spend(self) -> bool:
        """Take one retry; False when none is left."""
        if self.spent >= self.limit:
            return False
        self.spent += 1
        return True

    def __repr__(self) -> str:
        return f"<RetryBudget {self.spent} of {self.limit} spent>"
