"""Coefficients: a section of :mod:`greenbench.meters.model` (its docstring tells the whole story)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

from greenbench.errors import ConfigError

#: Per-core power (W) when the CPU is not in the table: Green Algorithms v3.0
#: ``TDP_cpu.csv``, row "Any", ``TDP_per_core`` = 12.0 W (Lannelongue et al.
#: 2021; shipped as greenbench/data/green_algorithms_v3.0/TDP_cpu.csv).
DEFAULT_CORE_POWER_W = 12.0
CORE_POWER_SOURCE = "Green Algorithms v3.0 TDP_cpu.csv, row 'Any' (Lannelongue et al. 2021)"
TDP_TABLE = "green_algorithms_v3.0/TDP_cpu.csv"

#: Memory power (W per GB of resident memory): Green Algorithms v3.0
#: ``referenceValues.csv``, ``memoryPower`` = 0.3725 W/GB (Lannelongue et al.
#: 2021, citing Karyakin & Salem 2017, DaMoN, doi:10.1145/3076113.3076117).
MEMORY_POWER_W_PER_GB = 0.3725

#: Idle power as a fraction of full-load power, per CPU micro-architecture, from
#: Cloud Carbon Footprint's min / max watts per vCPU (derived by CCF from
#: SPECpower_ssj2008 results; Thoughtworks).  Values copied exactly from
#: cloud-carbon-footprint/cloud-carbon-footprint @ b7a049c7d25c0022919ab9010199dd9e77aa4577
#: (2024-03-25), packages/gcp/src/domain/GcpFootprintEstimationConstants.ts
#: (MIN_WATTS_BY_COMPUTE_PROCESSOR / MAX_WATTS_BY_COMPUTE_PROCESSOR; the AWS and
#: Azure constants files carry the same CPU pairs, AWS without EPYC 3rd Gen;
#: the processor names are the enum of packages/core/src/compute/ComputeProcessorTypes.ts,
#: which holds no numbers).  CCF's coefficients are **whole-server watts per vCPU**
#: at idle and at full load; taking their ratio as the idle share of one CPU's TDP
#: is greenbench's assumption, not CCF's.
CCF_MIN_MAX_W_PER_VCPU: Mapping[str, tuple[float, float]] = {
    "Intel Haswell": (1.00, 4.74),
    "Intel Broadwell": (0.71, 3.69),
    "Intel Skylake": (0.65, 4.26),
    "Intel Cascade Lake": (0.64, 3.97),
    "AMD EPYC 1st Gen (Naples)": (0.82, 2.55),
    "AMD EPYC 2nd Gen (Rome)": (0.47, 1.69),
    "AMD EPYC 3rd Gen (Milan)": (0.45, 2.02),
}
#: the CCF commit the pairs above were read at
CCF_COMMIT = "b7a049c7d25c0022919ab9010199dd9e77aa4577"
_IDLE_FRACTIONS = sorted(lo / hi for lo, hi in CCF_MIN_MAX_W_PER_VCPU.values())
#: median over the seven server micro-architectures (0.211); the band uses their min (0.153) and max (0.322)
IDLE_FRACTION_OF_TDP = statistics.median(_IDLE_FRACTIONS)
IDLE_FRACTION_RANGE = (_IDLE_FRACTIONS[0], _IDLE_FRACTIONS[-1])
IDLE_SOURCE = ("idle = median min/max power ratio of 7 server micro-architectures (range "
               f"{IDLE_FRACTION_RANGE[0]:.3f}-{IDLE_FRACTION_RANGE[1]:.3f}), Cloud Carbon Footprint's whole-server "
               f"W per vCPU from SPECpower_ssj2008 (GcpFootprintEstimationConstants.ts @ {CCF_COMMIT[:7]}); "
               "applying the ratio to one CPU's TDP is greenbench's assumption")

#: A busy SMT sibling, as a fraction of a core.  0.30 is the "up to 30%" gain of
#: Hyper-Threading stated in the abstract of Marr et al. 2002 ("Hyper-Threading
#: Technology Architecture and Microarchitecture", Intel Technology Journal 6(1)),
#: as widely quoted: an *upper-end* figure, not a measured mean.  The paper's own
#: measured gains could not be read here (no access to the full text; a referee
#: recalls 16-28%), so no page is cited and the band carries the uncertainty:
#: 0-35%, which covers 0 (no gain), the recalled 16-28% and the abstract's 30%,
#: and the 0-35% spread measured across applications by Shimpi 2008 (AnandTech
#: Nehalem review, "Thread It Like Its Hot").  Charging the sibling that fraction
#: assumes energy per unit of work is unchanged.
SMT_SIBLING_FACTOR = 0.30
SMT_SIBLING_RANGE = (0.0, 0.35)
SMT_SOURCE = ("Marr et al. 2002 (Intel Technology Journal 6(1)), abstract: SMT adds 'up to 30%' throughput (an "
              "upper-end figure; the paper's measured gains not read here); band 0-35% (Shimpi 2008)")

#: Band on the per-core power of a CPU found in the table: TDP is the sustained
#: package power limit (Intel's PL1), an upper bound over long windows (1.0);
#: the lower end (0.75) is a greenbench assumption, not a cited measurement.
MATCHED_POWER_RANGE = (0.75, 1.0)

#: Environment variable overriding the per-core power (W).
CORE_POWER_ENV = "GREENBENCH_CORE_POWER_W"

#: ``time.process_time`` resolves nanoseconds on Linux; the model's effective
#: update period is the clock's, not a sensor's.  Live children's CPU time
#: comes from /proc in clock ticks (10 ms): short windows see them coarsely.
MODEL_UPDATE_PERIOD_S = 1e-6

_BYTES_PER_GB = 1e9

#: the side figures every model Measurement carries (J), additive over windows
FIGURES = ("allocated_j", "marginal_low_j", "marginal_high_j", "allocated_low_j", "allocated_high_j")


def _positive(value: object, field: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: expected a positive number of watts, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{field}: expected a positive number of watts, got {value!r}")
    return number


def _fraction(value: float, field: str) -> float:
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number < 1.0):
        raise ConfigError(f"{field}: expected a fraction in [0, 1), got {value!r}")
    return number
