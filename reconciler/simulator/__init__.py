"""A faithful, stateful simulator of the Aculab Cloud web services and the aql relay gateway.

It serves the same paths, parameters, auth, status codes, error shapes and plain-text aql
replies that ``docs/vendor-api.md`` describes, from one Starlette app: Aculab Cloud's paths at the
root (``/tel_list_numbers``, ``/service/v1/inbound/<name>``, ...) and the aql gateway at
``/sms/sms-relay.api.php``. Use it in-process (``sim.app`` with ``httpx.ASGITransport``), over
real HTTP on 127.0.0.1 (``with sim.serve() as running``), or from the command line
(``reconciler simulator serve``). Faults (latency, errors, 429, lost purchase replies, list
lag, garbage bodies) are switched on with :class:`Faults`, each seeded so that it replays.
The alternatives the vendor pages leave open (schemas without ``default`` keywords, aql's
``*`` separator, another inbound list shape, HTML error pages, a server that normalises what
it stores) are chosen with :class:`Dialect`.

::

    from reconciler.simulator import Simulator, SimCredentials, Faults

    sim = Simulator(seed="demo", faults=Faults(latency_ms=20))
    with sim.serve() as running:
        ...  # running.base_url, running.aql_url
    sim.calls              # every request, credentials left out
    sim.state.purchase_log  # every committed purchase
"""

from reconciler.simulator.account import SEEDS, SimState
from reconciler.simulator.app import DroppedConnection, SimCall
from reconciler.simulator.dialect import Dialect
from reconciler.simulator.faults import FAULT_NAMES, Faults
from reconciler.simulator.server import RunningSimulator
from reconciler.simulator.simulator import SimAccount, SimCredentials, Simulator, fleet_credentials

__all__ = [
    "FAULT_NAMES",
    "SEEDS",
    "Dialect",
    "DroppedConnection",
    "Faults",
    "RunningSimulator",
    "SimAccount",
    "SimCall",
    "SimCredentials",
    "SimState",
    "Simulator",
    "fleet_credentials",
]
