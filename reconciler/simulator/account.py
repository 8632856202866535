"""The simulated account: its numbers, services, relay routes and purchase history.

:class:`SimState` is plain data (JSON-able). It lives in memory, or in a JSON state file that
is rewritten atomically (temporary file, fsync, rename) after every change, so a simulator
killed at any moment leaves either the old file or the new one, never a torn one. Loading a
state file resumes the account where it was, the number generator included.

Seeds: ``empty`` (nothing at all) and ``demo`` (a small, realistic account; see
:func:`demo_state` and the README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import SimulatorError
from reconciler.simulator import services
from reconciler.storage import write_private_atomic

FORMAT = "reconciler-simulator-state"
VERSION = 1
SEEDS: tuple[str, ...] = ("empty", "demo")


@dataclass
class SimState:
    """Everything the simulated account holds.

    - ``numbers``: number -> ``{"country", "state"?, "region", "price", "purchased",
      "did_type"}``, as ``tel_list_numbers`` reports them;
    - ``services``: ``{"inbound": {name: config}, "outbound": {name: config}}``, full
      configurations (every option present);
    - ``relay``: aql number -> ``(action, detail)``, detail as on the wire (comma-joined);
    - ``purchase_log``: every committed purchase, ``{"at", "params", "numbers"}``;
    - ``regulation_addresses``: name -> ``{"country", "region"}``;
    - ``visible_after``: number -> unix time before which ``tel_list_numbers`` hides it
      (the list-lag fault);
    - ``rng_seed``/``serial``: the number generator's seed and position.
    """

    numbers: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"inbound": {}, "outbound": {}}
    )
    relay: dict[str, tuple[str, str]] = field(default_factory=dict)
    purchase_log: list[dict[str, Any]] = field(default_factory=list)
    regulation_addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    visible_after: dict[str, float] = field(default_factory=dict)
    rng_seed: int = 0
    serial: int = 0

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "rng_seed": self.rng_seed,
            "serial": self.serial,
            "numbers": self.numbers,
            "services": self.services,
            "relay": {n: list(route) for n, route in self.relay.items()},
            "regulation_addresses": self.regulation_addresses,
            "visible_after": self.visible_after,
            "purchase_log": self.purchase_log,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes, *, source: str) -> SimState:
        """Parse a state file; :class:`SimulatorError` naming ``source`` if it is not one."""
        hint = "delete the file to start from a seed again, or point --state elsewhere"
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise SimulatorError(
                f"{source}: not a simulator state file ({err})", hint=hint
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SimulatorError(f"{source}: not a simulator state file", hint=hint)
        if data.get("version") != VERSION:
            raise SimulatorError(
                f"{source}: simulator state version {data.get('version')!r}, expected {VERSION}",
                hint=hint,
            )
        try:
            services_data = data["services"]
            return cls(
                numbers={str(n): dict(v) for n, v in data["numbers"].items()},
                services={
                    "inbound": dict(services_data.get("inbound", {})),
                    "outbound": dict(services_data.get("outbound", {})),
                },
                relay={str(n): (str(r[0]), str(r[1])) for n, r in data["relay"].items()},
                purchase_log=list(data["purchase_log"]),
                regulation_addresses=dict(data["regulation_addresses"]),
                visible_after={str(n): float(t) for n, t in data["visible_after"].items()},
                rng_seed=int(data["rng_seed"]),
                serial=int(data["serial"]),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise SimulatorError(
                f"{source}: damaged simulator state ({type(err).__name__}: {err})", hint=hint
            ) from None

    @classmethod
    def load(cls, path: Path) -> SimState:
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise SimulatorError(f"{path}: cannot read the state file ({err.strerror})") from None
        return cls.from_json(raw, source=str(path))

    @classmethod
    def seeded(cls, seed: str, rng_seed: int = 0) -> SimState:
        """A new account from a seed (``empty`` or ``demo``)."""
        if seed == "empty":
            return cls(rng_seed=rng_seed)
        if seed == "demo":
            state = demo_state()
            state.rng_seed = rng_seed
            return state
        raise SimulatorError(
            f"unknown simulator seed {seed!r}", hint="use one of: " + ", ".join(SEEDS)
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Replace the state file ``path`` with ``data``, atomically and durably, mode 0600 (the
    state holds service passwords); its directory is made when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_atomic(path, data)


# --------------------------------------------------------------------------- the demo account

DEMO_SUPPORT_PAGE = "https://app.example.com/support/first"


def demo_state() -> SimState:
    """A small, realistic account (the README describes it for the quickstart).

    Numbers: Milton Keynes 441908538007 (2011), two in London, one in Calgary, one in Winnipeg.
    Inbound services: 441908538007 ("Main line") and 442079460123 on the support app, the
    SIP-named ``sales-sip``; 442079460456 and the Canadian numbers have none.
    Outbound: ``wakeup`` (REST, with a US voice). Relay numbers 44113000111 (httpget),
    44113000112 (email), 44113000113 (mvno), 44113000114 (null-route).
    Regulation address "My french place" (France, Avignon).
    """
    uk = {"country": "United Kingdom", "did_type": "geographic", "price": "3.00"}
    numbers = {
        "441908538007": {**uk, "region": "Milton Keynes", "purchased": "2011-09-14"},
        "442079460123": {**uk, "region": "London", "purchased": "2023-03-01"},
        "442079460456": {**uk, "region": "London", "purchased": "2023-03-01"},
        "15873155555": {
            "country": "Canada",
            "state": "Alberta",
            "region": "Calgary",
            "price": "2.00",
            "purchased": "2022-05-10",
            "did_type": "geographic",
        },
        "12045550142": {
            "country": "Canada",
            "state": "Manitoba",
            "region": "Winnipeg",
            "price": "2.00",
            "purchased": "2024-01-15",
            "did_type": "geographic",
        },
    }
    support = {"application_type": "REST", "rest": {"first_page": {"address": DEMO_SUPPORT_PAGE}}}
    inbound = {
        "441908538007": services.fill_defaults("inbound", {**support, "description": "Main line"}),
        "442079460123": services.fill_defaults("inbound", support),
        "sales-sip": services.fill_defaults(
            "inbound",
            {
                "application_type": "REST",
                "description": "Sales (SIP)",
                "rest": {"first_page": {"address": "https://app.example.com/sales"}},
            },
        ),
    }
    outbound = {
        "wakeup": services.fill_defaults(
            "outbound",
            {
                "service_password": "wakeup-demo-password",
                "description": "Wake-up calls",
                "application_type": "REST",
                "rest": {
                    "first_page": {"address": "https://app.example.com/wakeup"},
                    "tts_voice": "English US Female Polly Joanna",
                },
            },
        )
    }
    relay = {
        "44113000111": ("httpget", "http://www.yourdomain.co.uk/callback.php?id=%i&orig=%o&msg=%m"),
        "44113000112": ("email", "sms-inbox@example.com"),
        "44113000113": ("mvno", ""),
        "44113000114": ("null-route", ""),
    }
    return SimState(
        numbers=numbers,
        services={"inbound": inbound, "outbound": outbound},
        relay=relay,
        regulation_addresses={"My french place": {"country": "France", "region": "Avignon"}},
    )
