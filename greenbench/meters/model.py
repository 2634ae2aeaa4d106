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

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenbench.errors import ConfigError, DataError
from greenbench.meters.base import Measurement, MeterBase

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


# --------------------------------------------------------------------------- the CPU


@dataclass(frozen=True, slots=True)
class CpuInfo:
    """The CPU as the OS shows it: model name, physical cores, hardware threads."""

    model_name: str
    logical_cpus: int
    physical_cores: int
    source: str

    @property
    def threads_per_core(self) -> float:
        return self.logical_cpus / self.physical_cores if self.physical_cores else 1.0


def parse_cpuinfo(text: str, source: str = "/proc/cpuinfo") -> CpuInfo:
    """Model name, logical CPUs and physical cores from ``/proc/cpuinfo`` text.

    Physical cores are the distinct (``physical id``, ``core id``) pairs; a
    file without them (some ARM and VM kernels) counts one core per processor.
    """
    model = ""
    logical = 0
    cores: set[tuple[str, str]] = set()
    phys = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not key:  # blank line: end of one processor block
            if phys or core:
                cores.add((phys, core))
            phys = core = ""
            continue
        if key == "processor":
            logical += 1
        elif key in ("model name", "hardware", "cpu model") and not model:
            model = value
        elif key == "physical id":
            phys = value
        elif key == "core id":
            core = value
    logical = max(logical, 1)
    physical = len(cores) if cores else logical
    return CpuInfo(model or "unknown", logical, min(physical, logical), source)


@functools.cache
def read_cpu_info(path: str = "/proc/cpuinfo") -> CpuInfo:
    """This machine's CPU (cached); without ``/proc/cpuinfo``, ``os.cpu_count()`` cores."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_cpuinfo(f.read(), path)
    except OSError:
        n = os.cpu_count() or 1
        return CpuInfo("unknown", n, n, f"os.cpu_count() ({path} unreadable; SMT not detectable)")


_NOISE = re.compile(r"\((?:r|tm)\)|\b(?:intel|amd|cpu|processor|with radeon.*|\d+-core)\b|@.*$")


def normalise_cpu_name(name: str) -> str:
    """Lower case, without vendor, ®/™, "CPU", "Processor", "N-Core" and the "@ x GHz" tail."""
    return " ".join(_NOISE.sub(" ", name.lower()).split())


@dataclass(frozen=True, slots=True)
class TdpMatch:
    """The per-core power picked for a CPU and where it came from."""

    row: str
    tdp_w: float | None
    n_cores: int | None
    tdp_per_core_w: float
    matched: bool
    source: str


@functools.cache
def _tdp_rows() -> tuple[dict[str, str], ...]:
    from greenbench.datasets import read_csv

    return tuple(read_csv(TDP_TABLE, skip_units_row=True))


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def match_tdp(model_name: str, rows: Sequence[Mapping[str, str]] | None = None) -> TdpMatch:
    """The table row whose model appears, as whole words, in ``model_name`` (longest wins).

    "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz" finds "Xeon Gold 6148"; a
    name the table lacks (e.g. a VM's "Intel(R) Xeon(R) Processor") gets the
    row "Any" (12 W per core), flagged ``matched=False``.
    """
    try:
        table = list(_tdp_rows()) if rows is None else list(rows)
    except DataError:
        table = []
    name = normalise_cpu_name(model_name)
    best: Mapping[str, str] | None = None
    best_len = 0
    for row in table:
        key = normalise_cpu_name(row.get("model", ""))
        if not key or row.get("model", "").strip() == "Any" or _float(row.get("TDP_per_core", "")) is None:
            continue
        if re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", name) and len(key) > best_len:
            best, best_len = row, len(key)
    if best is not None:
        tdp, n = _float(best.get("TDP", "")), _float(best.get("n_cores", ""))
        per_core = float(best["TDP_per_core"])
        return TdpMatch(best["model"].strip(), tdp, int(n) if n else None, per_core, True,
                        f"Green Algorithms v3.0 TDP_cpu.csv, row '{best['model'].strip()}' "
                        f"({tdp:g} W / {int(n or 0)} cores; {best.get('source', '').strip() or 'no source given'})")
    return TdpMatch("Any", None, None, DEFAULT_CORE_POWER_W, False,
                    f"CPU '{model_name}' not in the table: {CORE_POWER_SOURCE}, fallback")


def unknown_cpu_power_range_w(rows: Sequence[Mapping[str, str]] | None = None) -> tuple[float, float]:
    """Interquartile range of the table's ``TDP_per_core`` (W): the band for an unknown CPU."""
    try:
        table = list(_tdp_rows()) if rows is None else list(rows)
    except DataError:
        table = []
    values = sorted(v for r in table if r.get("model", "").strip() != "Any"
                    and (v := _float(r.get("TDP_per_core", ""))) is not None)
    if len(values) < 4:
        return DEFAULT_CORE_POWER_W * 0.5, DEFAULT_CORE_POWER_W * 1.5
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def resolve_core_power_w(
    core_power_w: float | None = None, environ: Mapping[str, str] | None = None,
    cpu: CpuInfo | None = None,
) -> tuple[float, str]:
    """Per-core power (W) and where it came from: argument > env var > TDP table > 12 W."""
    if core_power_w is not None:
        return _positive(core_power_w, "ModelMeter.core_power_w"), "argument core_power_w"
    env = os.environ if environ is None else environ
    text = env.get(CORE_POWER_ENV, "").strip()
    if text:
        return _positive(text, f"environment variable {CORE_POWER_ENV}"), CORE_POWER_ENV
    if cpu is None:
        return DEFAULT_CORE_POWER_W, CORE_POWER_SOURCE
    m = match_tdp(cpu.model_name)
    return m.tdp_per_core_w, m.source


def allocated_cores(cpu: CpuInfo, cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max") -> tuple[float, str]:
    """Physical-core equivalents this process may use: affinity ÷ threads per core, capped by cpu.max."""
    try:
        logical = len(os.sched_getaffinity(0))
        how = f"{logical} CPUs in this process's affinity"
    except (AttributeError, OSError):
        logical, how = cpu.logical_cpus, f"{cpu.logical_cpus} CPUs ({cpu.source})"
    cores = logical / max(cpu.threads_per_core, 1.0)
    try:
        with open(cgroup_cpu_max, encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max" and float(period) > 0:
            limit = float(quota) / float(period)
            if limit < cores:
                cores, how = limit, f"cgroup cpu.max quota {quota}/{period}"
    except (OSError, ValueError):
        pass
    return max(cores, 1e-3), how


# --------------------------------------------------------------------------- the process tree


@dataclass(frozen=True, slots=True)
class ChildrenSample:
    """CPU time (s) of this process's children at one instant.

    ``reaped_s``: of children already waited for (``RUSAGE_CHILDREN``);
    ``live_s``: per live descendant pid, its own plus its reaped children's time.
    """

    reaped_s: float
    live_s: Mapping[int, float]


def children_cpu_delta_s(before: ChildrenSample, after: ChildrenSample) -> float:
    """Children's CPU time spent between two samples (s), never negative.

    A child reaped inside the window appears in ``reaped_s`` with its whole
    life; the part it had spent before the window (its ``live_s`` at the
    start) is taken back out.
    """
    reaped = after.reaped_s - before.reaped_s
    live = 0.0
    for pid, t in after.live_s.items():
        live += t - before.live_s.get(pid, 0.0)
    gone = sum(t for pid, t in before.live_s.items() if pid not in after.live_s)
    return max(reaped + live - gone, 0.0)


def _rusage_children_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class ProcChildrenReader:
    """Live descendants' CPU time from /proc, reaped children's from getrusage.

    Lists children through ``/proc/self/task/<tid>/children`` of every Python
    thread (a child is listed under the thread that forked it), kept open and
    re-read with ``pread``; then each child's ``/proc/<pid>/stat`` (utime +
    stime + cutime + cstime, in clock ticks) and its own children, recursively.
    About 2 µs when there are no children.  ``available`` is False where the
    kernel lacks the children file (CONFIG_PROC_CHILDREN): reaped children only.
    """

    def __init__(self) -> None:
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._pid = os.getpid()
        self._fds: dict[int, int] = {}
        self._tids: frozenset[int] = frozenset()
        self._count = -1
        self.available = os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children")

    def _thread_fds(self) -> list[int]:
        if os.getpid() != self._pid:  # forked: the descriptors name the parent's threads
            self._close()
            self._pid = os.getpid()
        count = threading.active_count()
        if count == self._count and self._fds:
            return list(self._fds.values())  # same number of Python threads: assume the same threads
        self._count = count
        tids = frozenset(t.native_id for t in threading.enumerate() if t.native_id is not None) | {self._pid}
        if tids != self._tids:
            for tid in list(self._fds):
                if tid not in tids:
                    os.close(self._fds.pop(tid))
            for tid in tids - set(self._fds):
                with contextlib.suppress(OSError):
                    self._fds[tid] = os.open(f"/proc/{self._pid}/task/{tid}/children", os.O_RDONLY)
            self._tids = tids
        return list(self._fds.values())

    def _stat_s(self, pid: int) -> float | None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) * self._tick_s

    def _grandchildren(self, pid: int) -> list[int]:
        try:
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def __call__(self) -> ChildrenSample:
        reaped = _rusage_children_s()
        if not self.available:
            return ChildrenSample(reaped, {})
        pending: list[int] = []
        for fd in self._thread_fds():
            try:
                pending.extend(int(p) for p in os.pread(fd, 65536, 0).split())
            except OSError:
                continue
        live: dict[int, float] = {}
        while pending:
            pid = pending.pop()
            if pid in live:
                continue
            t = self._stat_s(pid)
            if t is None:
                continue
            live[pid] = t
            pending.extend(self._grandchildren(pid))
        return ChildrenSample(reaped, live)

    def _close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        self._tids = frozenset()
        self._count = -1

    def __del__(self) -> None:
        self._close()


def no_children() -> ChildrenSample:
    """A children reader that sees none (``count_children=False``)."""
    return ChildrenSample(0.0, {})


class _StatmReader:
    """Resident set size (bytes) of this process from ``/proc/self/statm``.

    Keeps the file open and re-reads it with ``pread`` at offset 0 (procfs
    regenerates it): about 1.5 µs against 5-6 µs for open/read/close.  The
    descriptor is reopened after a fork, since it names the opening process.
    """

    def __init__(self, path: str = "/proc/self/statm") -> None:
        self._path = path
        self._page_bytes = os.sysconf("SC_PAGE_SIZE")
        self._pid = os.getpid()
        self._fd = os.open(path, os.O_RDONLY)
        self()  # fail now, not inside a benchmark

    def __call__(self) -> int:
        if os.getpid() != self._pid:
            os.close(self._fd)
            self._pid = os.getpid()
            self._fd = os.open(self._path, os.O_RDONLY)
        fields = os.pread(self._fd, 128, 0).split()
        return int(fields[1]) * self._page_bytes

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


def _psutil_reader() -> Callable[[], int]:
    import psutil

    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


def _peak_rss_reader() -> Callable[[], int]:
    # ru_maxrss is kB on Linux, bytes on macOS; it is the peak, an upper bound.
    scale = 1 if sys.platform == "darwin" else 1024
    return lambda: int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def default_rss_reader() -> tuple[Callable[[], int], str]:
    """The cheapest resident-memory reader here, and its name."""
    try:
        return _StatmReader(), "/proc/self/statm"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return _psutil_reader(), "psutil"
    except Exception:  # psutil missing or unsupported platform
        return _peak_rss_reader(), "getrusage ru_maxrss (peak, an upper bound)"


@dataclass(frozen=True, slots=True)
class _Params:
    core_power_w: float
    idle_fraction: float
    smt_factor: float


class ModelMeter(MeterBase):
    """Estimated energy (J) of this process tree: busy core-seconds × this CPU's per-core power + memory.

    ``core_power_w``: W per fully busy core (default: env var
    ``GREENBENCH_CORE_POWER_W``, else this CPU's row of the Green Algorithms
    TDP table, else 12.0 W); ``memory_power_w_per_gb``: W per GB resident
    (0.3725, Green Algorithms); ``idle_fraction``: idle share of a core's
    full-load power (0.211, CCF's SPECpower-derived server coefficients; 0 gives the old CPU-time × TDP
    model); ``smt_factor``: a busy SMT sibling as a fraction of a core.
    ``count_children``: add children's CPU time.  ``cpu_clock``/``wall_clock``
    (s), ``rss_reader`` (bytes), ``children_reader``, ``cpu`` (a
    :class:`CpuInfo`) and ``cores_allocated`` can be injected for exact
    tests.  One window at a time per instance.
    """

    source = "model"
    estimated = True
    update_period_s = MODEL_UPDATE_PERIOD_S

    def __init__(
        self,
        core_power_w: float | None = None,
        memory_power_w_per_gb: float = MEMORY_POWER_W_PER_GB,
        *,
        idle_fraction: float = IDLE_FRACTION_OF_TDP,
        smt_factor: float = SMT_SIBLING_FACTOR,
        count_children: bool = True,
        cpu_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.perf_counter,
        rss_reader: Callable[[], int] | None = None,
        children_reader: Callable[[], ChildrenSample] | None = None,
        cpu: CpuInfo | None = None,
        cores_allocated: float | None = None,
        reason: str = "asked for explicitly",
    ) -> None:
        self.cpu = read_cpu_info() if cpu is None else cpu
        self.core_power_w, self.core_power_source = resolve_core_power_w(core_power_w, cpu=self.cpu)
        self.tdp_match = match_tdp(self.cpu.model_name)
        self.memory_power_w_per_gb = _positive(memory_power_w_per_gb, "ModelMeter.memory_power_w_per_gb")
        self.idle_fraction = _fraction(idle_fraction, "ModelMeter.idle_fraction")
        self.smt_factor = _fraction(smt_factor, "ModelMeter.smt_factor")
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        if rss_reader is None:
            self._rss, self.rss_method = default_rss_reader()
        else:
            self._rss, self.rss_method = rss_reader, "injected"
        if children_reader is not None:
            self._children, self.children_method = children_reader, "injected"
        elif not count_children:
            self._children, self.children_method = no_children, "not counted (count_children=False)"
        else:
            reader = ProcChildrenReader()
            self._children = reader
            self.children_method = (
                "reaped: getrusage(RUSAGE_CHILDREN); live: /proc/<pid>/task/<tid>/children + /proc/<pid>/stat"
                if reader.available else "reaped only: getrusage(RUSAGE_CHILDREN) (no /proc children file)")
        if cores_allocated is None:
            self.cores_allocated, self.cores_allocated_source = allocated_cores(self.cpu)
        else:
            self.cores_allocated = _positive(cores_allocated, "ModelMeter.cores_allocated")
            self.cores_allocated_source = "argument cores_allocated"
        self.physical_cores_usable = self.cores_allocated
        # band ends: per-core power, idle fraction, SMT factor (the model is monotone in each)
        if self.core_power_source in ("argument core_power_w", CORE_POWER_ENV):
            power_lo, power_hi = self.core_power_w, self.core_power_w
            power_basis = f"per-core power fixed by {self.core_power_source} (no band on it)"
        elif self.tdp_match.matched and self.core_power_source == self.tdp_match.source:
            power_lo, power_hi = (self.core_power_w * k for k in MATCHED_POWER_RANGE)
            power_basis = (f"per-core power {MATCHED_POWER_RANGE[0]:g}-{MATCHED_POWER_RANGE[1]:g} x TDP "
                           "(TDP = sustained power limit; lower end a greenbench assumption)")
        else:
            power_lo, power_hi = unknown_cpu_power_range_w()
            power_basis = (f"unknown CPU: per-core power {power_lo:.3g}-{power_hi:.3g} W, the interquartile "
                           "range of TDP_per_core over the Green Algorithms v3.0 table")
        self._mid = _Params(self.core_power_w, self.idle_fraction, self.smt_factor)
        smt_used = self.cpu.threads_per_core > 1
        idle_lo, idle_hi = (IDLE_FRACTION_RANGE if self.idle_fraction == IDLE_FRACTION_OF_TDP
                            else (self.idle_fraction, self.idle_fraction))
        smt_lo, smt_hi = (SMT_SIBLING_RANGE if smt_used and self.smt_factor == SMT_SIBLING_FACTOR
                          else (self.smt_factor, self.smt_factor))
        # marginal grows with power and SMT factor, shrinks with idle fraction
        self._marginal_lo = _Params(power_lo, idle_hi, smt_lo)
        self._marginal_hi = _Params(power_hi, idle_lo, smt_hi)
        self.band_basis = (
            f"{power_basis}; idle fraction {idle_lo:.3f}-{idle_hi:.3f} (CCF server W/vCPU, applied to TDP); "
            + (f"SMT sibling factor {smt_lo:g}-{smt_hi:g} (Marr et al. 2002; Shimpi 2008)" if smt_used
               else "no SMT siblings on this CPU")
            + "; memory power fixed (no band)")
        self.reason = reason
        self._kids0 = ChildrenSample(0.0, {})
        self._rss0_bytes = 0
        # built once: a Measurement per round must not cost a string format
        self._notes = (
            f"estimated: process tree's busy core-seconds x {self.core_power_w:g} W/core x "
            f"(1 - idle {self.idle_fraction:.3f}) + resident memory x {self.memory_power_w_per_gb:g} W/GB "
            "(marginal; allocated and low/high band under figures)",
        )

    def start(self) -> None:
        self._begin_window()
        self._rss0_bytes = self._rss()
        self._kids0 = self._children()
        self._mark_open(self._wall_clock(), self._cpu_clock())

    def stop(self) -> Measurement:
        cpu1 = self._cpu_clock()
        t1 = self._wall_clock()
        self._end_window()
        kids1 = self._children()
        rss1_bytes = self._rss()
        duration_s, cpu_s = self._elapsed(t1, cpu1)
        return self.estimate(
            cpu_time_s=cpu_s + children_cpu_delta_s(self._kids0, kids1),
            duration_s=duration_s,
            mean_rss_bytes=(self._rss0_bytes + rss1_bytes) / 2,
        )

    def core_equivalent_s(self, cpu_time_s: float, duration_s: float, smt_factor: float | None = None) -> float:
        """CPU time (s) with SMT siblings charged as ``smt_factor`` of a core.

        Busy CPUs on average ``r = cpu_time_s / duration_s``; up to the usable
        physical cores count in full, the rest (siblings) at ``smt_factor``.
        """
        if self.cpu.threads_per_core <= 1 or duration_s <= 0:
            return cpu_time_s
        s = self.smt_factor if smt_factor is None else smt_factor
        full_s = min(cpu_time_s, self.physical_cores_usable * duration_s)
        return full_s + s * (cpu_time_s - full_s)

    def estimate(self, cpu_time_s: float, duration_s: float, mean_rss_bytes: float) -> Measurement:
        """The model itself: a Measurement for given tree CPU time (s), wall time (s), memory (bytes).

        With ``E`` core-equivalent seconds, ``P`` W per core, ``f`` the idle
        fraction and ``A·D`` the allocated core-seconds: marginal CPU
        ``E·P·(1−f)``, allocated ``P·(E + f·(A·D − E))``.  Both grow with ``P``
        and ``E`` (so with the SMT factor); marginal falls with ``f``, allocated
        is linear in it: the band's ends are evaluated at the ranges' ends.
        """
        memory_j = mean_rss_bytes / _BYTES_PER_GB * self.memory_power_w_per_gb * duration_s
        mid, lo, hi = self._mid, self._marginal_lo, self._marginal_hi
        e_mid = self.core_equivalent_s(cpu_time_s, duration_s, mid.smt_factor)
        if self.cpu.threads_per_core > 1:
            e_lo = self.core_equivalent_s(cpu_time_s, duration_s, lo.smt_factor)
            e_hi = self.core_equivalent_s(cpu_time_s, duration_s, hi.smt_factor)
        else:
            e_lo = e_hi = e_mid
        ad = self.cores_allocated * duration_s
        cpu_j = e_mid * mid.core_power_w * (1.0 - mid.idle_fraction)
        f1, f2 = lo.idle_fraction, hi.idle_fraction  # the idle range's two ends
        return Measurement(
            energy_j=cpu_j + memory_j,
            duration_s=duration_s,
            cpu_time_s=cpu_time_s,
            source="model",
            estimated=True,
            domains={"cpu": cpu_j, "memory": memory_j},
            notes=self._notes,
            figures={
                "allocated_j": mid.core_power_w * (e_mid + mid.idle_fraction * (ad - e_mid)) + memory_j,
                "marginal_low_j": e_lo * lo.core_power_w * (1.0 - lo.idle_fraction) + memory_j,
                "marginal_high_j": e_hi * hi.core_power_w * (1.0 - hi.idle_fraction) + memory_j,
                "allocated_low_j": lo.core_power_w * (e_lo + min(f1 * (ad - e_lo), f2 * (ad - e_lo))) + memory_j,
                "allocated_high_j": hi.core_power_w * (e_hi + max(f1 * (ad - e_hi), f2 * (ad - e_hi))) + memory_j,
            },
        )

    def describe(self) -> dict[str, Any]:
        cpu = self.cpu
        return {
            "source": self.source,
            "estimated": True,
            "update_period_s": self.update_period_s,
            "domains": ["cpu", "memory"],
            "figures": list(FIGURES),
            "reason": self.reason,
            "cpu_model": cpu.model_name,
            "cpu_info_source": cpu.source,
            "logical_cpus": cpu.logical_cpus,
            "physical_cores": cpu.physical_cores,
            "threads_per_core": cpu.threads_per_core,
            "tdp_row": self.tdp_match.row,
            "tdp_row_matched": self.tdp_match.matched,
            "core_power_w": self.core_power_w,
            "core_power_source": self.core_power_source,
            "idle_fraction": self.idle_fraction,
            "idle_source": IDLE_SOURCE,
            "cores_allocated": self.cores_allocated,
            "cores_allocated_source": self.cores_allocated_source,
            "idle_power_w": self.cores_allocated * self.core_power_w * self.idle_fraction,
            "smt_factor": self.smt_factor,
            "smt_source": SMT_SOURCE,
            "memory_power_w_per_gb": self.memory_power_w_per_gb,
            "memory_reader": self.rss_method,
            "children": self.children_method,
            "band_basis": self.band_basis,
            "scope": ("marginal (energy_j): this process and its children, dynamic CPU power of the "
                      "core-seconds they kept busy + their resident memory; allocated (figures.allocated_j): "
                      "plus the idle power of the allocated cores over the wall time, what a RAPL package "
                      "counter would also see"),
        }
