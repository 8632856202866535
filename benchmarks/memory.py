"""Peak memory of read + plan, in a fresh process: ``python -m benchmarks.memory BASE_URL``.

Builds the benchmark's desired state at ``--scale``, reads the account from the simulator at
``BASE_URL`` and plans, then prints one JSON line: the peak resident set size of the process
(imports, desired state, live snapshot and plan together, as ``reconciler plan`` would hold
them), and the resident size before the read.

The peak is ``VmHWM`` of ``/proc/self/status``, not ``ru_maxrss``: Linux carries
``ru_maxrss`` across ``exec``, so a child started by a big parent reports the parent's size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys


def rss_mb() -> float:
    """The current resident set size (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """The high-water mark of this process's resident set."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    from benchmarks.account import Size, accounts, build_desired
    from reconciler.clients.aculab import AculabClient
    from reconciler.clients.aql import AqlClient
    from reconciler.live.reader import read_live
    from reconciler.plan.planner import make_plan

    desired = build_desired(Size.scaled(args.scale))
    before = rss_mb()
    aculab, aql = accounts(args.base_url)

    async def read() -> object:
        async with (
            AculabClient(aculab, concurrency=args.concurrency) as c,
            AqlClient(aql, concurrency=args.concurrency) as a,
        ):
            return await read_live(desired, c, a, concurrency=args.concurrency)

    live = asyncio.run(read())
    plan = make_plan(desired, live)  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "before_read_mb": before,
                "after_plan_mb": rss_mb(),
                "changes": len(plan.changes),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
