"""``reconciler simulator serve``: the Aculab Cloud + aql simulator over HTTP."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from reconciler.cli.options import (
    MILLISECONDS,
    PORT,
    RATE,
    REQUESTS,
    SEED,
    docs,
    local_options,
)
from reconciler.cli.output import command
from reconciler.errors import ConfigError


@click.group(epilog=docs("docs/simulator.md"))
@local_options
def simulator() -> None:
    """The Aculab Cloud + aql simulator: a local stand-in for both APIs, for tests and demos."""


@simulator.command("serve", epilog=docs("docs/simulator.md"))
@click.option(
    "--port",
    type=PORT,
    default=8089,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the account in this JSON file (resumed if it exists).",
)
@click.option(
    "--seed",
    type=click.Choice(["empty", "demo"]),
    default="demo",
    show_default=True,
    help="The account a new state starts from.",
)
@click.option(
    "--rng-seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the numbers purchases produce.",
)
@click.option(
    "--latency-ms",
    type=MILLISECONDS,
    default=0.0,
    metavar="MS",
    help="Latency added to every request.",
)
@click.option(
    "--latency-jitter-ms",
    type=MILLISECONDS,
    default=0.0,
    metavar="MS",
    help="Random extra latency, up to this much (seeded).",
)
@click.option(
    "--rate-limit",
    type=RATE,
    default=None,
    metavar="N",
    help="Requests a second each vendor (Aculab, aql) accepts; past it, 429 with Retry-After.",
)
@click.option(
    "--rate-limit-burst",
    type=REQUESTS,
    default=None,
    metavar="N",
    help="Requests the rate limit lets through at once (default: one second's worth).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Switch a fault on (repeatable): error_rate=[GLOB:]RATE, rate_limit=[GLOB:]RATE, "
    "rate_limit_per_s=N, rate_limit_burst=N, "
    "garbage_rate=[GLOB:]RATE, retry_after_s=N, error_statuses=500,503, "
    "lost_purchase_reply=drop|stall, lost_purchase_rate=R, lost_purchase_limit=N, "
    "stall_s=S, list_lag_s=S, seed=N.",
)
@click.option(
    "--dialect",
    "dialect_modes",
    multiple=True,
    metavar="MODE",
    help="Play an alternative the vendor pages leave open (repeatable): no-schema-defaults, "
    "aql-star, inbound-array, inbound-keyed, html-errors, normalise, all. "
    "Default: RECONCILER_SIMULATOR_DIALECT, else the documented behaviour.",
)
@click.option("--cloud-id", default="1-2-0", show_default=True, help="Aculab cloud ID accepted.")
@click.option(
    "--username", default="ops@example.com", show_default=True, help="Aculab username accepted."
)
@click.option(
    "--api-key",
    default="sim-api-key",
    show_default=True,
    help="Aculab API key accepted (a test value).",
)
@click.option("--aql-username", default="example", show_default=True, help="aql username accepted.")
@click.option(
    "--aql-password",
    default="sim-aql-password",
    show_default=True,
    help="aql password accepted (a test value).",
)
@click.option(
    "--account",
    "hosted",
    multiple=True,
    metavar="NAME",
    help="Host another account NAME too (repeatable), with its own credentials (printed) and "
    "state (next to --state, as STATE.NAME.json): a fleet in one process.",
)
@local_options
@command
def serve(
    port: int,
    state_file: Path | None,
    seed: str,
    rng_seed: int,
    latency_ms: float,
    latency_jitter_ms: float,
    rate_limit: float | None,
    rate_limit_burst: float | None,
    fault_specs: tuple[str, ...],
    dialect_modes: tuple[str, ...],
    cloud_id: str,
    username: str,
    api_key: str,
    aql_username: str,
    aql_password: str,
    hosted: tuple[str, ...],
) -> None:
    """Serve the simulator over HTTP on 127.0.0.1 until Ctrl-C.

    Both APIs share the port: Aculab Cloud's paths at the root, the aql relay gateway at
    /sms/sms-relay.api.php. It prints its URLs, its (test) credentials and the `aculab:`/`aql:`
    sections of a desired-state file that points at it.
    """
    import contextlib

    from reconciler.simulator import Dialect, Faults, SimCredentials, Simulator

    faults = Faults.from_specs(
        fault_specs,
        Faults(
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            rate_limit_per_s=rate_limit or 0.0,
            rate_limit_burst=rate_limit_burst,
        ),
    )
    credentials = SimCredentials(
        cloud_id=cloud_id,
        username=username,
        api_key=api_key,
        aql_username=aql_username,
        aql_password=aql_password,
    )
    dialect = Dialect.from_modes(dialect_modes) if dialect_modes else None
    sim = Simulator(
        seed=seed,
        credentials=credentials,
        state_file=state_file,
        faults=faults,
        rng_seed=rng_seed,
        dialect=dialect,
    )
    for name in hosted:
        own = None
        if state_file is not None:
            own = state_file.with_name(f"{state_file.stem}.{name}{state_file.suffix}")
        try:
            sim.add_account(name, seed=seed, state_file=own)
        except ValueError as err:
            raise ConfigError(
                f"--account {name}: {err}", hint="give each --account a different NAME"
            ) from None

    def on_sigterm(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    from reconciler.eventloop import serving

    # The accounts' state lives as long as the server.
    with serving(), sim.serve(port=port) as running:
        click.echo(running.banner())
        click.echo("Press Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            running.wait()
    click.echo(f"Simulator stopped after {len(sim.calls)} requests.")
