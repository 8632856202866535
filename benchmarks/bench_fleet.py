"""``python -m benchmarks.bench_fleet``: drift over a fleet of simulated accounts (docs/fleet.md).

One simulator process hosts the fleet (``benchmarks.simprocess --fleet N``: N accounts of the
generated account at ``--scale``, about 1,000 resources each at 0.08: 800 numbers, 160 inbound
and 16 outbound services, 80 relay routes), with a fixed latency per call. The real CLI runs
``reconciler drift acct-*.yaml --parallel P`` as a child process, for each P asked; each run's
wall time, CPU time and peak RSS are measured (``wait4``: the CPU of the command and of its
worker processes, and the RSS of the largest of them), and every account must come out in
sync (exit 0, the reads complete). ``--workers K`` sets ``RECONCILER_WORKERS`` (the number of
worker processes the fleet may use; default: the machine's cores). Then: the speed-up of the
largest P over ``--parallel 1``, peak memory against P and against the number of accounts (a
run over a quarter of the fleet), and the balance of ``--shard K/N`` over the fleet's names
(the largest shard over the mean).

``--repeat R`` runs the ``--parallel`` values in turn R times (on a machine whose speed varies,
runs taken close together are what compare) and reports each round's speed-up and their
median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.account import (
    INBOUND_POOLS,
    REGIONS,
    Size,
    _outbound_address,
    _outbound_name,
    _relay_number,
    _relay_url,
    build_state,
)
from benchmarks.simprocess import SimProcess, fleet_name
from reconciler.fleet import Account, Shard, shard_of
from reconciler.simulator import fleet_credentials

ROOT = Path(__file__).resolve().parent.parent


def account_yaml(name: str, size: Size, base_url: str) -> str:
    """The desired state of a hosted account, declaring exactly what build_state made."""
    creds = fleet_credentials(name)
    var = name.upper().replace("-", "_")
    lines = [
        "version: 1",
        "aculab:",
        f'  cloud_id: "{creds.cloud_id}"',
        f"  username: {creds.username}",
        f"  api_key: ${{{var}_KEY}}",
        f"  endpoint: {base_url}",
        "aql:",
        f"  username: {creds.aql_username}",
        f"  password: ${{{var}_AQL}}",
        f"  endpoint: {base_url}/sms/sms-relay.api.php",
        "numbers:",
        "  pools:",
    ]
    for index, (country, state, region) in enumerate(REGIONS):
        lines += [
            f"    pool-{index:02d}:",
            f"      country: {country}",
            *([f"      state: {state}"] if state else []),
            f"      region: {region}",
            f"      count: {size.pool_size}",
        ]
        if index < INBOUND_POOLS:
            lines.append(f'      inbound: {{description: "{region} desk"}}')
    lines.append("outbound_services:")
    for i in range(size.outbound):
        lines += [
            f"  {_outbound_name(i)}:",
            f"    service_password: ${{OUT_PW_{i:04d}}}",
            f"    rest: {{first_page: {{address: {json.dumps(_outbound_address(i))}}}}}",
        ]
    lines.append("relay_routes:")
    for i in range(size.relay):
        lines.append(f'  "{_relay_number(i)}": {{action: httppost, detail: ["{_relay_url(i)}"]}}')
    lines += [
        "prune: {numbers: true, inbound_services: true, outbound_services: true}",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Run:
    parallel: int
    accounts: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    code: int


def drift(
    paths: list[Path], parallel: int, env: dict[str, str], cwd: Path, concurrency: int
) -> Run:
    """One ``reconciler drift`` of ``paths`` in a child process: wall time, peak RSS."""
    cmd = [sys.executable, "-m", "reconciler", "drift", *map(str, paths)]
    cmd += ["--parallel", str(parallel), "--concurrency", str(concurrency)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    err = proc.stderr.read() if proc.stderr else ""
    if code != 0:
        raise SystemExit(f"drift --parallel {parallel} exited {code}:\n{err[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(parallel, len(paths), wall, cpu, usage.ru_maxrss / 1024, code)


def shard_balance(names: list[str], totals: tuple[int, ...]) -> dict[int, float]:
    """For each N: the largest of N shards over the mean (1.0 is perfect)."""
    fleet = [Account(n, Path(n)) for n in names]
    out = {}
    for total in totals:
        sizes = [len(shard_of(fleet, Shard(k, total))) for k in range(1, total + 1)]
        out[total] = max(sizes) / (len(fleet) / total)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fleet", description=__doc__)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--scale", type=float, default=0.08)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--concurrency", type=int, default=16, help="each account's --concurrency (default 16)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="RECONCILER_WORKERS for the runs: worker processes at most (default: the cores)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of the --parallel values, in turn"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    size = Size.scaled(args.scale)
    resources = size.numbers + size.inbound + size.outbound + size.relay
    names = [fleet_name(i) for i in range(args.accounts)]
    print(
        f"fleet: {args.accounts} accounts of {resources:,} resources ({size.describe()}), "
        f"{size.reads} reads each; {args.latency_ms:g} ms per call; --concurrency "
        f"{args.concurrency}; workers {args.workers or 'the cores'}; load "
        f"{os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        state_file = work / "state.json"
        state_file.write_bytes(build_state(size).to_json())
        env = dict(os.environ, NO_COLOR="1")
        if args.workers is not None:
            env["RECONCILER_WORKERS"] = str(args.workers)
        for i in range(size.outbound):
            env[f"OUT_PW_{i:04d}"] = f"pw-{i:04d}-secret"
        with SimProcess(state_file, latency_ms=args.latency_ms, fleet=args.accounts) as sim:
            paths = []
            for name in names:
                var = name.upper().replace("-", "_")
                creds = fleet_credentials(name)
                env[f"{var}_KEY"] = creds.api_key
                env[f"{var}_AQL"] = creds.aql_password
                path = work / f"{name}.yaml"
                path.write_text(account_yaml(name, size, sim.base_url), encoding="utf-8")
                paths.append(path)
            runs: list[Run] = []
            rounds: list[dict[int, Run]] = []
            for _ in range(max(1, args.repeat)):
                rounds.append({})
                for parallel in args.parallel:
                    sim.stats()
                    run = drift(paths, parallel, env, work, args.concurrency)
                    served = sim.stats()
                    runs.append(run)
                    rounds[-1][parallel] = run
                    print(
                        f"  drift --parallel {parallel:>2}: {run.wall_s:6.2f} s wall, CPU "
                        f"{run.cpu_s:5.2f} s (simulator {served['cpu_s']:5.2f} s), peak RSS "
                        f"{run.peak_rss_mb:5.1f} MB, {served['calls']:,} calls "
                        f"(statuses {served['statuses']}), all in sync"
                    )
            top = max(args.parallel)
            quarter = paths[: max(1, len(paths) // 4)]
            small = drift(quarter, top, env, work, args.concurrency)
            print(
                f"  drift --parallel {top:>2} over {len(quarter)} accounts: "
                f"{small.wall_s:6.2f} s wall, peak RSS {small.peak_rss_mb:5.1f} MB"
            )
    peak = max(r.peak_rss_mb for r in runs if r.parallel == top)
    each = [r[1].wall_s / r[top].wall_s for r in rounds if 1 in r]
    speedup = statistics.median(each) if each else float("nan")
    balance = shard_balance(names, (2, 4, 8, 16, 32))
    print(
        f"  speed-up --parallel {top} over --parallel 1: {speedup:.2f}x (target >= 5x)"
        + (f"; the median of {', '.join(f'{s:.2f}x' for s in each)}" if len(each) > 1 else "")
    )
    print(
        f"  peak RSS: {peak:.1f} MB over {args.accounts} accounts, "
        f"{small.peak_rss_mb:.1f} MB over {len(quarter)} (--parallel {top})"
    )
    print(
        "  shard balance (largest shard / mean): "
        + ", ".join(f"N={n}: {b:.2f}x" for n, b in balance.items())
    )
    if args.json is not None:
        figures = {
            "accounts": args.accounts,
            "resources_per_account": resources,
            "reads_per_account": size.reads,
            "latency_ms": args.latency_ms,
            "runs": [r.__dict__ for r in runs],
            "quarter": small.__dict__,
            "speedup": speedup,
            "speedups": each,
            "shard_balance": balance,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
