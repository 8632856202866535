"""Faults the simulator can inject, and the seeded dice that decide when they fire.

:class:`Faults` is plain configuration, switched on by ``--fault`` flags or in Python
(``sim.faults.error_rate = {"/tel_purchase": 1.0}``; the simulator reads it on every request,
so changing it at runtime takes effect at once).

Reproducibility: whether a fault fires is decided by hashing the fault seed, the fault's name,
the request (method, path, parameters and body, credentials left out) and how many identical
requests came before it. The same requests against a fresh simulator with the same seed meet
the same faults, even when they arrive concurrently in a different order; a retried request
is a new draw.

Where each fault happens, relative to the work a request does:

- latency: before the request is handled;
- ``rate_limit_per_s`` (a token bucket per vendor: 429 with a whole-second ``Retry-After`` past
  it), ``rate_limit`` (429 with ``Retry-After`` for a share of requests) and ``error_rate``
  (500/503): instead of handling it, so nothing was written;
- ``garbage_rate``: the request was handled (a write did happen), then its reply body is
  replaced by an HTML page or truncated JSON, with status 200;
- ``lost_purchase_reply``: a successful ``tel_purchase`` committed its numbers, then the reply
  is lost: ``"drop"`` closes the connection mid-reply, ``"stall"`` holds the reply for
  ``stall_s`` seconds (past the client's timeout; it ends early when the client hangs up);
- ``list_lag_s``: numbers bought appear in ``tel_list_numbers`` only that many seconds later.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from reconciler.errors import ConfigError

# A rate for every endpoint, or per endpoint glob. Globs match the path ("/tel_*",
# "/service/v1/outbound/*") or "METHOD path" ("PUT /service/v1/*").
Rates = float | Mapping[str, float]
LostReply = Literal["drop", "stall"]
# The vendors whose request rates are limited apart, as a real account's would be: each API
# is its own service with its own limit.
Vendor = Literal["aculab", "aql"]
VENDORS: tuple[Vendor, ...] = get_args(Vendor)


@dataclass
class Faults:
    """What goes wrong, and how often. All off by default.

    - ``latency_ms`` + up to ``latency_jitter_ms`` (seeded): added before every request;
    - ``error_rate``: share of requests answered with one of ``error_statuses`` (500/503);
    - ``rate_limit``: share of requests answered 429 with ``Retry-After: retry_after_s``;
    - ``rate_limit_per_s``: requests a second each vendor (Aculab, aql) accepts, a token bucket
      holding ``rate_limit_burst`` tokens (default: one second's worth); past it, 429 with
      ``Retry-After`` in whole seconds until the next token (0: no limit);
    - ``garbage_rate``: share of replies replaced by an HTML page or truncated JSON;
    - ``lost_purchase_reply`` (``"drop"``/``"stall"``): a committed purchase loses its reply,
      for ``lost_purchase_rate`` of purchases and at most ``lost_purchase_limit`` times
      (None: no limit); a stall lasts ``stall_s`` seconds;
    - ``list_lag_s``: bought numbers stay out of ``tel_list_numbers`` this long;
    - ``seed``: seeds every decision.

    The three rates are each a share of requests (0..1), for every endpoint (a float) or per
    endpoint glob (``{"/tel_purchase": 0.5}``; the first glob that matches decides).
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: Rates = field(default_factory=dict)
    error_statuses: tuple[int, ...] = (500, 503)
    rate_limit: Rates = field(default_factory=dict)
    retry_after_s: int = 1
    rate_limit_per_s: float = 0.0
    rate_limit_burst: float | None = None
    lost_purchase_reply: LostReply | None = None
    lost_purchase_rate: float = 1.0
    lost_purchase_limit: int | None = None
    stall_s: float = 300.0
    list_lag_s: float = 0.0
    garbage_rate: Rates = field(default_factory=dict)
    seed: int = 0

    def describe(self) -> str:
        """One line per fault that is switched on; ``none`` when none is."""
        lines: list[str] = []
        if self.latency_ms or self.latency_jitter_ms:
            lines.append(f"latency {self.latency_ms:g} ms + up to {self.latency_jitter_ms:g} ms")
        for name in ("error_rate", "rate_limit", "garbage_rate"):
            rates = getattr(self, name)
            if rates:
                lines.append(f"{name} {_describe_rates(rates)}")
        if self.rate_limit_per_s:
            lines.append(
                f"rate_limit_per_s {self.rate_limit_per_s:g} per vendor (burst {self.burst():g})"
            )
        if self.lost_purchase_reply:
            limit = (
                "" if self.lost_purchase_limit is None else f", at most {self.lost_purchase_limit}"
            )
            lines.append(
                f"lost_purchase_reply {self.lost_purchase_reply} "
                f"(rate {self.lost_purchase_rate:g}{limit})"
            )
        if self.list_lag_s:
            lines.append(f"list_lag_s {self.list_lag_s:g}")
        if not lines:
            return "none"
        return "; ".join(lines) + f" (seed {self.seed})"

    def burst(self) -> float:
        """The token bucket's size: ``rate_limit_burst``, or one second's worth (at least 1)."""
        if self.rate_limit_burst is not None:
            return max(1.0, self.rate_limit_burst)
        return max(1.0, self.rate_limit_per_s)

    @classmethod
    def from_specs(cls, specs: Iterable[str], base: Faults | None = None) -> Faults:
        """Faults from ``--fault`` specs such as ``error_rate=/tel_*:0.2``, ``rate_limit=0.1``,
        ``lost_purchase_reply=drop``, ``list_lag_s=5``, ``seed=7``. Rates given more than once
        accumulate per glob. Raises :class:`ConfigError` naming the bad spec."""
        faults = dataclasses.replace(base) if base is not None else cls()
        for spec in specs:
            _apply_spec(faults, spec)
        return faults


FAULT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Faults))
_RATE_FIELDS = ("error_rate", "rate_limit", "garbage_rate")


def _describe_rates(rates: Rates) -> str:
    if isinstance(rates, int | float):
        return f"{rates:g}"
    return ", ".join(f"{glob}:{rate:g}" for glob, rate in rates.items())


def _rate(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"--fault {spec!r}: {text!r} is not a number", hint="a rate is between 0 and 1"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"--fault {spec!r}: a rate must be between 0 and 1",
            hint="0.2 answers about one request in five with the fault",
        )
    return value


def _count(value: str) -> float:
    """A finite number, 0 or more (``nan``, ``inf`` and negatives are refused)."""
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError("must be a finite number, 0 or more")
    return number


def _apply_spec(faults: Faults, spec: str) -> None:
    name, sep, value = spec.partition("=")
    name = name.strip().replace("-", "_")
    hint = "use NAME=VALUE with NAME one of: " + ", ".join(FAULT_NAMES)
    if not sep or name not in FAULT_NAMES:
        raise ConfigError(f"--fault {spec!r}: unknown fault", hint=hint)
    value = value.strip()
    try:
        if name in _RATE_FIELDS:
            glob, colon, rate = value.rpartition(":")
            current: Any = getattr(faults, name)
            if not colon:
                setattr(faults, name, _rate(value, spec))
            else:
                rates = dict(current) if isinstance(current, Mapping) else {}
                if isinstance(current, int | float) and current:
                    rates["*"] = float(current)
                rates[glob] = _rate(rate, spec)
                setattr(faults, name, rates)
        elif name == "error_statuses":
            statuses = tuple(int(s) for s in value.split(","))
            if not statuses or any(s < 500 or s > 599 for s in statuses):
                raise ValueError("statuses must be 5xx")
            faults.error_statuses = statuses
        elif name == "lost_purchase_reply":
            if value not in ("drop", "stall", "none", ""):
                raise ValueError("expected drop or stall")
            faults.lost_purchase_reply = None if value in ("none", "") else value  # type: ignore[assignment]
        elif name == "rate_limit_burst":
            faults.rate_limit_burst = None if value in ("none", "") else _count(value)
        elif name == "lost_purchase_limit":
            faults.lost_purchase_limit = None if value in ("none", "") else int(value)
        elif name == "seed":
            faults.seed = int(value)
        elif name == "retry_after_s":
            faults.retry_after_s = int(value)
            if faults.retry_after_s < 0:
                raise ValueError("must not be negative")
        elif name == "lost_purchase_rate":
            faults.lost_purchase_rate = _rate(value, spec)
        else:
            setattr(faults, name, _count(value))
    except ValueError as err:
        raise ConfigError(f"--fault {spec!r}: {err}", hint=hint) from None


def rate_for(rates: Rates, method: str, path: str) -> float:
    """The rate that applies to one request."""
    if isinstance(rates, int | float):
        return float(rates)
    for glob, rate in rates.items():
        if fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(f"{method} {path}", glob):
            return rate
    return 0.0


class Dice:
    """Seeded draws for one request: ``roll("error")`` is a float in [0, 1) that depends only
    on the fault seed, the fault's name, the request's identity and its occurrence number."""

    __slots__ = ("_key",)

    def __init__(self, seed: int, identity: bytes, occurrence: int) -> None:
        self._key = b"%d|%d|" % (seed, occurrence) + identity

    def roll(self, name: str) -> float:
        digest = hashlib.blake2b(self._key + b"|" + name.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0**64

    def choice(self, name: str, options: tuple[Any, ...]) -> Any:
        return options[int(self.roll(name) * len(options))]


class RateLimiter:
    """The simulator's rate limit: one token bucket per vendor (``rate_limit_per_s``).

    A bucket holds up to ``Faults.burst()`` tokens and gains ``rate_limit_per_s`` a second; a
    request takes one. With none left, :meth:`admit` returns the whole seconds until the next
    token (at least 1, the ``Retry-After`` a real server sends), and the request takes none.
    A changed rate or burst starts full buckets. Thread-safe (the server and tests may share it).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._config: tuple[float, float] = (0.0, 0.0)
        self._buckets: dict[Vendor, tuple[float, float]] = {}  # tokens, as of when

    def admit(self, faults: Faults, vendor: Vendor) -> int | None:
        """None when the request may go ahead; else the ``Retry-After`` seconds."""
        rate = faults.rate_limit_per_s
        if rate <= 0:
            return None
        config = (rate, faults.burst())
        now = self._clock()
        with self._lock:
            if config != self._config:
                self._config, self._buckets = config, {}
            burst = config[1]
            tokens, when = self._buckets.get(vendor, (burst, now))
            tokens = min(burst, tokens + (now - when) * rate)
            if tokens >= 1.0:
                self._buckets[vendor] = (tokens - 1.0, now)
                return None
            self._buckets[vendor] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))
