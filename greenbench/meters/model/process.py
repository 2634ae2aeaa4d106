"""Process: a section of :mod:`greenbench.meters.model` (its docstring tells the whole story)."""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from greenbench.meters.base import Measurement, MeterBase
from greenbench.meters.model.coefficients import (
    _BYTES_PER_GB,
    CORE_POWER_ENV,
    FIGURES,
    IDLE_FRACTION_OF_TDP,
    IDLE_FRACTION_RANGE,
    IDLE_SOURCE,
    MATCHED_POWER_RANGE,
    MEMORY_POWER_W_PER_GB,
    MODEL_UPDATE_PERIOD_S,
    SMT_SIBLING_FACTOR,
    SMT_SIBLING_RANGE,
    SMT_SOURCE,
    _fraction,
    _positive,
)
from greenbench.meters.model.cpu import (
    CpuInfo,
    allocated_cores,
    match_tdp,
    read_cpu_info,
    resolve_core_power_w,
    unknown_cpu_power_range_w,
)


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
