"""Benchmark of the desired-state loader (issue 3): ``python -m benchmarks.bench_desired``.

Generates a realistic account-sized desired state, 10,000 pinned numbers, 2,000 inbound
services (1,800 named by numbers written in several styles, 200 SIP-named, most using a
template), 200 outbound services and 1,000 relay routes, as one YAML file and as a directory
of five, then times :func:`reconciler.desired.load` (read, compose, schema, merge, semantic
checks, model) on each. Target: under 1 second.

Each figure is the median of ``--repeat`` runs in one process, after one warm-up run that
also pays for the one-off costs (compiling the schema's validator); the first run's time is
printed too, since a CLI invocation pays it once.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.desired import load

ENVIRON = {
    "ACULAB_API_KEY": "bench-api-key-0000",
    "AQL_PASSWORD": "bench-aql-password",
    "OUTBOUND_PASSWORD": "bench-outbound-password",
}

HEADER = """\
# yaml-language-server: $schema=../schemas/desired-state.schema.json
version: 1
"""

ACCOUNTS = """\
aculab:
  cloud_id: "1-2-0"
  username: ops@example.com
  api_key: ${ACULAB_API_KEY}
aql:
  username: example
  password: ${AQL_PASSWORD}
prune:
  ignore: ["test-*"]
safety:
  max_purchase: 20
"""

TEMPLATES = """\
templates:
  ivr:
    application_type: REST
    rest:
      first_page: {address: "https://ivr.example.com/first", method: POST}
      error_page: {address: "https://ivr.example.com/error"}
      tts_voice: English UK Female Polly Amy
  support:
    template: ivr
    rest:
      first_page: {address: "https://support.example.com/first"}
"""


def _number(i: int) -> str:
    return f"44190{i:07d}"


def _written(i: int) -> str:
    """The same numbers written as people write them: a quarter formatted."""
    n = _number(i)
    if i % 4 == 1:
        return f"+{n[:2]} {n[2:6]} {n[6:]}"
    if i % 4 == 2:
        return f"+{n[:2]} (0){n[2:6]} {n[6:9]}-{n[9:]}"
    return n


def pools_and_pins(pins: int = 10_000) -> str:
    lines = [
        "numbers:",
        "  pools:",
        "    london:",
        "      country: United Kingdom",
        "      region: London",
        "      count: 20",
        "      inbound: {template: support}",
        "    calgary:",
        "      country: Canada",
        "      state: Alberta",
        "      region: Calgary",
        "      count: 5",
        "  pinned:",
    ]
    lines += [f'    "{_written(i)}": {{}}' for i in range(pins)]
    return "\n".join(lines) + "\n"


def inbound(count: int = 2_000) -> str:
    lines = ["inbound_services:"]
    for i in range(count):
        if i % 10 == 9:
            lines += [f"  sip-user-{i}:", "    template: ivr", f"    description: SIP desk {i}"]
        elif i % 3 == 0:
            lines += [
                f'  "{_written(i)}":',
                "    mode: replace",
                "    application_type: REST",
                "    rest:",
                f"      first_page: {{address: https://app.example.com/line/{i}}}",
                "    ignore_changes: [rest.tts_voice]",
            ]
        else:
            lines += [f'  "{_written(i)}":', "    template: support", f"    description: Line {i}"]
    return "\n".join(lines) + "\n"


def outbound(count: int = 200) -> str:
    lines = ["outbound_services:"]
    for i in range(count):
        lines += [
            f"  dialler-{i}:",
            "    service_password: ${OUTBOUND_PASSWORD}",
            "    application_type: REST",
            "    rest:",
            f"      first_page: {{address: https://dialler.example.com/{i}/first}}",
            "      max_call_duration: 600",
            "    ignore_changes: [rest.tts_voice]",
        ]
    return "\n".join(lines) + "\n"


def relay(count: int = 1_000) -> str:
    lines = ["relay_routes:"]
    for i in range(count):
        number = f"44113{i:06d}"
        if i % 5 == 0:
            lines += [f'  "{number}": {{action: null-route}}']
        elif i % 5 == 1:
            lines += [
                f'  "{number}":',
                "    action: email",
                f"    detail: [sms-{i}@example.com, archive@example.com]",
            ]
        else:
            lines += [
                f'  "{number}":',
                "    action: httppost",
                "    detail:",
                f"      - https://primary.example.com/sms?line={i}&id=%i&orig=%o&msg=%m",
                f"      - https://backup.example.com/sms?line={i}&id=%i&orig=%o&msg=%m",
            ]
    return "\n".join(lines) + "\n"


def write_single(directory: Path) -> Path:
    path = directory / "account.yaml"
    body = ACCOUNTS + TEMPLATES + pools_and_pins() + inbound() + outbound() + relay()
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def write_split(directory: Path) -> Path:
    root = directory / "split"
    root.mkdir()
    parts = {
        "00-account.yaml": ACCOUNTS + TEMPLATES,
        "10-numbers.yaml": pools_and_pins(),
        "20-inbound.yaml": inbound(),
        "30-outbound.yaml": outbound(),
        "40-relay.yaml": relay(),
    }
    for name, body in parts.items():
        (root / name).write_text(HEADER + body, encoding="utf-8")
    return root


@dataclass
class Figures:
    first: float  # wall seconds of the first load in the process
    wall: list[float]
    cpu: list[float]  # this process's CPU seconds: steadier when the machine is busy


def measure(path: Path, repeat: int) -> Figures:
    start = time.perf_counter()
    result = load(path, environ=ENVIRON)
    first = time.perf_counter() - start
    state = result.state
    assert len(state.pinned) == 10_000 and len(state.inbound_services) == 2_000
    assert len(state.outbound_services) == 200 and len(state.relay_routes) == 1_000
    figures = Figures(first, [], [])
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        load(path, environ=ENVIRON)
        figures.cpu.append(time.process_time() - cpu)
        figures.wall.append(time.perf_counter() - wall)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        single = write_single(Path(tmp))
        split = write_split(Path(tmp))
        lines = len(single.read_text().splitlines())
        print(
            "desired state: 10,000 pinned numbers, 2,000 inbound, 200 outbound services, "
            f"1,000 relay routes ({lines:,} lines)"
        )
        if args.profile:
            import cProfile
            import pstats

            load(single, environ=ENVIRON)
            cProfile.runctx("load(single, environ=ENVIRON)", globals(), {"single": single},
                            "/tmp/bench_desired.prof")  # fmt: skip
            pstats.Stats("/tmp/bench_desired.prof").sort_stats("cumulative").print_stats(25)
            return
        for label, path in (("one file", single), ("five files", split)):
            f = measure(path, args.repeat)
            wall, cpu = statistics.median(f.wall), statistics.median(f.cpu)
            verdict = "ok" if wall < 1.0 else "OVER the 1 s target"
            runs = ", ".join(f"{t * 1000:.0f}" for t in f.wall)
            print(
                f"  {label:<10} load+validate: median {wall * 1000:4.0f} ms wall, "
                f"{cpu * 1000:4.0f} ms CPU  [{verdict}]  (first run {f.first * 1000:.0f} ms; "
                f"runs {runs} ms)"
            )


if __name__ == "__main__":
    main()
