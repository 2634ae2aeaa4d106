"""Hardware-aware model of a process tree's energy: the estimate when no counter is readable.

Green Algorithms (Lannelongue, Grealey & Inouye 2021, "Green Algorithms:
Quantifying the Carbon Footprint of Computation", Adv. Sci. 8:2100707) writes
a computation's energy as ``t × (n_c·P_c·u_c + n_m·P_m)``.  Here ``n_c·u_c·t``
is measured directly, over one window, as the CPU time of this process *and
its children* (reaped ones from ``getrusage(RUSAGE_CHILDREN)``, live ones from
``/proc/<pid>/task/<tid>/children`` and ``/proc/<pid>/stat``), and ``P_c`` is
the per-core TDP of *this* CPU, looked up by its ``/proc/cpuinfo`` model name
in the shipped Green Algorithms v3.0 ``TDP_cpu.csv`` (12 W, its row "Any",
only when the CPU is not in the table -- said so in ``describe()``).

A core's power at full load is split into an idle part ``f_idle × P_c`` and a
dynamic part ``(1 − f_idle) × P_c`` (``f_idle`` from CCF's SPECpower-derived
whole-server coefficients, applied to the CPU's TDP by assumption; see
:data:`IDLE_FRACTION_OF_TDP`).  Two figures per window, with their scope:

* **marginal** (``energy_j``, the figure the energy gate compares): the
  dynamic power of the core-seconds this process tree kept busy, plus its
  resident memory -- what the machine would not have spent without it::

      cpu_j    = core_equivalent_s × P_c × (1 − f_idle)
      memory_j = mean resident set (GB) × memory_power_w_per_gb × duration_s
      energy_j = cpu_j + memory_j

  The idle share is left out of it on purpose: it is constant per *second*,
  so it would turn wall-time noise (a descheduled round, a slow neighbour)
  into energy noise and hide CPU-work changes behind it.
* **allocated** (``figures["allocated_j"]``): marginal plus the idle power of
  every core this process may run on (its CPU affinity, capped by a cgroup
  ``cpu.max`` quota) over the window's wall time -- what a RAPL package
  counter would also see on a machine of that many cores; compare RAPL
  figures with this one.

``core_equivalent_s`` charges SMT siblings as a fraction of a core: with
``k`` threads per core, CPU-seconds beyond one per physical core available
are counted at :data:`SMT_SIBLING_FACTOR` (the scheduler fills idle physical
cores first).  Without SMT it is the CPU time itself.

Every figure is an estimate (``estimated=True``) and carries a band
(``figures["marginal_low_j"]`` ... ``["allocated_high_j"]``): the model
re-evaluated at the low and high ends of its inputs (per-core power, idle
fraction, SMT factor; see :data:`BAND_BASIS`).  Side figures go in
``Measurement.figures``, summed over rounds by the recorder into
``extra_info["energy"]["figures_j"]`` per call; ``domains`` (cpu, memory)
still sum to ``energy_j``.

Imports: stdlib, :mod:`greenbench.errors` and :mod:`greenbench.datasets`
(psutil if present, as a memory-reader fallback).
"""

# split by restructure.py (issue #25): one module per section: coefficients, cpu, process

from __future__ import annotations

from greenbench.meters.model.coefficients import CCF_COMMIT as CCF_COMMIT
from greenbench.meters.model.coefficients import CCF_MIN_MAX_W_PER_VCPU as CCF_MIN_MAX_W_PER_VCPU
from greenbench.meters.model.coefficients import CORE_POWER_ENV as CORE_POWER_ENV
from greenbench.meters.model.coefficients import CORE_POWER_SOURCE as CORE_POWER_SOURCE
from greenbench.meters.model.coefficients import DEFAULT_CORE_POWER_W as DEFAULT_CORE_POWER_W
from greenbench.meters.model.coefficients import FIGURES as FIGURES
from greenbench.meters.model.coefficients import IDLE_FRACTION_OF_TDP as IDLE_FRACTION_OF_TDP
from greenbench.meters.model.coefficients import IDLE_FRACTION_RANGE as IDLE_FRACTION_RANGE
from greenbench.meters.model.coefficients import IDLE_SOURCE as IDLE_SOURCE
from greenbench.meters.model.coefficients import MATCHED_POWER_RANGE as MATCHED_POWER_RANGE
from greenbench.meters.model.coefficients import MEMORY_POWER_W_PER_GB as MEMORY_POWER_W_PER_GB
from greenbench.meters.model.coefficients import MODEL_UPDATE_PERIOD_S as MODEL_UPDATE_PERIOD_S
from greenbench.meters.model.coefficients import SMT_SIBLING_FACTOR as SMT_SIBLING_FACTOR
from greenbench.meters.model.coefficients import SMT_SIBLING_RANGE as SMT_SIBLING_RANGE
from greenbench.meters.model.coefficients import SMT_SOURCE as SMT_SOURCE
from greenbench.meters.model.coefficients import TDP_TABLE as TDP_TABLE
from greenbench.meters.model.cpu import CpuInfo as CpuInfo
from greenbench.meters.model.cpu import TdpMatch as TdpMatch
from greenbench.meters.model.cpu import allocated_cores as allocated_cores
from greenbench.meters.model.cpu import match_tdp as match_tdp
from greenbench.meters.model.cpu import normalise_cpu_name as normalise_cpu_name
from greenbench.meters.model.cpu import parse_cpuinfo as parse_cpuinfo
from greenbench.meters.model.cpu import read_cpu_info as read_cpu_info
from greenbench.meters.model.cpu import resolve_core_power_w as resolve_core_power_w
from greenbench.meters.model.cpu import unknown_cpu_power_range_w as unknown_cpu_power_range_w
from greenbench.meters.model.process import ChildrenSample as ChildrenSample
from greenbench.meters.model.process import ModelMeter as ModelMeter
from greenbench.meters.model.process import ProcChildrenReader as ProcChildrenReader
from greenbench.meters.model.process import _peak_rss_reader as _peak_rss_reader
from greenbench.meters.model.process import _psutil_reader as _psutil_reader
from greenbench.meters.model.process import _StatmReader as _StatmReader
from greenbench.meters.model.process import children_cpu_delta_s as children_cpu_delta_s
from greenbench.meters.model.process import default_rss_reader as default_rss_reader
from greenbench.meters.model.process import no_children as no_children
