"""CPU package and DRAM energy from Linux powercap (Intel RAPL, also AMD).

The kernel lays RAPL out under ``/sys/class/powercap`` as flat symlinks
(``intel-rapl:0``, ``intel-rapl:0:2``...) into a nested tree under
``/sys/devices/virtual/powercap/intel-rapl/``.  Each zone directory holds
``name`` (``package-0``, ``dram``, ``core``, ``uncore``, ``psys``),
``energy_uj`` (a wrapping counter, µJ) and ``max_energy_range_uj`` (where it
wraps).  What is summed:

* every ``package-N`` zone once (two zones with the same name -- a
  multi-die or MMIO duplicate of the same counter -- count once);
* every ``dram`` sub-zone of a counted package;
* never ``core``/``uncore``: they are parts of their package, already in it;
* ``psys`` (the whole SoC/platform) only when there is no package zone,
  never on top of packages, which it contains.

Counters stay in µJ (``counter_uj``) and become joules in :func:`uj_to_j`
only.  A background poller folds in wraparounds for windows longer than one
wrap; start()/stop() only read the counters.

Imports: stdlib and :mod:`greenbench.errors` only.
"""

# split by restructure.py (issue #25): one module per section: zones, meter

from __future__ import annotations

from greenbench.meters.rapl.meter import RaplMeter as RaplMeter
from greenbench.meters.rapl.meter import _open_ro as _open_ro
from greenbench.meters.rapl.zones import BOUND_SLACK_S as BOUND_SLACK_S
from greenbench.meters.rapl.zones import CONSTRAINT_BOUND_FACTOR as CONSTRAINT_BOUND_FACTOR
from greenbench.meters.rapl.zones import DEFAULT_POWERCAP_ROOT as DEFAULT_POWERCAP_ROOT
from greenbench.meters.rapl.zones import ENABLE_HINT as ENABLE_HINT
from greenbench.meters.rapl.zones import MAX_ZONE_POWER_W as MAX_ZONE_POWER_W
from greenbench.meters.rapl.zones import POLL_MAX_INTERVAL_S as POLL_MAX_INTERVAL_S
from greenbench.meters.rapl.zones import POLL_MIN_INTERVAL_S as POLL_MIN_INTERVAL_S
from greenbench.meters.rapl.zones import POLL_SAFETY_FACTOR as POLL_SAFETY_FACTOR
from greenbench.meters.rapl.zones import RAPL_RESOLUTION_J as RAPL_RESOLUTION_J
from greenbench.meters.rapl.zones import RAPL_UPDATE_PERIOD_S as RAPL_UPDATE_PERIOD_S
from greenbench.meters.rapl.zones import STUCK_CPU_S as STUCK_CPU_S
from greenbench.meters.rapl.zones import Opener as Opener
from greenbench.meters.rapl.zones import RaplLayout as RaplLayout
from greenbench.meters.rapl.zones import RaplZone as RaplZone
from greenbench.meters.rapl.zones import counter_delta_uj as counter_delta_uj
from greenbench.meters.rapl.zones import discover as discover
from greenbench.meters.rapl.zones import uj_to_j as uj_to_j
