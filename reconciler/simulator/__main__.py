"""``python -m reconciler.simulator serve ...``: the same as ``reconciler simulator serve ...``
(handy for benchmarks and for tests that run the simulator in its own process)."""

from __future__ import annotations

import sys

from reconciler.cli import main

sys.argv = ["reconciler", "simulator", *sys.argv[1:]]
main()
