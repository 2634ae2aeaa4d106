"""CPU-time model of this process's energy: the fallback when no counter is readable.

Green Algorithms (Lannelongue, Grealey & Inouye 2021, "Green Algorithms:
Quantifying the Carbon Footprint of Computation", Adv. Sci. 8:2100707) writes
a computation's energy as ``t × (n_c·P_c·u_c + n_m·P_m)``.  Here ``n_c·u_c·t``
is measured directly as this process's CPU time (all threads, user + system),
so over one window::

    cpu_j    = cpu_time_s × core_power_w
    memory_j = mean resident set (GB, 10⁹ bytes) × memory_power_w_per_gb × duration_s
    energy_j = cpu_j + memory_j

It charges **this process only**: other processes on a shared machine cost
it nothing (CodeCarbon's fallback, by contrast, charges the whole machine's
load, other processes included, and a flat RAM power).  Every figure is an
estimate (``estimated=True``).

Imports: stdlib and :mod:`greenbench.errors` only (psutil if present, as a fallback).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from greenbench.errors import ConfigError, MeterError
from greenbench.meters.base import Measurement, MeterBase

#: Per-core power (W) when nothing better is known: Green Algorithms v3.0
#: ``TDP_cpu.csv``, row "Any", ``TDP_per_core`` = 12.0 W (Lannelongue et al.
#: 2021; shipped as greenbench/data/green_algorithms_v3.0/TDP_cpu.csv).
DEFAULT_CORE_POWER_W = 12.0
CORE_POWER_SOURCE = "Green Algorithms v3.0 TDP_cpu.csv, row 'Any' (Lannelongue et al. 2021)"

#: Memory power (W per GB of resident memory): Green Algorithms v3.0
#: ``referenceValues.csv``, ``memoryPower`` = 0.3725 W/GB (Lannelongue et al.
#: 2021, citing Karyakin & Salem 2017, DaMoN, doi:10.1145/3076113.3076117).
MEMORY_POWER_W_PER_GB = 0.3725

#: Environment variable overriding the per-core power (W).
CORE_POWER_ENV = "GREENBENCH_CORE_POWER_W"

#: ``time.process_time`` resolves nanoseconds on Linux; the model's effective
#: update period is the clock's, not a sensor's.
MODEL_UPDATE_PERIOD_S = 1e-6

_BYTES_PER_GB = 1e9


def _positive(value: object, field: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: expected a positive number of watts, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{field}: expected a positive number of watts, got {value!r}")
    return number


def resolve_core_power_w(
    core_power_w: float | None = None, environ: Mapping[str, str] | None = None
) -> tuple[float, str]:
    """Per-core power (W) and where it came from: argument > env var > default."""
    if core_power_w is not None:
        return _positive(core_power_w, "ModelMeter.core_power_w"), "argument core_power_w"
    env = os.environ if environ is None else environ
    text = env.get(CORE_POWER_ENV, "").strip()
    if text:
        return _positive(text, f"environment variable {CORE_POWER_ENV}"), CORE_POWER_ENV
    return DEFAULT_CORE_POWER_W, CORE_POWER_SOURCE


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


class ModelMeter(MeterBase):
    """Estimated energy (J) of this process: CPU time × per-core power + memory.

    ``core_power_w``: W per fully busy core (default: env var
    ``GREENBENCH_CORE_POWER_W``, else 12.0 W from Green Algorithms);
    ``memory_power_w_per_gb``: W per GB resident (0.3725, Green Algorithms).
    ``cpu_clock``/``wall_clock`` (s) and ``rss_reader`` (bytes) can be
    injected for exact tests.  One window at a time per instance.
    """

    source = "model"
    estimated = True
    update_period_s = MODEL_UPDATE_PERIOD_S

    def __init__(
        self,
        core_power_w: float | None = None,
        memory_power_w_per_gb: float = MEMORY_POWER_W_PER_GB,
        *,
        cpu_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.perf_counter,
        rss_reader: Callable[[], int] | None = None,
        reason: str = "asked for explicitly",
    ) -> None:
        self.core_power_w, self.core_power_source = resolve_core_power_w(core_power_w)
        self.memory_power_w_per_gb = _positive(memory_power_w_per_gb, "ModelMeter.memory_power_w_per_gb")
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        if rss_reader is None:
            self._rss, self.rss_method = default_rss_reader()
        else:
            self._rss, self.rss_method = rss_reader, "injected"
        self.reason = reason
        self._open = False
        self._t0 = 0.0
        self._cpu0 = 0.0
        self._rss0_bytes = 0
        # built once: a Measurement per round must not cost a string format
        self._notes = (
            f"estimated: this process's CPU time x {self.core_power_w:g} W/core + resident memory x "
            f"{self.memory_power_w_per_gb:g} W/GB (Green Algorithms model)",
        )

    def start(self) -> None:
        if self._open:
            raise MeterError("ModelMeter.start(): a window is already open; call stop() first")
        self._open = True
        self._rss0_bytes = self._rss()
        self._t0 = self._wall_clock()
        self._cpu0 = self._cpu_clock()

    def stop(self) -> Measurement:
        cpu1 = self._cpu_clock()
        t1 = self._wall_clock()
        if not self._open:
            raise MeterError("ModelMeter.stop() called without start()")
        self._open = False
        rss1_bytes = self._rss()
        return self.estimate(
            cpu_time_s=max(cpu1 - self._cpu0, 0.0),
            duration_s=max(t1 - self._t0, 1e-9),  # a zero-length window cannot be a Measurement
            mean_rss_bytes=(self._rss0_bytes + rss1_bytes) / 2,
        )

    def estimate(self, cpu_time_s: float, duration_s: float, mean_rss_bytes: float) -> Measurement:
        """The model itself: a Measurement for given CPU time (s), wall time (s), memory (bytes)."""
        cpu_j = cpu_time_s * self.core_power_w
        memory_j = mean_rss_bytes / _BYTES_PER_GB * self.memory_power_w_per_gb * duration_s
        return Measurement(
            energy_j=cpu_j + memory_j,
            duration_s=duration_s,
            cpu_time_s=cpu_time_s,
            source="model",
            estimated=True,
            domains={"cpu": cpu_j, "memory": memory_j},
            notes=self._notes,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "estimated": True,
            "update_period_s": self.update_period_s,
            "domains": ["cpu", "memory"],
            "reason": self.reason,
            "core_power_w": self.core_power_w,
            "core_power_source": self.core_power_source,
            "memory_power_w_per_gb": self.memory_power_w_per_gb,
            "memory_reader": self.rss_method,
            "scope": "this process only (CPU time of all its threads, its resident memory)",
        }
