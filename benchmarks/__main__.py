"""``python -m benchmarks`` (``make bench``): every performance figure of issue 8 in one run.

Starts the simulator in its own process with a generated account and a fixed latency per call,
then measures read + plan (against the latency bound and a sequential baseline), apply of 10%
changes (against its bound and the minimum number of write calls), the planner's CPU, start-up,
peak memory, scaling and the simulator's own throughput. Prints a table, writes JSON
(``benchmarks/results/latest.json``) and, for a full run, the table in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from benchmarks import harness
from benchmarks.results import Results, command_line, compare, machine, plain, table

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Every performance figure of reconciler in one run (make bench): read + "
        "plan, apply, planner CPU, start-up, memory, scaling, simulator throughput.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats; the sequential baseline runs at 1/10 of the size and is "
        "extrapolated (about a minute instead of two or three)",
    )
    size.add_argument(
        "--tiny",
        action="store_true",
        help="a 1/100 account at 2 ms latency, one run of everything: checks that the "
        "harness works (the figures mean nothing)",
    )
    parser.add_argument("--latency-ms", type=float, help="latency per call (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="default 16")
    parser.add_argument("--repeat", type=int, help="timed read + plan runs at full size")
    parser.add_argument(
        "--phase",
        action="append",
        choices=harness.PHASES,
        help="run only this phase (repeatable); default all",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="JSON results (default benchmarks/results/latest.json; quick.json or tiny.json "
        "with --quick or --tiny)",
    )
    parser.add_argument(
        "--compare", type=Path, metavar="FILE", help="show the change against an earlier JSON"
    )
    parser.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the table into benchmarks/README.md (default: only for a full run)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def options_for(args: argparse.Namespace) -> harness.Options:
    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    if args.tiny:
        opts = harness.Options(
            mode="tiny",
            scale=0.01,
            latency_ms=2.0,
            repeat=1,
            startup_runs=1,
            throughput_requests=200,
            sequential="sample",
            planner_repeat=1,
            fractions=(0.5, 1.0),
            rates=(20.0,),
            progress=say,
        )
    elif args.quick:
        opts = harness.Options(
            mode="quick",
            repeat=1,
            startup_runs=7,
            throughput_requests=2_000,
            sequential="sample",
            planner_repeat=3,
            progress=say,
        )
    else:
        opts = harness.Options(progress=say)
    changes: dict[str, object] = {"concurrency": args.concurrency}
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.repeat is not None:
        changes["repeat"] = args.repeat
    from dataclasses import replace

    return replace(opts, **changes)  # type: ignore[arg-type]


def write_readme(results: Results, path: Path = README) -> None:
    """Replace the results block of the README with this run's table."""
    text = path.read_text(encoding="utf-8")
    m = results.machine
    load_end = m.get("load_average_end", ["?"])
    start_load = m.get("load_average_start", [0.0])[0]
    busy = " (other work was running)" if isinstance(start_load, float) and start_load > 0.5 else ""
    block = "\n".join(
        [
            BEGIN,
            f"Measured {results.started} with `{results.command}` (`make bench`), commit "
            f"`{m.get('commit', '?')}`, on {m.get('nproc')} cores ({m.get('cpu_model')}), "
            f"Python {m.get('python')}; load average {m.get('load_average_start', ['?'])[0]} "
            f"at the start and {load_end[0]} at the end{busy}. Latency "
            f"{results.params['latency_ms']:g} ms per call, concurrency "
            f"{results.params['concurrency']}; read + plan is the median of "
            f"{results.params['repeat']} runs.",
            "",
            table(results),
            END,
        ]
    )
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = options_for(args)
    results = Results(
        mode=options.mode,
        command=command_line() if argv is None else "python -m benchmarks " + " ".join(argv),
        params={
            "scale": options.scale,
            "latency_ms": options.latency_ms,
            "concurrency": options.concurrency,
            "repeat": options.repeat,
            "startup_runs": options.startup_runs,
            "sequential": options.sequential,
        },
        machine=machine(),
    )
    # Read now: the run may overwrite the file it is compared with (latest.json).
    earlier: str | None = None
    if args.compare is not None:
        try:
            earlier = args.compare.read_text(encoding="utf-8")
        except OSError:
            earlier = None
    phases = tuple(args.phase) if args.phase else harness.PHASES
    started = time.perf_counter()
    harness.run(options, results, phases)
    results.machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results.details["total_seconds"] = round(time.perf_counter() - started, 1)

    name = "latest.json" if options.mode == "full" else f"{options.mode}.json"
    out = args.out or HERE / "results" / name
    results.write(out)
    print(plain(results))
    print(f"\nResults: {out}")
    if args.compare is not None:
        print()
        print(compare(results, args.compare, earlier))
    readme = args.readme if args.readme is not None else options.mode == "full" and not args.phase
    if readme:
        write_readme(results)
        print(f"Table: {README}")
    missed = [m.label for m in results.metrics.values() if m.ok is False]
    if missed and options.mode != "tiny":
        print("\nMissed targets: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
